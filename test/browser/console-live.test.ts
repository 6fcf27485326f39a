/**
 * The console follows a project live: an alarm raised over the API appears without a reload, a
 * filter given in the URL is the view shown, alarm texts are text, and a server restart under
 * the open page loses no change made while it was down.
 */
import { expect } from 'chai';
import { createAlarmCenter, startServer, type RunningServer } from '../../src/root.js';
import { removeDir, tempDir } from '../helpers/integration.js';
import { expectNoProblems, raise, rowOf, useBrowser } from './harness.js';

describe('console in the browser: live', function () {
  this.timeout(60_000);
  const browser = useBrowser();
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  it('shows an alarm raised over the API within a second, without a reload', async () => {
    await raise(server.url, { id: 'DiskAlmostFull', source: 'db-1', severity: 'minor', fields: { detail: '/var at 91%' } });
    const p = await browser.open(server.url);
    await rowOf(p.page, 'DiskAlmostFull', 'db-1').waitFor();
    await p.page.getByText('Live', { exact: true }).waitFor();
    let navigations = 0;
    p.page.on('framenavigated', () => (navigations += 1));

    const started = Date.now();
    await raise(server.url, { id: 'BackendConnectionRefuse', source: 'registry-7f9c', severity: 'major', fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' } });
    await rowOf(p.page, 'BackendConnectionRefuse', 'registry-7f9c').waitFor({ timeout: 1000 });
    const took = Date.now() - started;
    console.log(`      raise → row on screen: ${took} ms`);

    expect(navigations, 'the page did not reload').to.equal(0);
    await p.page.waitForFunction(() => document.title === '(2) default · Alarm Center');
    expect(await p.page.locator('link[rel="icon"]').getAttribute('href')).to.match(/^data:image\/svg\+xml,/);
    await raise(server.url, { id: 'DiskAlmostFull', source: 'db-1', status: 'CLEARED' });
    await rowOf(p.page, 'DiskAlmostFull', 'db-1').waitFor({ state: 'detached', timeout: 1000 });
    await p.page.waitForFunction(() => document.title.startsWith('(1) '));
    // The cluster verdict follows the alarms, with its reason.
    await p.page.locator('.verdict.unhealthy').waitFor();
    expect(await p.page.locator('.why').textContent()).to.contain('connection refused');
    expectNoProblems(p);
  });

  it('shows the view a URL names: filters, order and grouping', async () => {
    await raise(server.url, [
      { id: 'A', source: 'web-1', severity: 'critical', fields: { detail: 'a1' } },
      { id: 'A', source: 'web-2', severity: 'warning', fields: { detail: 'a2' } },
      { id: 'B', source: 'web-1', severity: 'major', fields: { detail: 'b1' } },
      { id: 'C', source: 'db-1', severity: 'minor', fields: { detail: 'c1' } },
    ]);
    await server.center.ack({ domain: 'default', project: 'default' }, 'B', { by: 'alice', source: 'web-1' });
    const p = await browser.open(`${server.url}/?minSeverity=major&source=web&acknowledged=false`);
    await rowOf(p.page, 'A', 'web-1').waitFor();
    const ids = await p.page.locator('tr.row td.c-id').allTextContents();
    expect(ids, 'critical A of web-1 only: B is acknowledged, A of web-2 is a warning, C is of db-1').to.deep.equal(['A']);
    expect(await p.page.getByLabel('At least').inputValue()).to.equal('major');
    expect(await p.page.getByLabel('Source', { exact: true }).inputValue()).to.equal('web');

    // Changing a filter in the page writes it to the URL, so the link shows the same view.
    await p.page.getByLabel('Acknowledged', { exact: true }).selectOption('true');
    await p.page.waitForURL(/acknowledged=true/);
    expect(await p.page.locator('tr.row td.c-id').allTextContents()).to.deep.equal(['B']);

    const grouped = await browser.open(`${server.url}/?group=id&sort=id&order=asc`);
    // Every group's row, not just a button named like one (other buttons' names hold an A too).
    await grouped.page.locator('tr.group').nth(2).waitFor();
    expect(await grouped.page.locator('tr.group td.c-source').allTextContents()).to.deep.equal(['2 sources', '1 source', '1 source']);
    await grouped.page.locator('tr.group button').first().click();
    await grouped.page.locator('tr.row.nested').nth(1).waitFor();
    expect(await grouped.page.locator('tr.row.nested td.c-source').allTextContents()).to.deep.equal(['web-1', 'web-2']);
    expectNoProblems(p);
    expectNoProblems(grouped);
  });

  it('shows alarm texts as text: markup in a detail or source runs nothing', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1">';
    const source = '<script>window.__pwned=2</script>';
    await raise(server.url, { id: 'Hostile', source, severity: 'critical', fields: { detail: hostile, labels: { job: '<b onmouseover=alert(1)>x</b>' } } });
    const p = await browser.open(server.url);
    const row = rowOf(p.page, 'Hostile');
    await row.waitFor();
    expect(await row.locator('td.c-detail').textContent()).to.equal(hostile);
    expect(await row.locator('td.c-source').textContent()).to.equal(source);
    await row.getByRole('button', { name: 'Hostile' }).click();
    await p.page.locator('.details .detail').waitFor();
    expect(await p.page.locator('.details .detail').textContent()).to.equal(hostile);
    await row.hover();
    expect(await p.page.locator('img[src="x"], main script, aside script, b[onmouseover]').count(), 'no element made of alarm text').to.equal(0);
    expect(await p.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).to.equal(undefined);
    expectNoProblems(p);
  });

  describe('over a restart of the server', () => {
    let dir: string;

    beforeEach(() => {
      dir = tempDir('console-restart');
    });

    afterEach(() => removeDir(dir));

    it('reconnects and misses no change made while the server was down', async () => {
      await server.close();
      server = await startServer({ port: 0, dataDir: dir });
      const port = server.port;
      await raise(server.url, { id: 'Before', source: 's', fields: { detail: 'before the restart' } });
      const p = await browser.open(server.url);
      await rowOf(p.page, 'Before', 's').waitFor();
      await p.page.getByText('Live', { exact: true }).waitFor();

      await server.close();
      await p.page.locator('.connection.retrying').waitFor();
      // Changes made while no server answers the page: straight into the data folder.
      const center = await createAlarmCenter({ dataDir: dir });
      await center.raise({ domain: 'default', project: 'default' }, { id: 'WhileDown', source: 's', severity: 'critical', fields: { detail: 'raised while down' } });
      await center.clear({ domain: 'default', project: 'default' }, 'Before', 's');
      await center.close();
      server = await startServer({ port, dataDir: dir });

      await rowOf(p.page, 'WhileDown', 's').waitFor({ timeout: 15_000 });
      await rowOf(p.page, 'Before', 's').waitFor({ state: 'detached' });
      await p.page.getByText('Live', { exact: true }).waitFor();
      await raise(server.url, { id: 'After', source: 's' });
      await rowOf(p.page, 'After', 's').waitFor({ timeout: 1000 });
      await p.page.waitForFunction(() => document.title === '(2) default · Alarm Center');
      expectNoProblems(p);
    });
  });
});
