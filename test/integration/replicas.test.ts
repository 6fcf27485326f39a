/**
 * Several replicas of Alarm Center on one PostgreSQL database, over HTTP: in-process servers, and
 * child processes of the built command where a replica must die with SIGKILL. What a user of the
 * replicas sees: one order of changes everywhere, a write seen by every replica, jobs that move to
 * a survivor, a replica that rides out the loss of its database, and no acknowledged write lost.
 */
import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import type { AlarmOp } from '../../src/alarm/event.js';
import type { RunningServer } from '../../src/root.js';
import { postJson, type Bin } from '../helpers/bin.js';
import { expectError, waitFor } from '../helpers/integration.js';
import { freshDatabase } from '../helpers/postgres.js';
import { leaseHolders, replicaGroup, tookLease } from '../helpers/replicas.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { SseClient, WsClient, type WatchMessageJson } from '../helpers/watch.js';

const ALARMS = '/v4/p/admin/alarms';
const HISTORY = `${ALARMS}/history`;
const WATCH = `${ALARMS}/watch`;
const HEALTH = '/v4/p/registry/health';

/** An alarm as the API answers it; the keys the tests read, the rest compared whole. */
interface AlarmJson {
  id: string;
  source: string;
  status: 'ACTIVATED' | 'CLEARED';
  count: number;
  revision: number;
  fields: Record<string, unknown>;
  expiresAt?: string;
  clearedAt?: string;
  ackedBy?: string;
}

interface ListJson {
  alarms: AlarmJson[];
  revision: number;
}

interface HistoryJson {
  history: { revision: number; action: string; alarm: AlarmJson; at: string }[];
  revision: number;
}

/** One change as every replica must tell it: history entries and watch messages alike. */
interface Change {
  revision: number;
  action: string;
  alarm: AlarmJson;
}

const changeOf = (m: { revision: number; action: string; alarm?: unknown }): Change => ({ revision: m.revision, action: m.action, alarm: m.alarm as AlarmJson });
const keyOf = (a: { id: string; source: string }) => `${a.id}/${a.source}`;
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

const raise = async (url: string, body: object): Promise<ListJson> => (await request(url).post(ALARMS).send(body).expect(200)).body as ListJson;
const list = async (url: string, query = ''): Promise<ListJson> => (await request(url).get(`${ALARMS}${query}`).expect(200)).body as ListJson;
const history = async (url: string, since: number): Promise<HistoryJson> =>
  (await request(url).get(`${HISTORY}?since=${since}&limit=10000`).expect(200)).body as HistoryJson;

/** A watcher of either transport. */
type Watcher = WsClient | SseClient;

