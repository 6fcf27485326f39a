/**
 * Heartbeats over HTTP, on fake timers (Date and timeouts; sockets and the store run on real I/O):
 * a lapse raises HeartbeatMissing once, a beat clears it, a removal clears it, and a restart judges
 * each heartbeat from its stored beat with a grace of one timeout from start-up.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, removeDir, tempDir, waitFor } from '../helpers/integration.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const HEARTBEATS = '/v4/p/admin/heartbeats';
const ALARMS = '/v4/p/admin/alarms';

interface AlarmJson {
  id: string;
  source: string;
  status: 'ACTIVATED' | 'CLEARED';
  count: number;
  severity: string;
  fields: Record<string, unknown>;
}

interface HeartbeatJson {
  name: string;
  timeoutSeconds: number;
  severity: string;
  fields: Record<string, unknown>;
  lastBeat: string;
  deadline: string;
  state: 'ok' | 'late' | 'missing';
}

describe('heartbeats', () => {
  let clock: FakeTimers.Clock;
  let server: RunningServer;
  let dir: string | undefined;

  beforeEach(() => {
    clock = FakeTimers.install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });

  afterEach(async () => {
    clock.uninstall();
    await server?.close();
    if (dir) removeDir(dir);
    dir = undefined;
  });

  const api = () => request(server.url);
  const put = (name: string, body?: object) => (body === undefined ? api().put(`${HEARTBEATS}/${name}`) : api().put(`${HEARTBEATS}/${name}`).send(body));
  const missing = async (name: string): Promise<AlarmJson | undefined> => {
    const res = await api().get(`${ALARMS}?id=HeartbeatMissing&source=${name}`).expect(200);
    return (res.body as { alarms: AlarmJson[] }).alarms[0];
  };
  const raisedCount = async (name: string): Promise<number> => {
    const res = await api().get(`${ALARMS}/history?id=HeartbeatMissing&source=${name}`).expect(200);
    return (res.body as { history: { action: string }[] }).history.filter((e) => e.action === 'RAISE' || e.action === 'RERAISE').length;
  };
  const listed = async (): Promise<HeartbeatJson[]> => ((await api().get(HEARTBEATS).expect(200)).body as { heartbeats: HeartbeatJson[] }).heartbeats;

  describe('in one process', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:' });
    });

    it('registers a heartbeat and lists it with its last beat, deadline and state', async () => {
      const res = await put('nightly-backup', { timeoutSeconds: 60, severity: 'critical', fields: { runbook: 'https://wiki/backup' } }).expect(200);

      const expected = {
        name: 'nightly-backup',
        timeoutSeconds: 60,
        severity: 'critical',
        fields: { runbook: 'https://wiki/backup' },
        lastBeat: new Date(T0).toISOString(),
        deadline: new Date(T0 + 60_000).toISOString(),
        state: 'ok',
      };
      expect(res.body.heartbeat).to.deep.include(expected);
      expect(await listed()).to.have.length(1);
      expect((await listed())[0]).to.deep.include(expected);
    });

    it('raises HeartbeatMissing once when no beat arrives within the timeout, naming the last beat', async () => {
      await put('backup', { timeoutSeconds: 60, fields: { job: 'pg_dump' } }).expect(200);

      await clock.tickAsync(59_999);
      expect(await missing('backup')).to.equal(undefined);
      await clock.tickAsync(1000);

      const alarm = await waitFor('HeartbeatMissing to be raised', () => missing('backup'));
      expect(alarm).to.deep.include({ status: 'ACTIVATED', count: 1, severity: 'major' });
      expect(alarm.fields).to.deep.equal({ job: 'pg_dump', detail: `no beat since ${new Date(T0).toISOString()} (timeout 60 s)` });
      expect((await listed())[0]?.state).to.equal('missing');
      await clock.tickAsync(10 * 60_000);
      expect(await raisedCount('backup')).to.equal(1);
      expect(await missing('backup')).to.deep.include({ status: 'ACTIVATED', count: 1 });
    });

    it('clears the alarm at the next beat, which an empty body gives with the last settings', async () => {
      await put('backup', { timeoutSeconds: 30, severity: 'minor' }).expect(200);
      await clock.tickAsync(31_000);
      await waitFor('HeartbeatMissing to be raised', () => missing('backup'));

      const beat = await put('backup').expect(200);

      expect(beat.body.heartbeat).to.deep.include({ timeoutSeconds: 30, severity: 'minor', state: 'ok', lastBeat: new Date(Date.now()).toISOString() });
      expect(await missing('backup')).to.deep.include({ status: 'CLEARED' });
      // A lapse after the beat is raised again, once.
      await clock.tickAsync(31_000);
      expect(await waitFor('the second lapse', async () => (await missing('backup'))?.status === 'ACTIVATED')).to.equal(true);
      expect(await raisedCount('backup')).to.equal(2);
    });

    it('removes a heartbeat and clears its alarm; a removed heartbeat raises nothing more', async () => {
      await put('backup', { timeoutSeconds: 10 }).expect(200);
      await clock.tickAsync(11_000);
      await waitFor('HeartbeatMissing to be raised', () => missing('backup'));

      const res = await api().delete(`${HEARTBEATS}/backup`).expect(200);

      expect(res.body.heartbeat).to.include({ name: 'backup' });
      expect(await missing('backup')).to.deep.include({ status: 'CLEARED' });
      expect(await listed()).to.deep.equal([]);
      await clock.tickAsync(60_000);
      expect(await raisedCount('backup')).to.equal(1);
      expectError(await api().delete(`${HEARTBEATS}/backup`), '404002', /backup/);
    });

    it('refuses a bad beat naming the field, storing nothing', async () => {
      expectError(await put('new-job', {}), '400001', /^body\.timeoutSeconds: .*new-job/);
      expectError(await put('new-job', { timeoutSeconds: 0 }), '400001', /^body\.timeoutSeconds: /);
      expectError(await put('new-job', { timeoutSeconds: 60, severity: 'loud' }), '400001', /^body\.severity: /);
      expectError(await put('new-job', { timeoutSeconds: 60, every: 1 }), '400001', /^body: unrecognized key "every"/);
      expectError(await put('bad%20name', { timeoutSeconds: 60 }), '400001', /^name: /);
      expect(await listed()).to.deep.equal([]);
    });

    it('keeps heartbeats of other projects apart', async () => {
      await put('backup', { timeoutSeconds: 10 }).expect(200);
      await api().put('/v4/other/admin/heartbeats/backup').send({ timeoutSeconds: 100 }).expect(200);

      await clock.tickAsync(11_000);

      await waitFor('p to raise', () => missing('backup'));
      const other = await api().get('/v4/other/admin/alarms?id=HeartbeatMissing').expect(200);
      expect(other.body.alarms).to.deep.equal([]);
      expect(((await api().get('/v4/other/admin/heartbeats').expect(200)).body as { heartbeats: HeartbeatJson[] }).heartbeats.map((h) => h.timeoutSeconds)).to.deep.equal([100]);
    });
  });

  describe('over a restart', () => {
    beforeEach(async () => {
      dir = tempDir('heartbeats');
      server = await startServer({ port: 0, dataDir: dir });
    });

    async function restart(downMs: number): Promise<void> {
      await server.close();
      clock.tick(downMs);
      server = await startServer({ port: 0, dataDir: dir });
    }

    it('gives a heartbeat whose deadline passed while stopped one timeout from start-up, then raises it', async () => {
      await put('backup', { timeoutSeconds: 60 }).expect(200);
      await restart(5 * 60_000);

      expect((await listed())[0]).to.deep.include({ state: 'late', lastBeat: new Date(T0).toISOString() });
      await clock.tickAsync(59_000);
      expect(await missing('backup')).to.equal(undefined);
      await clock.tickAsync(2000);

      const alarm = await waitFor('HeartbeatMissing after the grace', () => missing('backup'));
      expect(alarm.fields.detail).to.equal(`no beat since ${new Date(T0).toISOString()} (timeout 60 s)`);
    });

    it('raises nothing when the heartbeat beats within the grace', async () => {
      await put('backup', { timeoutSeconds: 60 }).expect(200);
      await restart(5 * 60_000);

      await clock.tickAsync(30_000);
      await put('backup').expect(200);
      await clock.tickAsync(59_000);

      expect(await missing('backup')).to.equal(undefined);
      expect((await listed())[0]?.state).to.equal('ok');
    });

    it('judges a heartbeat whose deadline is still ahead from its stored beat, without a grace', async () => {
      await put('backup', { timeoutSeconds: 60 }).expect(200);
      await restart(20_000);

      await clock.tickAsync(39_000);
      expect(await missing('backup')).to.equal(undefined);
      // The stored deadline (T0 + 60 s) passes here, well before one timeout from start-up.
      await clock.tickAsync(2000);

      await waitFor('HeartbeatMissing at the stored deadline', () => missing('backup'));
      expect(Date.now() - T0).to.be.below(20_000 + 60_000);
    });

    it('raises a lapse raised before the restart no second time', async () => {
      await put('backup', { timeoutSeconds: 10 }).expect(200);
      await clock.tickAsync(11_000);
      await waitFor('HeartbeatMissing to be raised', () => missing('backup'));

      await restart(60_000);
      await clock.tickAsync(60_000);

      expect(await raisedCount('backup')).to.equal(1);
      expect((await listed())[0]?.state).to.equal('missing');
    });
  });
});
