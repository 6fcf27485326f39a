import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError } from '../helpers/integration.js';
import { WsClient } from '../helpers/watch.js';

const ALARMS = '/v4/p/admin/alarms';
const SCOPE = { domain: 'default', project: 'p' };

describe('acknowledgement, expiry and bulk clear over HTTP', () => {
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const revision = () => server.parts.index.revision;

  describe('POST /v4/:project/admin/alarms/:id/ack and /unack', () => {
    beforeEach(async () => {
      await api().post(ALARMS).send({ id: 'A', source: 's' }).expect(200);
    });

    it('acknowledges and withdraws it, each as a history entry and a watch message', async () => {
      const watcher = await WsClient.open(server.url, `${ALARMS}/watch`);
      try {
        const acked = await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops', comment: 'on it' }).expect(200);
        expect(acked.body.alarm).to.deep.include({ id: 'A', acknowledged: true, ackedBy: 'ops', ackComment: 'on it', revision: 2 });
        expect(acked.body.alarm.ackedAt).to.match(/^\d{4}-\d{2}-\d{2}T/);
        const unacked = await api().post(`${ALARMS}/A/unack?source=s`).expect(200);
        expect(unacked.body.alarm).to.deep.include({ acknowledged: false, revision: 3 });
        expect(unacked.body.alarm).not.to.have.property('ackedBy');

        await watcher.untilRevision(3);
        expect(watcher.messages.map((m) => m.action)).to.deep.equal(['ACK', 'UNACK']);
        const history = (await api().get(`${ALARMS}/history`).expect(200)).body as { history: { action: string }[] };
        expect(history.history.map((e) => e.action)).to.deep.equal(['RAISE', 'ACK', 'UNACK']);
        const listed = (await api().get(ALARMS).expect(200)).body as { alarms: { acknowledged: boolean }[] };
        expect(listed.alarms[0]?.acknowledged).to.equal(false);
      } finally {
        watcher.close();
      }
    });

    it('ends the acknowledgement when the alarm clears', async () => {
      await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops' }).expect(200);
      await api().post(ALARMS).send({ id: 'A', source: 's', status: 'CLEARED' }).expect(200);
      const again = await api().post(ALARMS).send({ id: 'A', source: 's' }).expect(200);
      expect(again.body.alarms[0]).to.deep.include({ status: 'ACTIVATED', acknowledged: false });
    });

    it('answers 404001 for an unknown alarm and 400001 for a CLEARED one, storing nothing', async () => {
      expectError(await api().post(`${ALARMS}/A/ack`).send({ by: 'ops' }), '404001', /source ""/);
      expectError(await api().post(`${ALARMS}/Nope/unack`), '404001');
      await api().post(ALARMS).send({ id: 'A', source: 's', status: 'CLEARED' }).expect(200);
      const before = revision();
      expectError(await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops' }), '400001', /is CLEARED/);
      expect(revision()).to.equal(before);
    });

    it('refuses a bad acknowledgement naming the field, storing nothing', async () => {
      const before = revision();
      const cases: [object | string, RegExp][] = [
        [{}, /^body\.by: /],
        [{ by: '' }, /^body\.by: /],
        [{ by: 'x'.repeat(257) }, /^body\.by: /],
        [{ by: 'ops', comment: 'x'.repeat(1025) }, /^body\.comment: /],
        [{ by: 'ops', extra: 1 }, /extra/],
        [{ by: 7 }, /^body\.by: /],
        // Text the store could not keep as sent (it would read back as U+FFFD).
        [{ by: 'ops\ud800' }, /^body\.by: must be valid Unicode/],
        [{ by: 'ops', comment: '\udc00' }, /^body\.comment: must be valid Unicode/],
      ];
      for (const [body, detail] of cases) expectError(await api().post(`${ALARMS}/A/ack?source=s`).send(body), '400001', detail);
      expectError(await api().post(`${ALARMS}/A/ack?source=s&by=ops`).send({ by: 'ops' }), '400001', /query/);
      expectError(await api().post(`${ALARMS}/A/unack?source=s`).send({ by: 'ops' }), '400001', /^body: unack takes no body/);
      expectError(await api().post(`${ALARMS}/bad%20id/ack`).send({ by: 'ops' }), '400001', /^id: /);
      expect(revision()).to.equal(before);
    });
  });

  describe('ttlSeconds of an acknowledgement', () => {
    beforeEach(async () => {
      await api().post(ALARMS).send({ id: 'A', source: 's' }).expect(200);
    });

    it('answers and lists the acknowledgement\'s expiry; a new ack replaces it, one without ttlSeconds drops it', async () => {
      const acked = await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops', ttlSeconds: 600 }).expect(200);
      const alarm = acked.body.alarm as { ackedAt: string; ackExpiresAt: string };
      expect(Date.parse(alarm.ackExpiresAt) - Date.parse(alarm.ackedAt)).to.equal(600_000);
      const listed = (await api().get(ALARMS).expect(200)).body as { alarms: { ackExpiresAt?: string }[] };
      expect(listed.alarms[0]?.ackExpiresAt).to.equal(alarm.ackExpiresAt);

      const renewed = await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'lead', ttlSeconds: 60 }).expect(200);
      expect(Date.parse(renewed.body.alarm.ackExpiresAt) - Date.parse(renewed.body.alarm.ackedAt)).to.equal(60_000);
      const untimed = await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'lead' }).expect(200);
      expect(untimed.body.alarm).to.include({ acknowledged: true }).and.not.to.have.property('ackExpiresAt');
      await api().post(`${ALARMS}/A/unack?source=s`).expect(200);

      const history = (await api().get(`${ALARMS}/history`).expect(200)).body as { history: { action: string; by?: string }[] };
      expect(history.history.map((e) => [e.action, e.by])).to.deep.equal([
        ['RAISE', undefined],
        ['ACK', 'ops'],
        ['ACK', 'lead'],
        ['ACK', 'lead'],
        ['UNACK', undefined],
      ]);
    });

    it('refuses a bad ttlSeconds naming body.ttlSeconds, storing nothing', async () => {
      await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops', ttlSeconds: 600 }).expect(200);
      const before = (await api().get(ALARMS).expect(200)).body as unknown;
      for (const ttlSeconds of [0, -5, 1.5, '60', null, true, 366 * 24 * 3600 + 1]) {
        expectError(await api().post(`${ALARMS}/A/ack?source=s`).send({ by: 'lead', ttlSeconds }), '400001', /^body\.ttlSeconds: /);
      }
      expect((await api().get(ALARMS).expect(200)).body).to.deep.equal(before);
      expect(server.center.list(SCOPE).alarms[0]).to.include({ ackedBy: 'ops' });
    });
  });

  describe('POST /v4/:project/admin/alarms/clear', () => {
    beforeEach(async () => {
      await api()
        .post(ALARMS)
        .send({
          alarms: [
            { id: 'A', source: 's1', severity: 'critical' },
            { id: 'A', source: 's2', severity: 'minor' },
            { id: 'B', source: 's1', severity: 'minor' },
            { id: 'C', source: 's3', severity: 'critical' },
          ],
        })
        .expect(200);
    });

    const active = () => server.center.list(SCOPE, { status: 'ACTIVATED' }).alarms.map((a) => `${a.id}/${a.source}`);

    it('clears by ids and answers the count and the revision', async () => {
      const res = await api().post(`${ALARMS}/clear`).send({ ids: ['A', 'Z'] }).expect(200);
      expect(res.body).to.deep.equal({ count: 2, revision: 6 });
      expect(active()).to.deep.equal(['B/s1', 'C/s3']);
    });

    it('clears by source, by severity, and by both', async () => {
      expect((await api().post(`${ALARMS}/clear`).send({ source: 's1', severity: 'minor' }).expect(200)).body.count).to.equal(1);
      expect((await api().post(`${ALARMS}/clear`).send({ severity: 'critical' }).expect(200)).body.count).to.equal(2);
      expect((await api().post(`${ALARMS}/clear`).send({ source: 's2' }).expect(200)).body.count).to.equal(1);
      expect(active()).to.deep.equal([]);
      expect((await api().post(`${ALARMS}/clear`).send({ source: 's2' }).expect(200)).body).to.deep.equal({ count: 0, revision: 8 });
    });

    it('refuses an empty or bad selector naming the field, storing nothing', async () => {
      const before = revision();
      expectError(await api().post(`${ALARMS}/clear`).send({}), '400001', /give at least one of ids, source, severity/);
      expectError(await api().post(`${ALARMS}/clear`).send({ ids: [] }), '400001', /^body\.ids: /);
      expectError(await api().post(`${ALARMS}/clear`).send({ ids: ['bad id'] }), '400001', /^body\.ids\.0: /);
      expectError(await api().post(`${ALARMS}/clear`).send({ severity: 'huge' }), '400001', /^body\.severity: /);
      expectError(await api().post(`${ALARMS}/clear`).send({ all: true }), '400001', /all/);
      expect(revision()).to.equal(before);
    });
  });

  describe('ttlSeconds', () => {
    it('answers the expiry of a raise with a TTL', async () => {
      const res = await api().post(ALARMS).send({ id: 'Heartbeat', ttlSeconds: 30 }).expect(200);
      const alarm = res.body.alarms[0] as { updatedAt: string; expiresAt: string };
      expect(Date.parse(alarm.expiresAt) - Date.parse(alarm.updatedAt)).to.equal(30_000);
    });

    it('refuses a bad TTL naming it, storing nothing', async () => {
      for (const ttlSeconds of [0, 1.5, '30', 366 * 24 * 3600 + 1]) {
        expectError(await api().post(ALARMS).send({ id: 'A', ttlSeconds }), '400001', /^body\.ttlSeconds: /);
      }
      expect(revision()).to.equal(0);
    });
  });

  describe('an acknowledgement running out', () => {
    let clock: FakeTimers.Clock | undefined;
    let timed: RunningServer;

    beforeEach(async () => {
      // Date and timeouts only: sockets and the store keep running on real I/O.
      clock = FakeTimers.install({ now: Date.UTC(2026, 10, 23, 12), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      timed = await startServer({ port: 0, dataDir: ':memory:' });
    });

    afterEach(async () => {
      clock?.uninstall();
      clock = undefined;
      await timed.close();
    });

    it('is withdrawn at its deadline: the list, the history (by "ack expired") and a watcher show it', async () => {
      const http = () => request(timed.url);
      await http().post(ALARMS).send({ id: 'A', source: 's' }).expect(200);
      const acked = await http().post(`${ALARMS}/A/ack?source=s`).send({ by: 'ops', ttlSeconds: 30 }).expect(200);
      const watcher = await WsClient.open(timed.url, `${ALARMS}/watch?since=2`);
      try {
        await (clock as FakeTimers.Clock).tickAsync(29_999);
        expect((await http().get(ALARMS).expect(200)).body.alarms[0]).to.include({ acknowledged: true });
        await (clock as FakeTimers.Clock).tickAsync(1);

        await watcher.untilRevision(3);
        expect(watcher.messages.map((m) => m.action)).to.deep.equal(['UNACK']);
        const alarm = (await http().get(ALARMS).expect(200)).body.alarms[0] as Record<string, unknown>;
        expect(alarm).to.include({ acknowledged: false, updatedAt: acked.body.alarm.ackExpiresAt, revision: 3 });
        const history = (await http().get(`${ALARMS}/history?since=2`).expect(200)).body as { history: { action: string; by?: string }[] };
        expect(history.history.map((e) => [e.action, e.by])).to.deep.equal([['UNACK', 'ack expired']]);
      } finally {
        watcher.close();
      }
    });
  });
});
