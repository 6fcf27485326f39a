/**
 * What an operator does in the console, checked over the API: acknowledge with a name, comment
 * and expiry, unacknowledge, clear one, clear a selection; and with tokens, the token asked for,
 * kept for the tab only, forgotten on request, and a read-only token offered no action.
 */
import { expect } from 'chai';
import { hashToken } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectNoProblems, listed, raise, rowOf, useBrowser } from './harness.js';

const TOKENS = { read: 'console-read-1', write: 'console-write-2' };
const SPECS = [
  { name: 'viewer', role: 'read' as const, sha256: hashToken(TOKENS.read) },
  { name: 'oncall', role: 'write' as const, sha256: hashToken(TOKENS.write) },
];
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('console in the browser: actions', function () {
  this.timeout(60_000);
  const browser = useBrowser();
  let server: RunningServer;

  afterEach(() => server.close());

  describe('without tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:' });
    });

    it('acknowledges with the name, comment and expiry given, then withdraws it', async () => {
      await raise(server.url, { id: 'BackendConnectionRefuse', source: 'registry-7f9c', severity: 'major', fields: { detail: 'refused' } });
      const p = await browser.open(server.url);
      await p.page.getByRole('button', { name: 'BackendConnectionRefuse' }).click();
      await p.page.getByLabel('Acknowledged by').fill('alice');
      await p.page.getByLabel('Comment').fill('restarting etcd-2');
      await p.page.getByLabel('Ends by itself after').selectOption({ label: '1 hour' });
      await p.page.getByRole('button', { name: 'Acknowledge', exact: true }).click();

      await p.page.getByRole('status').filter({ hasText: 'Acknowledge BackendConnectionRefuse as alice: done' }).waitFor();
      await rowOf(p.page, 'BackendConnectionRefuse').locator('.state.acked', { hasText: 'acknowledged by alice' }).waitFor();
      const [alarm] = await listed(server.url);
      expect(alarm).to.include({ id: 'BackendConnectionRefuse', acknowledged: true, ackedBy: 'alice', ackComment: 'restarting etcd-2' });
      expect(Date.parse(alarm?.ackExpiresAt ?? '') - Date.now()).to.be.within(3_500_000, 3_600_000);
      await p.page.locator('.timeline li', { hasText: 'ACK' }).first().waitFor();

      await p.page.getByRole('button', { name: 'Unacknowledge' }).click();
      await rowOf(p.page, 'BackendConnectionRefuse').locator('.state.active').waitFor();
      expect((await listed(server.url))[0]).to.include({ acknowledged: false });
      expectNoProblems(p);
    });

    it('clears one alarm, and a selection in bulk', async () => {
      await raise(server.url, [
        { id: 'A', source: 's1', severity: 'critical' },
        { id: 'B', source: 's1', severity: 'major' },
        { id: 'B', source: 's2', severity: 'minor' },
        { id: 'C', source: 's3', severity: 'warning' },
      ]);
      const p = await browser.open(server.url);
      await rowOf(p.page, 'A', 's1').getByRole('button', { name: 'A' }).click();
      await p.page.locator('.details').getByRole('button', { name: 'Clear', exact: true }).click();
      await rowOf(p.page, 'A', 's1').waitFor({ state: 'detached' });
      expect((await listed(server.url)).find((a) => a.id === 'A')).to.include({ status: 'CLEARED' });

      await p.page.getByLabel('Select B s1').check();
      await p.page.getByLabel('Select B s2').check();
      await p.page.getByRole('button', { name: 'Clear 2 selected alarms…' }).click();
      await p.page.getByRole('button', { name: 'Yes, clear' }).click();
      await p.page.getByRole('status').filter({ hasText: 'Clear 2 selected alarms: done' }).waitFor();
      await rowOf(p.page, 'B').first().waitFor({ state: 'detached' });
      const after = await listed(server.url);
      expect(after.filter((a) => a.status === 'ACTIVATED').map((a) => a.id)).to.deep.equal(['C']);
      await p.page.waitForFunction(() => document.title.startsWith('(1) '));
      expectNoProblems(p);
    });

    it('shows the error an action is answered with, and changes nothing', async () => {
      await raise(server.url, { id: 'A', source: 's' });
      const p = await browser.open(server.url);
      await p.page.getByRole('button', { name: 'A', exact: true }).click();
      // The store fails as the clear is sent: the API's error answer, as Alarm Center gives it.
      await p.page.route('**/v4/default/admin/alarms/A?source=s', (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({ errorCode: '503001', errorMessage: 'Service unavailable', detail: 'the store is unavailable: disk I/O error' }),
        }),
      );
      await p.page.locator('.details').getByRole('button', { name: 'Clear', exact: true }).click();
      const alert = p.page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).to.equal('Clear A: Service unavailable: the store is unavailable: disk I/O error');
      await rowOf(p.page, 'A', 's').locator('.state.active').waitFor();
      expect((await listed(server.url))[0]).to.include({ status: 'ACTIVATED' });
    });
  });

  describe('with tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS });
    });

    it('asks for a token, keeps it for the tab only and forgets it on request', async () => {
      await raise(server.url, { id: 'A', source: 's' }, bearer(TOKENS.write));
      const p = await browser.open(server.url);
      await p.page.getByLabel('Token').fill('not-a-token');
      await p.page.getByRole('button', { name: 'Use this token' }).click();
      await p.page.getByRole('alert').filter({ hasText: 'unknown token' }).waitFor();
      await p.page.getByLabel('Token').fill(TOKENS.write);
      await p.page.getByRole('button', { name: 'Use this token' }).click();
      await rowOf(p.page, 'A', 's').waitFor();
      await p.page.getByText('Token oncall (write)').waitFor();

      expect(p.page.url(), 'never in the URL').not.to.contain(TOKENS.write);
      expect(await p.context.cookies(), 'never in a cookie').to.deep.equal([]);
      expect(await p.page.evaluate(() => ({ ...localStorage })), 'never in local storage').to.deep.equal({});
      expect(await p.page.evaluate(() => sessionStorage.getItem('alarm-center.token'))).to.equal(TOKENS.write);

      await p.page.reload();
      await rowOf(p.page, 'A', 's').waitFor();
      await p.page.getByRole('button', { name: 'Forget token' }).click();
      await p.page.getByLabel('Token').waitFor();
      expect(await p.page.evaluate(() => sessionStorage.getItem('alarm-center.token'))).to.equal(null);
      expectNoProblems(p);
    });

    it('offers a read-only token no action', async () => {
      await raise(server.url, { id: 'A', source: 's', fields: { detail: 'look only' } }, bearer(TOKENS.write));
      const p = await browser.open(server.url, { storage: { 'alarm-center.token': TOKENS.read } });
      await rowOf(p.page, 'A', 's').waitFor();
      await p.page.getByText('Token viewer (read)').waitFor();
      expect(await p.page.getByRole('checkbox', { name: /^Select/ }).count(), 'no selection to clear').to.equal(0);
      await p.page.getByRole('button', { name: 'A', exact: true }).click();
      await p.page.locator('.details .timeline li').first().waitFor();
      for (const name of ['Acknowledge', 'Unacknowledge', 'Clear']) {
        expect(await p.page.getByRole('button', { name, exact: true }).count(), name).to.equal(0);
      }
      expect(await p.page.locator('.details form').count()).to.equal(0);
      expectNoProblems(p);
    });
  });
});