describe('replicas on PostgreSQL', function () {
  this.timeout(30_000);
  const replicas = replicaGroup();
  const watchers: Watcher[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    for (const w of watchers.splice(0)) w.close();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  const ws = async (url: string, query: string) => {
    const c = await WsClient.open(url, `${WATCH}${query}`);
    watchers.push(c);
    return c;
  };
  const sse = async (url: string, query: string) => {
    const c = await SseClient.open(`${url}${WATCH}${query}`);
    watchers.push(c);
    return c;
  };

  /** The change messages a watcher received, in order (a RESYNC would show as a change without alarm). */
  const received = (w: Watcher): Change[] => (w.messages as WatchMessageJson[]).map(changeOf);

  describe('concurrent writes on three replicas', () => {
    /** Kinds of writes, taken in turn; all of them on the same few alarms, from every replica. */
    const KINDS = ['raise', 'raise', 'clear', 'ack'] as const;
    const WRITES = 300;
    const IN_FLIGHT_PER_REPLICA = 4;

    /** What one write was answered: its status, and the alarms a 200 answered (none for a refused ack). */
    interface Answer {
      kind: (typeof KINDS)[number];
      status: number;
      detail?: string;
      alarms: AlarmJson[];
    }

    /** Sends write `i` to `url`: raises, clears and acknowledgements of the alarms `S0` to `S6`. */
    async function write(url: string, i: number): Promise<Answer> {
      const kind = KINDS[i % KINDS.length] as (typeof KINDS)[number];
      const id = `S${i % 7}`;
      const res =
        kind === 'ack'
          ? await request(url).post(`${ALARMS}/${id}/ack?source=s`).send({ by: `writer-${i}`, comment: `write ${i}` })
          : await request(url)
              .post(ALARMS)
              .send(kind === 'raise' ? { id, source: 's', fields: { detail: `write ${i}` } } : { id, source: 's', status: 'CLEARED' });
      if (res.status !== 200) return { kind, status: res.status, detail: res.body.detail, alarms: [] };
      return { kind, status: 200, alarms: kind === 'ack' ? [(res.body as { alarm: AlarmJson }).alarm] : (res.body as ListJson).alarms };
    }

    /** Sends the writes, write i to replica i % 3, each replica with a few in flight at a time. */
    async function writeEverywhere(urls: string[]): Promise<Answer[]> {
      const answers: Answer[] = [];
      await Promise.all(
        urls.flatMap((url, r) => {
          const queue = range(0, WRITES - 1).filter((i) => i % urls.length === r);
          return range(1, IN_FLIGHT_PER_REPLICA).map(async () => {
            for (let i = queue.shift(); i !== undefined; i = queue.shift()) answers.push(await write(url, i));
          });
        }),
      );
      return answers;
    }

    /** The stored alarms as a replica lists them: without its own in-memory ones (revision 0), which are per replica. */
    const stored = async (url: string): Promise<ListJson> => {
      const l = await list(url);
      return { ...l, alarms: l.alarms.filter((a) => a.revision > 0) };
    };

    it('answers every write: none is refused because another replica committed first', async function () {
      const db = await freshDatabase(this);
      const urls = (await Promise.all([0, 1, 2].map(() => replicas.start(db)))).map((s) => s.url);

      const answers = await writeEverywhere(urls);

      // An acknowledgement may find its alarm cleared or not raised yet by another replica; nothing else is refused.
      const refused = answers.filter((a) => a.status !== 200 && !(a.kind === 'ack' && [400, 404].includes(a.status)));
      expect(refused.map((a) => `${a.kind}: ${a.status} ${a.detail}`), `${refused.length} of ${WRITES} writes refused`).to.deep.equal([]);
      for (const url of urls) {
        expect((await list(url, '?source=alarm-center')).alarms, 'Alarm Center’s own alarms').to.deep.equal([]);
      }
    });

    it('gives every watcher of every replica one sequence, revisions 1..N with no gap, no duplicate and no reordering', async function () {
      const db = await freshDatabase(this);
      const urls = (await Promise.all([0, 1, 2].map(() => replicas.start(db)))).map((s) => s.url);
      const [u0, u1, u2] = urls as [string, string, string];
      const live = [await ws(u0, '?since=0'), await sse(u1, '?since=0'), await ws(u2, '?since=0'), await sse(u2, '?since=0')];

      // A write refused here commits nothing; whether any is refused is the test above's matter.
      const answers = await writeEverywhere(urls);
      // One more write on each replica, once the others are answered, commits after everything they caused.
      for (const [r, url] of urls.entries()) answers.push({ kind: 'raise', status: 200, alarms: (await raise(url, { id: 'Last', source: `r${r}` })).alarms });
      const answered = answers.flatMap((a) => a.alarms);
      const n = Math.max(...answered.map((a) => a.revision));

      for (const w of live) await w.until(`revision ${n} on every watcher`, () => w.messages.length >= n, 10_000);
      const sequence = received(live[0] as Watcher);
      expect(sequence.map((c) => c.revision)).to.deep.equal(range(1, n));
      for (const w of live.slice(1)) expect(received(w)).to.deep.equal(sequence);

      // The sequence holds the answered changes, each as its writer was answered, and nothing else but
      // the InternalError alarm that a write answered 5xx raises.
      for (const a of answered) expect(sequence[a.revision - 1]?.alarm, `revision ${a.revision}`).to.deep.equal(a);
      const unanswered = sequence.filter((c) => !answered.some((a) => a.revision === c.revision));
      expect(unanswered.filter((c) => keyOf(c.alarm) !== 'InternalError/alarm-center')).to.deep.equal([]);
      expect(unanswered.length).to.be.at.most(answers.filter((a) => a.status >= 500).length);
      const raises = answers.filter((a) => a.kind === 'raise' && a.status === 200);
      expect(sequence.filter((c) => (c.action === 'RAISE' || c.action === 'RERAISE') && c.alarm.id !== 'InternalError')).to.have.length(raises.length);

      // Each change was planned over the one before it, whichever replica committed that one.
      const state = new Map<string, AlarmJson>();
      for (const c of sequence) {
        const before = state.get(keyOf(c.alarm));
        const active = before?.status === 'ACTIVATED';
        const expected: Record<string, { count: number | undefined; status: string; follows: boolean }> = {
          RAISE: { count: 1, status: 'ACTIVATED', follows: !active },
          RERAISE: { count: (before?.count ?? 0) + 1, status: 'ACTIVATED', follows: active },
          CLEAR: { count: before?.count, status: 'CLEARED', follows: active },
          ACK: { count: before?.count, status: 'ACTIVATED', follows: active },
        };
        expect(expected, `revision ${c.revision}`).to.have.property(c.action);
        expect({ count: c.alarm.count, status: c.alarm.status, follows: true }, `revision ${c.revision}: ${c.action}`).to.deep.equal(expected[c.action]);
        state.set(keyOf(c.alarm), c.alarm);
      }

      // The replicas agree, with each other and with the sequence.
      const sorted = (alarms: AlarmJson[]) => [...alarms].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      for (const url of urls) await waitFor('every replica to reach the last revision', async () => (await list(url)).revision === n, 10_000);
      const lists = await Promise.all(urls.map(stored));
      for (const l of lists) expect(sorted(l.alarms)).to.deep.equal(sorted([...state.values()]));
      expect(lists[1]).to.deep.equal(lists[0]);
      expect(lists[2]).to.deep.equal(lists[0]);

      // From any revision, on any replica, the history and a watch replay exactly what followed it.
      const since = Math.floor(n / 3);
      for (const url of urls) {
        const page = await history(url, since);
        expect(page.revision).to.equal(n);
        expect(page.history.map(changeOf)).to.deep.equal(sequence.slice(since));
        const replay = await ws(url, `?since=${since}`);
        await replay.until(`the replay from ${since}`, () => replay.messages.length >= n - since);
        expect(received(replay)).to.deep.equal(sequence.slice(since));
      }
    });
  });

  describe('propagation', () => {
    it('shows a write acknowledged by one replica in another’s list, cluster health and watchers', async function () {
      const db = await freshDatabase(this);
      const [a, b] = (await Promise.all([replicas.start(db), replicas.start(db)])) as [RunningServer, RunningServer];
      const watching = [await ws(b.url, '?since=0'), await sse(b.url, '?since=0')];
      await request(b.url).get(HEALTH).expect(200);

      const detail = 'dial tcp 10.0.0.5:5432: connection refused';
      const raised = ((await request(a.url).post(ALARMS).send({ id: 'BackendConnectionRefuse', source: 'db-1', fields: { detail } }).expect(200)).body as ListJson).alarms[0] as AlarmJson;

      await waitFor('B to list the alarm', async () => (await list(b.url)).alarms.length === 1);
      expect(await list(b.url)).to.deep.equal(await list(a.url));
      expectError(await request(b.url).get(HEALTH), '400002', `BackendConnectionRefuse/db-1: ${detail}`);
      for (const w of watching) {
        await w.until('the raise on B’s watcher', () => w.messages.length === 1);
        expect(received(w)).to.deep.equal([{ revision: raised.revision, action: 'RAISE', alarm: raised }]);
      }

      // And back: B clears it, A is healthy again.
      await request(b.url).delete(`${ALARMS}/BackendConnectionRefuse?source=db-1`).expect(200);
      await waitFor('A to see the clear', async () => (await request(a.url).get(HEALTH)).status === 200);
      expect((await list(a.url)).alarms.map((x) => `${keyOf(x)} ${x.status}`)).to.deep.equal(['BackendConnectionRefuse/db-1 CLEARED']);
    });
  });

  describe('the jobs lease', () => {
    it('expires an alarm exactly once, on a survivor, after the replica holding the lease is killed with SIGKILL', async function () {
      const db = await freshDatabase(this);
      const bins = [0, 1, 2].map(() => replicas.spawn(db));
      const urls = await Promise.all(bins.map((b) => b.url()));

      const holder = await waitFor('a replica to take the jobs lease', () => bins.find((b) => b.lines.some(tookLease('jobs'))), 10_000);
      const first = await leaseHolders(db, 'jobs');
      expect(first, 'sessions holding the lease').to.have.length(1);
      expect(bins.filter((b) => b.lines.some(tookLease('jobs')))).to.have.length(1);
      const survivors = bins.filter((b) => b !== holder);
      const survivorUrls = urls.filter((_, i) => bins[i] !== holder);

      // The holder takes the raise, then dies before it is due.
      const holderUrl = urls[bins.indexOf(holder)] as string;
      const raised = ((await request(holderUrl).post(ALARMS).send({ id: 'Heartbeat', source: 'svc-1', ttlSeconds: 2 }).expect(200)).body as ListJson)
        .alarms[0] as AlarmJson;
      holder.child.kill('SIGKILL');
      await holder.exited;
      expect(holder.signal).to.equal('SIGKILL');

      const heir = await waitFor('a survivor to take the lease over', () => survivors.find((b) => b.lines.some(tookLease('jobs'))), 10_000);
      expect(survivors.filter((b) => b.lines.some(tookLease('jobs'))), 'one heir').to.deep.equal([heir]);
      const sessions = await leaseHolders(db, 'jobs');
      expect(sessions).to.have.length(1);
      expect(sessions[0]).to.not.equal(first[0]);

      for (const url of survivorUrls) {
        await waitFor('the alarm to expire on every survivor', async () => (await list(url)).alarms[0]?.status === 'CLEARED', 10_000);
      }
      const changes = (await history(survivorUrls[0] as string, 0)).history;
      expect(changes.map((c) => `${c.action} ${keyOf(c.alarm)}`)).to.deep.equal(['RAISE Heartbeat/svc-1', 'EXPIRE Heartbeat/svc-1']);
      expect(changes[1]?.alarm.clearedAt, 'cleared when it was due').to.equal(raised.expiresAt);
      expect(await list(survivorUrls[1] as string)).to.deep.equal(await list(survivorUrls[0] as string));
    });
  });

  describe('expiries moved by re-sends', () => {
    /** The scope of `/v4/p/…` (the default domain). */
    const SCOPE = { domain: 'default', project: 'p' };
    const resend = (expiresAt: number): AlarmOp[] => [
      { kind: 'raise', id: 'TargetDown', source: 'job=node', severity: 'major', fields: { summary: 'target down' }, expiresAt, resend: true },
    ];
    const iso = (ms: number) => new Date(ms).toISOString();

    it('expires an alarm whose expiry another replica moved once, at the moved expiry, on the replica holding the jobs lease', async function () {
      const db = await freshDatabase(this);
      const holder = await replicas.start(db);
      await waitFor('the first replica to take the jobs lease', async () => (await leaseHolders(db, 'jobs')).length === 1, 10_000);
      const other = await replicas.start(db);
      // The lease holder's expirer runs on the real clock: expiries a few seconds away, waited for by polling.
      const start = Date.now();
      const first = start + 2000;
      const moved = start + 4500;

      await other.parts.service.applyOps(SCOPE, resend(first));
      await waitFor('the holder to list the alarm', async () => (await list(holder.url)).alarms.length === 1);
      const answer = await other.parts.service.applyOps(SCOPE, resend(moved));

      expect(Date.now(), 'the re-send was answered before the first expiry').to.be.below(first);
      expect(answer.alarms.map((a) => [a.count, a.revision, a.expiresAt])).to.deep.equal([[1, 1, moved]]);
      expect((await list(other.url)).alarms.map((a) => [a.status, a.count, a.expiresAt])).to.deep.equal([['ACTIVATED', 1, iso(moved)]]);
      // The holder learns of the move when the first expiry comes due, instead of expiring the alarm.
      await waitFor('the holder to read the moved expiry', async () => (await list(holder.url)).alarms[0]?.expiresAt === iso(moved), 10_000);
      expect(Date.now(), 'read when the first expiry came due').to.be.at.least(first);
      expect((await list(holder.url)).alarms.map((a) => [a.status, a.revision])).to.deep.equal([['ACTIVATED', 1]]);
      expect((await history(holder.url, 0)).history.map((c) => c.action)).to.deep.equal(['RAISE']);

      for (const url of [holder.url, other.url]) {
        await waitFor('the alarm to expire on both replicas', async () => (await list(url)).alarms[0]?.status === 'CLEARED', 10_000);
      }
      const changes = (await history(other.url, 0)).history;
      expect(changes.map((c) => `${c.action} ${keyOf(c.alarm)}`)).to.deep.equal(['RAISE TargetDown/job=node', 'EXPIRE TargetDown/job=node']);
      expect(changes[1]?.alarm.clearedAt, 'cleared at the moved expiry').to.equal(iso(moved));
      expect(await list(holder.url)).to.deep.equal(await list(other.url));
    });

    it('keeps an expiry one replica moved when another, which has not seen the move, acknowledges the alarm or withdraws it', async function () {
      const db = await freshDatabase(this);
      const [a, b] = (await Promise.all([replicas.start(db), replicas.start(db)])) as [RunningServer, RunningServer];
      const start = Date.now();
      await a.parts.service.applyOps(SCOPE, resend(start + 3_600_000));
      await waitFor('B to list the alarm', async () => (await list(b.url)).alarms.length === 1);
      await a.parts.service.applyOps(SCOPE, resend(start + 7_200_000));

      await request(b.url).post(`${ALARMS}/TargetDown/ack?source=job%3Dnode`).send({ by: 'ops', comment: 'looking' }).expect(200);

      await waitFor('A to see the acknowledgement', async () => (await list(a.url)).revision === 2);
      for (const url of [a.url, b.url]) {
        expect((await list(url)).alarms.map((x) => [x.revision, x.ackedBy, x.expiresAt]), url).to.deep.equal([[2, 'ops', iso(start + 7_200_000)]]);
      }

      await a.parts.service.applyOps(SCOPE, resend(start + 10_800_000));
      await request(b.url).post(`${ALARMS}/TargetDown/unack?source=job%3Dnode`).send({}).expect(200);

      await waitFor('A to see the withdrawal', async () => (await list(a.url)).revision === 3);
      for (const url of [a.url, b.url]) {
        expect((await list(url)).alarms.map((x) => [x.revision, x.ackedBy, x.expiresAt]), url).to.deep.equal([[3, undefined, iso(start + 10_800_000)]]);
      }
    });
  });

  describe('PostgreSQL unreachable from one replica', () => {
    it('answers 503001 and raises its own alarm while cut off, then recovers and catches up without a restart', async function () {
      const db = await freshDatabase(this);
      const target = new URL(db);
      const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
      proxies.push(proxy);
      const [cutOff, other] = (await Promise.all([replicas.start(proxy.url(db)), replicas.start(db)])) as [RunningServer, RunningServer];
      const watching = await ws(cutOff.url, '?since=0');
      await raise(cutOff.url, { id: 'Before', source: 'x' });

      await proxy.refuse();
      const cause = `connect ECONNREFUSED 127.0.0.1:${proxy.port}`;
      // The first write may meet a connection the cut has not closed yet; each one is refused, and soon for that cause.
      await waitFor('a write refused for the unreachable database', async () => {
        const res = await request(cutOff.url).post(ALARMS).send({ id: 'During', source: 'x' });
        expectError(res, '503001', /^store unavailable: /);
        return res.body.detail === `store unavailable: ${cause}`;
      });
      const ready = await request(cutOff.url).get('/readyz?verbose').expect(503);
      expect(ready.text.split('\n')).to.include(`[-]store failed: ${cause}`);
      expect((await request(cutOff.url).get('/livez').expect(200)).text).to.equal('ok');
      const self = (await list(cutOff.url, '?source=alarm-center')).alarms;
      expect(self.map((a) => [keyOf(a), a.status, a.fields.detail])).to.deep.equal([['BackendConnectionRefuse/alarm-center', 'ACTIVATED', cause]]);
      expectError(await request(cutOff.url).get(HEALTH), '400002', `BackendConnectionRefuse/alarm-center: ${cause}`);
      // The other replica, still connected, takes writes meanwhile.
      await raise(other.url, { id: 'Meanwhile', source: 'y' });

      await proxy.restore();
      await raise(cutOff.url, { id: 'After', source: 'x' });
      // Each 503 answer raised InternalError, which is stored only if its raise came once the database was back.
      const stored = async (url: string) => (await list(url)).alarms.filter((a) => a.id !== 'InternalError').map((a) => `${keyOf(a)} ${a.status}`);
      expect(await stored(cutOff.url)).to.deep.equal([
        'BackendConnectionRefuse/alarm-center CLEARED',
        'Before/x ACTIVATED',
        'Meanwhile/y ACTIVATED',
        'After/x ACTIVATED',
      ]);
      await request(cutOff.url).get('/readyz').expect(200);
      await request(cutOff.url).get(HEALTH).expect(200);

      // It follows the other replica again, and its watcher got every change, the one made while it was cut off included.
      const later = (await raise(other.url, { id: 'Later', source: 'y' })).revision;
      await waitFor('the replica to follow a write of the other', async () => (await list(cutOff.url)).revision === later);
      expect(await stored(other.url)).to.deep.equal(['Before/x ACTIVATED', 'Meanwhile/y ACTIVATED', 'After/x ACTIVATED', 'Later/y ACTIVATED']);
      await watching.untilRevision(later);
      expect(watching.messages.map((m) => m.revision)).to.deep.equal(range(1, later));
      expect(watching.messages.filter((m) => m.alarm?.id !== 'InternalError').map((m) => `${m.action} ${m.alarm?.id}`)).to.deep.equal([
        'RAISE Before',
        'RAISE Meanwhile',
        'RAISE After',
        'RAISE Later',
      ]);
    });
  });

  describe('kill -9 in the middle of writes', () => {
    const WRITERS = 6;

    /**
     * One writer's loop on `url`, one write at a time until one fails: each write raises `Seq`
     * of its source again and a new alarm `W<k>-<j>` in one batch. Resolves with the number of
     * writes answered 2xx and the highest revision answered.
     */
    async function writer(url: string, k: number, onAnswer: () => void): Promise<{ acked: number; revision: number }> {
      const agent = new http.Agent({ keepAlive: true });
      let revision = 0;
      try {
        for (let j = 0; ; j += 1) {
          let res;
          try {
            res = await postJson(agent, `${url}${ALARMS}`, { alarms: [{ id: 'Seq', source: `w${k}` }, { id: `W${k}-${j}`, source: 'kill' }] });
          } catch {
            return { acked: j, revision }; // the replica is gone
          }
          if (res.status !== 200) return { acked: j, revision };
          revision = Math.max(revision, (JSON.parse(res.text) as ListJson).revision);
          onAnswer();
        }
      } finally {
        agent.destroy();
      }
    }

    it('loses no write a replica answered 2xx before it was killed: another replica lists every one', async function () {
      const db = await freshDatabase(this);
      const doomed: Bin = replicas.spawn(db);
      const [doomedUrl, witness] = await Promise.all([doomed.url(), replicas.start(db)]);
      // A random moment: after somewhere between 50 and 300 answered writes.
      const killAfter = 50 + Math.floor(Math.random() * 250);
      let answers = 0;
      const results = await Promise.all(
        range(0, WRITERS - 1).map((k) =>
          writer(doomedUrl, k, () => {
            answers += 1;
            if (answers === killAfter) doomed.child.kill('SIGKILL');
          }),
        ),
      );
      expect(answers, 'writes answered before the writers stopped').to.be.at.least(killAfter);
      await doomed.exited;
      expect(doomed.signal, `killed after ${killAfter} answered writes`).to.equal('SIGKILL');

      // The witness writes on, so nothing the killed replica held is left locked; and to commit, it
      // read every change committed before.
      const last = (await raise(witness.url, { id: 'AfterKill' })).revision;
      expect(last).to.be.above(Math.max(...results.map((r) => r.revision)));
      const listed = await list(witness.url);
      expect(listed.revision).to.equal(last);
      const held = new Map(listed.alarms.map((a) => [keyOf(a), a]));
      results.forEach(({ acked }, k) => {
        // The write in flight at the kill was committed whole or not at all.
        const count = held.get(`Seq/w${k}`)?.count ?? 0;
        expect(count, `writer ${k}: ${acked} answered`).to.be.oneOf([acked, acked + 1]);
        const own = [...held.values()].filter((a) => a.id.startsWith(`W${k}-`)).map((a) => Number(a.id.slice(`W${k}-`.length)));
        expect(own.sort((x, y) => x - y), `writer ${k}`).to.deep.equal(range(0, count - 1));
      });
      expect((await history(witness.url, 0)).history.map((c) => c.revision)).to.deep.equal(range(1, last));
    });
  });
});
