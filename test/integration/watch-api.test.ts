import { expect } from 'chai';
import request from 'supertest';
import type { Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError } from '../helpers/integration.js';
import { SseClient, WsClient, metricValue, type WatchMessageJson } from '../helpers/watch.js';

const ALARMS = '/v4/p/admin/alarms';
const WATCH = `${ALARMS}/watch`;
const HISTORY = `${ALARMS}/history`;
const P = { domain: 'default', project: 'p' };

/** The revisions of the change messages, in arrival order. */
const revisions = (messages: WatchMessageJson[]) => messages.filter((m) => m.action !== 'RESYNC').map((m) => m.revision);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('history and watch API', () => {
  let server: RunningServer;
  const clients: { close(): void }[] = [];

  async function start(settings: Partial<Config> = {}): Promise<void> {
    server = await startServer({ port: 0, dataDir: ':memory:', ...settings });
  }

  const api = () => request(server.url);
  const raise = async (body: unknown, path = ALARMS) =>
    (await api().post(path).send(body as object).expect(200)).body as { revision: number };
  const ws = async (path = WATCH, options = {}) => {
    const c = await WsClient.open(server.url, path, options);
    clients.push(c);
    return c;
  };
  const sse = async (path = WATCH, headers: Record<string, string> = {}) => {
    const c = await SseClient.open(`${server.url}${path}`, headers);
    clients.push(c);
    return c;
  };
  const metrics = async () => (await api().get('/metrics').expect(200)).text;

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
  });

  describe('GET /v4/:project/admin/alarms/history', () => {
    beforeEach(() => start());

    it('lists every committed change of the project in revision order, with the alarm after it', async () => {
      await raise({ id: 'A', source: 's', fields: { detail: 'down' } });
      await raise({ id: 'A', source: 's' });
      await raise({ id: 'B' });
      await raise({ id: 'A', source: 's', status: 'CLEARED' });
      await api().delete(ALARMS).expect(200);
      const res = await api().get(HISTORY).expect(200).expect('content-type', /^application\/json/);
      const body = res.body as { history: { revision: number; action: string; alarm: { id: string; status: string; count: number }; at: string }[]; revision: number };
      expect(body.history.map((e) => [e.revision, e.action, e.alarm.id, e.alarm.status, e.alarm.count])).to.deep.equal([
        [1, 'RAISE', 'A', 'ACTIVATED', 1],
        [2, 'RERAISE', 'A', 'ACTIVATED', 2],
        [3, 'RAISE', 'B', 'ACTIVATED', 1],
        [4, 'CLEAR', 'A', 'CLEARED', 2],
        [5, 'CLEAR_ALL', 'A', 'CLEARED', 2],
        [6, 'CLEAR_ALL', 'B', 'ACTIVATED', 1],
      ]);
      expect(body.revision).to.equal(6);
      for (const e of body.history) expect(e.at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });

    it('pages with since and limit, and keeps other projects and domains out', async () => {
      for (const id of ['A', 'B', 'C', 'D']) await raise({ id });
      await raise({ id: 'X' }, '/v4/other/admin/alarms');
      await api().post(ALARMS).set('x-domain-name', 'd2').send({ id: 'Y' }).expect(200);
      const page = (await api().get(`${HISTORY}?since=1&limit=2`).expect(200)).body as { history: { revision: number }[]; revision: number };
      expect(page.history.map((e) => e.revision)).to.deep.equal([2, 3]);
      expect(page.revision).to.equal(6);
      const rest = (await api().get(`${HISTORY}?since=3`).expect(200)).body as { history: { revision: number }[] };
      expect(rest.history.map((e) => e.revision)).to.deep.equal([4]);
      const d2 = (await api().get(HISTORY).set('x-domain-name', 'd2').expect(200)).body as { history: { alarm: { id: string } }[] };
      expect(d2.history.map((e) => e.alarm.id)).to.deep.equal(['Y']);
    });

    it('answers 400001 naming the parameter for a bad since, limit or unknown key', async () => {
      expectError(await api().get(`${HISTORY}?since=-1`), '400001', /^query\.since: /);
      expectError(await api().get(`${HISTORY}?since=abc`), '400001', /^query\.since: /);
      expectError(await api().get(`${HISTORY}?limit=0`), '400001', /^query\.limit: must be at least 1/);
      expectError(await api().get(`${HISTORY}?limit=10001`), '400001', /^query\.limit: must be at most 10000/);
      expectError(await api().get(`${HISTORY}?from=1`), '400001', /query: .*from/);
      expectError(await api().get(HISTORY).set('x-domain-name', 'bad domain'), '400001', /^x-domain-name: /);
    });
  });

  describe('WebSocket watch', () => {
    it('delivers each committed change live as {action, alarm, revision}', async () => {
      await start();
      const c = await ws();
      await raise({ id: 'A', source: 's', severity: 'major', fields: { detail: 'down' } });
      await raise({ id: 'A', source: 's', status: 'CLEARED' });
      await c.untilRevision(2);
      expect(c.messages).to.have.length(2);
      const [first, second] = c.messages as [WatchMessageJson, WatchMessageJson];
      expect(Object.keys(first)).to.deep.equal(['action', 'alarm', 'revision']);
      expect(first).to.deep.include({ action: 'RAISE', revision: 1 });
      expect(first.alarm).to.deep.include({ id: 'A', source: 's', status: 'ACTIVATED', revision: 1, fields: { detail: 'down' } });
      expect(second).to.deep.include({ action: 'CLEAR', revision: 2 });
      expect(second.alarm).to.deep.include({ status: 'CLEARED' });
    });

    it('replays after since, then goes live with no gap and no duplicate while a writer keeps raising', async () => {
      await start();
      const total = 400;
      let written = 0;
      let opened: Promise<WsClient> | undefined;
      const writer = (async () => {
        for (let i = 0; i < total; i += 1) {
          await server.center.raise(P, { id: `A${i % 50}`, source: String(i % 3) });
          written += 1;
          // Open the watcher mid-stream, while raises keep committing.
          if (written === 150) opened = ws(`${WATCH}?since=100`);
        }
      })();
      await writer;
      const c = await (opened as Promise<WsClient>);
      await c.untilRevision(total);
      await raise({ id: 'after' });
      await c.untilRevision(total + 1);
      expect(revisions(c.messages)).to.deep.equal(range(101, total + 1));
      expect(c.messages.some((m) => m.action === 'RESYNC')).to.equal(false);
    });

    it('starts from the live tail without since', async () => {
      await start();
      await raise({ id: 'before' });
      const c = await ws();
      await raise({ id: 'after' });
      await c.untilRevision(2);
      expect(c.messages.map((m) => m.alarm?.id)).to.deep.equal(['after']);
    });

    it('sends RESYNC to a watcher resuming from a revision the server never had', async () => {
      await start();
      await raise({ id: 'A' });
      const c = await ws(`${WATCH}?since=99`);
      await c.until('a RESYNC', (x) => x.messages.length > 0);
      expect(c.messages[0]).to.deep.equal({ action: 'RESYNC', revision: 1 });
      await raise({ id: 'B' });
      await c.untilRevision(2);
      expect(c.messages.map((m) => m.action)).to.deep.equal(['RESYNC', 'RAISE']);
    });

    it('drops the backlog of a slow consumer for one RESYNC, counts it, then continues live', async () => {
      await start({ watchQueueSize: 10 });
      const c = await ws();
      // A consumer that stops reading: the socket buffers fill, then the watcher's queue.
      c.ws.pause();
      const fat = 'x'.repeat(15_000);
      for (let b = 0; b < 60; b += 1) {
        await server.center.apply(P, Array.from({ length: 20 }, (_, i) => ({ id: `F${b}-${i}`, fields: { detail: fat } })));
      }
      await server.center.raise(P, { id: 'last' });
      const last = server.parts.index.revision;
      c.ws.resume();
      await c.untilRevision(last, 15_000);
      const resyncAt = c.messages.findIndex((m) => m.action === 'RESYNC');
      expect(resyncAt, 'a RESYNC arrives').to.be.greaterThan(-1);
      const all = c.messages.map((m) => m.revision);
      expect(all, 'revisions only go up').to.deep.equal([...all].sort((a, b) => a - b));
      expect(new Set(all).size, 'no duplicate').to.equal(all.length);
      expect(c.messages.at(-1)?.alarm?.id).to.equal('last');
      const text = await metrics();
      expect(metricValue(text, 'alarm_center_watch_resyncs_total', { scheme: 'Websocket' })).to.be.at.least(1);
      const received = revisions(c.messages).length;
      const dropped = metricValue(text, 'alarm_center_watch_dropped_messages_total', { scheme: 'Websocket' });
      expect(dropped, 'every change not received is counted as dropped').to.equal(last - received);
    });

    it('terminates a peer that stops answering pings, and counts it', async () => {
      await start({ watchHeartbeatMs: 40 });
      const silent = await ws(WATCH, { autoPong: false });
      const alive = await ws();
      expect(await silent.untilClosed()).to.equal(1006);
      expect(silent.pings, 'pinged before being dropped').to.be.at.least(3);
      // The answering peer outlives the silent one by further heartbeats.
      const pings = alive.pings;
      await alive.until('more pings', (c) => c.pings >= pings + 3);
      expect(alive.closed).to.equal(false);
      const text = await metrics();
      expect(metricValue(text, 'alarm_center_watch_terminated_total', { scheme: 'Websocket', reason: 'heartbeat' })).to.equal(1);
    });

    it('answers a peer\'s own pings and stops pinging it', async () => {
      await start({ watchHeartbeatMs: 40 });
      const c = await ws(WATCH, {});
      c.ws.ping();
      await c.until('a pong', (x) => x.pongs === 1);
      // Keeping on pinging keeps it alive without server pings.
      const serverPings = c.pings;
      for (let i = 0; i < 6; i += 1) {
        c.ws.ping();
        await c.until(`pong ${i + 2}`, (x) => x.pongs === i + 2);
      }
      expect(c.closed).to.equal(false);
      expect(c.pings - serverPings).to.be.at.most(1);
    });

    it('refuses a client message over 64 bytes with 1009 and ignores shorter ones', async () => {
      await start();
      const c = await ws();
      c.ws.send('x'.repeat(64));
      await raise({ id: 'A' });
      await c.untilRevision(1);
      c.ws.send('x'.repeat(65));
      expect(await c.untilClosed()).to.equal(1009);
    });

    it('ends a watcher whose writes stall past the send timeout', async () => {
      await start({ watchSendTimeoutMs: 100, watchQueueSize: 100_000, watchHeartbeatMs: 60_000 });
      const c = await ws();
      c.ws.pause();
      const fat = 'x'.repeat(15_000);
      for (let b = 0; b < 60; b += 1) {
        await server.center.apply(P, Array.from({ length: 20 }, (_, i) => ({ id: `F${b}-${i}`, fields: { detail: fat } })));
      }
      const deadline = Date.now() + 5000;
      let terminated = 0;
      while (terminated === 0 && Date.now() < deadline) {
        terminated = metricValue(await metrics(), 'alarm_center_watch_terminated_total', { scheme: 'Websocket', reason: 'send-timeout' });
      }
      expect(terminated).to.equal(1);
      c.ws.resume();
      await c.untilClosed();
    });

    it('keeps domains and projects apart', async () => {
      await start();
      const c = await ws();
      await raise({ id: 'other-project' }, '/v4/q/admin/alarms');
      await api().post(ALARMS).set('x-domain-name', 'd2').send({ id: 'other-domain' }).expect(200);
      await raise({ id: 'mine' });
      await c.untilRevision(3);
      expect(c.messages.map((m) => m.alarm?.id)).to.deep.equal(['mine']);
      const d2 = await ws(WATCH, { headers: { 'x-domain-name': 'd2' } });
      await api().post(ALARMS).set('x-domain-name', 'd2').send({ id: 'd2-later' }).expect(200);
      await d2.untilRevision(4);
      expect(d2.messages.map((m) => m.alarm?.id)).to.deep.equal(['d2-later']);
    });

    it('counts subscribers by domain and scheme, back to 0 once clients close', async () => {
      await start();
      const a = await ws();
      const b = await ws(WATCH, { headers: { 'x-domain-name': 'd2' } });
      const s = await sse();
      let text = await metrics();
      expect(metricValue(text, 'alarm_center_notify_subscriber_total', { domain: 'default', scheme: 'Websocket' })).to.equal(1);
      expect(metricValue(text, 'alarm_center_notify_subscriber_total', { domain: 'd2', scheme: 'Websocket' })).to.equal(1);
      expect(metricValue(text, 'alarm_center_notify_subscriber_total', { domain: 'default', scheme: 'SSE' })).to.equal(1);
      a.close();
      b.close();
      s.close();
      const deadline = Date.now() + 5000;
      const open = () =>
        ['Websocket', 'SSE'].reduce((n, scheme) => n + metricValue(text, 'alarm_center_notify_subscriber_total', { domain: 'default', scheme }), 0) +
        metricValue(text, 'alarm_center_notify_subscriber_total', { domain: 'd2', scheme: 'Websocket' });
      while (open() > 0 && Date.now() < deadline) text = await metrics();
      expect(open()).to.equal(0);
      expect(server.parts.hub.size).to.equal(0);
    });

    it('refuses bad upgrades with the error body', async () => {
      await start();
      const refused = async (path: string, headers: Record<string, string> = {}) => {
        const err = (await WsClient.open(server.url, path, { headers }).then(
          () => expect.fail('the upgrade was accepted'),
          (e: unknown) => e,
        )) as { status: number; body: string };
        return { status: err.status, body: JSON.parse(err.body) as { errorCode: string; detail?: string } };
      };
      expect(await refused('/v4/p/admin/alarms/nope')).to.deep.include({ status: 404 });
      const since = await refused(`${WATCH}?since=x`);
      expect(since.status).to.equal(400);
      expect(since.body.errorCode).to.equal('400001');
      expect(since.body.detail).to.match(/^query\.since: /);
      const domain = await refused(WATCH, { 'x-domain-name': 'bad domain' });
      expect(domain.body.detail).to.match(/^x-domain-name: /);
      const unknown = await refused(`${WATCH}?sinse=1`);
      expect(unknown.body.detail).to.match(/^query\.sinse: /);
    });

    it('closes watchers with 1001 at shutdown', async () => {
      await start();
      const c = await ws();
      const closing = server.close();
      expect(await c.untilClosed()).to.equal(1001);
      await closing;
    });
  });

  describe('Server-Sent Events watch', () => {
    it('streams changes as id/data frames with the revision as id', async () => {
      await start();
      const c = await sse();
      expect(c.status).to.equal(200);
      expect(c.headers.get('content-type')).to.match(/^text\/event-stream/);
      await raise({ id: 'A' });
      await c.untilRevision(1);
      const frame = c.frames.find((f) => f.data !== undefined);
      expect(frame?.id).to.equal('1');
      expect(JSON.parse(frame?.data as string)).to.deep.include({ action: 'RAISE', revision: 1 });
    });

    it('resumes after Last-Event-ID, which wins over since', async () => {
      await start();
      for (const id of ['A', 'B', 'C']) await raise({ id });
      const c = await sse(`${WATCH}?since=0`, { 'last-event-id': '2' });
      await raise({ id: 'D' });
      await c.untilRevision(4);
      expect(revisions(c.messages)).to.deep.equal([3, 4]);
    });

    it('sends a comment line every heartbeat interval', async () => {
      await start({ watchHeartbeatMs: 30 });
      const c = await sse();
      await c.until('two heartbeats', (x) => x.frames.filter((f) => f.comments.includes('heartbeat')).length >= 2);
    });

    it('answers a HEAD with the stream’s head and ends it, leaving no watcher open', async () => {
      await start();
      const res = await api().head(WATCH).set('accept', 'text/event-stream').timeout(5000);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/event-stream/);
      expect(server.parts.hub.size).to.equal(0);
    });

    it('answers 400001 naming accept when neither SSE nor a WebSocket is asked for', async () => {
      await start();
      expectError(await api().get(WATCH), '400001', /^accept: /);
      expectError(await api().get(WATCH).set('accept', 'text/event-stream').set('last-event-id', 'x'), '400001', /^last-event-id: /);
    });

    it('ends streams at shutdown', async () => {
      await start();
      const c = await sse();
      await c.until('the opening comment', (x) => x.frames.length > 0);
      await server.close();
      await c.until('the stream to end', (x) => x.ended);
    });
  });
});
