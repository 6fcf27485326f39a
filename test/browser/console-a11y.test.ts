/**
 * The console's accessibility, scanned by axe-core in the page (WCAG 2 A and AA rules, contrast
 * included) in the light and the dark theme, with the details panel open and on the token form,
 * and keyboard use: every action is reached with Tab and taken with Enter or Space. The tests
 * save the screenshots the README shows (console-*.png: into .screenshots/, or docs/ with
 * UPDATE_SCREENSHOTS=1).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { hashToken } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectNoProblems, listed, raise, rowOf, screenshot, useBrowser } from './harness.js';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's WCAG 2 A/AA violations of the page as it is (injected as a page script; the page's CSP does not bind the test's own scripts). */
async function scan(page: Page): Promise<Violation[]> {
  await page.evaluate(AXE_SOURCE);
  const { passes, violations } = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: Violation[]; passes: unknown[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return {
      passes: result.passes.length,
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })),
    };
  });
  expect(passes, 'rules axe-core checked and passed').to.be.above(10);
  return violations;
}

/** Fails on serious or critical findings, listing every finding. */
function expectAccessible(violations: Violation[], where: string): void {
  const all = violations.map((v) => `${v.impact}: ${v.id} (${v.help}) at ${v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3).join(', ')}`);
  if (all.length > 0) console.log(`      axe, ${where}:\n        ${all.join('\n        ')}`);
  const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(grave.map((v) => `${v.id}: ${v.help}`), `serious or critical findings, ${where}`).to.deep.equal([]);
}

/** A plausible on-call morning: alarms of every severity, one acknowledged, one from Prometheus. */
async function seed(server: RunningServer): Promise<void> {
  await raise(server.url, [
    { id: 'BackendConnectionRefuse', source: 'registry-7f9c', severity: 'major', fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' } },
    { id: 'BackendConnectionRefuse', source: 'registry-2b1d', severity: 'major', fields: { detail: 'dial tcp 10.0.0.6:2379: connection refused' } },
    { id: 'DiskAlmostFull', source: 'db-1', severity: 'critical', fields: { detail: '/var at 97%' } },
    { id: 'CertificateExpiresSoon', source: 'api-gateway', severity: 'warning', fields: { detail: 'expires in 9 days' } },
    { id: 'QueueBacklog', source: 'billing-worker', severity: 'minor', fields: { detail: '12,408 messages waiting' } },
    { id: 'NightlyBackupLate', source: 'backup-job', severity: 'indeterminate', fields: { detail: 'no run since 02:00' } },
  ]);
  await server.center.ack({ domain: 'default', project: 'default' }, 'QueueBacklog', { by: 'alice', source: 'billing-worker', comment: 'scaling workers' });
  const alert = {
    labels: { alertname: 'HighErrorRate', job: 'checkout', instance: 'checkout-3:8080', severity: 'critical' },
    annotations: { summary: '5xx ratio 12% over 5 minutes', runbook: 'https://runbooks.example/high-error-rate' },
    generatorURL: 'http://prometheus.example/graph?g0.expr=rate',
  };
  const res = await request(server.url).post('/api/v2/alerts').send([alert]);
  expect(res.status, res.text).to.equal(200);
}

describe('console in the browser: accessibility', function () {
  this.timeout(60_000);
  const browser = useBrowser();
  let server: RunningServer;

  afterEach(() => server.close());

  describe('without tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:' });
      await seed(server);
    });

    for (const colorScheme of ['light', 'dark'] as const) {
      it(`passes axe-core in the ${colorScheme} theme, list and details, and saves their screenshots`, async () => {
        const p = await browser.open(server.url, { colorScheme });
        await rowOf(p.page, 'HighErrorRate').waitFor();
        await p.page.getByText('Live', { exact: true }).waitFor();
        await p.page.locator('.verdict').waitFor();
        expectAccessible(await scan(p.page), `${colorScheme}, list`);
        await screenshot(p.page, `console-${colorScheme}.png`);

        await rowOf(p.page, 'HighErrorRate').getByRole('button').click();
        await p.page.locator('.details .timeline li').first().waitFor();
        expect(await p.page.locator('.details dt', { hasText: 'instance' }).count(), 'labels shown').to.equal(1);
        expect(await p.page.locator('.details dt', { hasText: 'runbook' }).count(), 'annotations shown').to.equal(1);
        expectAccessible(await scan(p.page), `${colorScheme}, details`);
        if (colorScheme === 'light') await screenshot(p.page, 'console-details.png');
        expectNoProblems(p);
      });
    }

    it('shows a clear empty state', async () => {
      await server.center.clearAll({ domain: 'default', project: 'default' });
      const p = await browser.open(server.url);
      await p.page.getByText('No active alarms', { exact: true }).waitFor();
      expect(await p.page.title()).to.equal('(0) default · Alarm Center');
      expectAccessible(await scan(p.page), 'empty');
      expectNoProblems(p);
    });

    it('takes every action from the keyboard', async () => {
      const p = await browser.open(server.url);
      const { page } = p;
      await rowOf(page, 'DiskAlmostFull').waitFor();
      // Tab to the alarm's button, open its details with Enter.
      const target = page.getByRole('button', { name: 'DiskAlmostFull', exact: true });
      for (let i = 0; i < 60 && !(await target.evaluate((el) => el === document.activeElement)); i += 1) await page.keyboard.press('Tab');
      expect(await target.evaluate((el) => el === document.activeElement), 'the alarm is reached with Tab').to.equal(true);
      await page.keyboard.press('Enter');
      await page.locator('.details h2', { hasText: 'DiskAlmostFull' }).waitFor();
      // The panel takes the focus; the form comes next.
      const by = page.getByLabel('Acknowledged by');
      for (let i = 0; i < 10 && !(await by.evaluate((el) => el === document.activeElement)); i += 1) await page.keyboard.press('Tab');
      await page.keyboard.type('carol');
      await page.keyboard.press('Enter');
      await rowOf(page, 'DiskAlmostFull').locator('.state.acked', { hasText: 'acknowledged by carol' }).waitFor();
      expect((await listed(server.url)).find((a) => a.id === 'DiskAlmostFull')).to.include({ acknowledged: true, ackedBy: 'carol' });
      await page.keyboard.press('Escape');
      await page.locator('.details').waitFor({ state: 'detached' });
      expectNoProblems(p);
    });
  });

  describe('with tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:', tokens: [{ name: 'viewer', role: 'read', sha256: hashToken('a11y-read') }] });
    });

    it('passes axe-core on the token form', async () => {
      const p = await browser.open(server.url);
      await p.page.getByLabel('Token').waitFor();
      expectAccessible(await scan(p.page), 'token form');
      expectNoProblems(p);
    });
  });
});
