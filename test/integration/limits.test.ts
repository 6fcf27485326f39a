/**
 * The limits over all domains, over HTTP: a client without tokens may name any `x-domain-name`,
 * so per-domain and per-scope limits alone do not bound the process; `maxWatchers`, `maxAlarms`
 * and `maxFieldsBytes` do, and per-domain metric series go away with the domain's last watcher.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, waitFor } from '../helpers/integration.js';
import { SseClient, WsClient, metricValue } from '../helpers/watch.js';

const ALARMS = '/v4/p/admin/alarms';
const WATCH = `${ALARMS}/watch`;

/** Fields whose JSON text is exactly `bytes` bytes long. */
const fieldsOf = (bytes: number) => ({ detail: 'x'.repeat(bytes - '{"detail":""}'.length) });

describe('limits over all domains', () => {
  let server: RunningServer;
  const clients: { close(): void }[] = [];

  async function start(settings: Partial<Config>): Promise<void> {
    server = await startServer({ port: 0, dataDir: ':memory:', ...settings });
  }

  const api = () => request(server.url);
  const post = (domain: string, body: object) => api().post(ALARMS).set('x-domain-name', domain).send(body);
  const metrics = async () => (await api().get('/metrics').expect(200)).text;
  const sse = async (domain: string) => {
    const c = await SseClient.open(`${server.url}${WATCH}`, { 'x-domain-name': domain });
    clients.push(c);
    expect(c.status).to.equal(200);
    return c;
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
  });

  describe('maxWatchers', () => {
    const FULL = 'watchers: more than 4 watchers open in all (maxWatchers)';

    it('refuses a watch past the limit with 429002 whatever domains the watchers name, over either transport', async () => {
      await start({ maxWatchers: 4, maxWatchersPerDomain: 1000 });
      for (let i = 0; i < 4; i += 1) await sse(`made-up-${i}`);

      expectError(await api().get(WATCH).set('accept', 'text/event-stream').set('x-domain-name', 'made-up-4'), '429002', FULL);
      const upgrade = await WsClient.open(server.url, WATCH, { headers: { 'x-domain-name': 'made-up-5' } }).then(
        () => expect.fail('the upgrade was accepted'),
        (e: unknown) => e as { status: number; body: string },
      );
      expect(upgrade.status).to.equal(429);
      expect(JSON.parse(upgrade.body)).to.deep.include({ errorCode: '429002', detail: FULL });

      expect(server.parts.hub.size).to.equal(4);
      expect(metricValue(await metrics(), 'alarm_center_watch_quota_refusals_total', { limit: 'maxWatchers' })).to.equal(2);
      clients[0]?.close();
      await waitFor('the closed watcher to be released', () => server.parts.hub.size === 3);
      await sse('made-up-6');
    });

    it('removes a domain\'s subscriber series once its last watcher closes', async () => {
      await start({});
      const series = (text: string) => text.split('\n').filter((l) => l.startsWith('alarm_center_notify_subscriber_total{domain="made-up-'));
      const a = await sse('made-up-1');
      const b = await WsClient.open(server.url, WATCH, { headers: { 'x-domain-name': 'made-up-1' } });
      clients.push(b);
      expect(series(await metrics())).to.have.members([
        'alarm_center_notify_subscriber_total{domain="made-up-1",scheme="SSE"} 1',
        'alarm_center_notify_subscriber_total{domain="made-up-1",scheme="Websocket"} 1',
      ]);

      a.close();
      b.close();

      await waitFor('the series of domain made-up-1 to go', async () => series(await metrics()).length === 0);
      expect(server.parts.hub.size).to.equal(0);
    });
  });

  describe('maxAlarms', () => {
    it('refuses alarms past the limit across domains with 429002, storing nothing of a refused batch, until a clear-all makes room', async () => {
      await start({ maxAlarms: 10, maxAlarmsPerScope: 1000 });
      for (let i = 0; i < 4; i += 1) await post(`made-up-${i}`, { alarms: [{ id: 'A' }, { id: 'B' }] }).expect(200);
      const revision = server.parts.index.revision;

      const refused = await post('made-up-4', { alarms: [{ id: 'A' }, { id: 'B' }, { id: 'C' }] });

      expectError(refused, '429002', 'alarms: more than 10 alarms in all (maxAlarms)');
      expect(server.parts.index.revision).to.equal(revision);
      expect((await api().get(ALARMS).set('x-domain-name', 'made-up-4').expect(200)).body.alarms).to.deep.equal([]);
      expect(metricValue(await metrics(), 'alarm_center_alarm_quota_refusals_total', { limit: 'maxAlarms' })).to.equal(1);
      await post('made-up-0', { id: 'A', status: 'CLEARED' }).expect(200);
      expectError(await post('made-up-4', { alarms: [{ id: 'A' }, { id: 'B' }, { id: 'C' }] }), '429002');
      await api().delete(ALARMS).set('x-domain-name', 'made-up-0').expect(200);
      await post('made-up-4', { alarms: [{ id: 'A' }, { id: 'B' }, { id: 'C' }] }).expect(200);
      expect(server.parts.index.size).to.equal(9);
    });
  });

  describe('maxFieldsBytes', () => {
    it('refuses fields past the limit across domains with 429002 until a clear-all frees their bytes', async () => {
      await start({ maxFieldsBytes: 40_000 });
      await post('made-up-0', { id: 'A', fields: fieldsOf(15_000) }).expect(200);
      await post('made-up-1', { id: 'A', fields: fieldsOf(15_000) }).expect(200);

      expectError(
        await post('made-up-2', { id: 'A', fields: fieldsOf(15_000) }),
        '429002',
        'fields: more than 40000 bytes of fields in all alarms (maxFieldsBytes)',
      );

      expect(metricValue(await metrics(), 'alarm_center_alarm_fields_bytes')).to.equal(30_000);
      await api().delete(ALARMS).set('x-domain-name', 'made-up-0').expect(200);
      await post('made-up-2', { id: 'A', fields: fieldsOf(15_000) }).expect(200);
    });
  });
});
