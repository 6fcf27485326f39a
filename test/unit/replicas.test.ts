import { expect } from 'chai';
import type { AlarmCenter, AlarmCenterOptions, WatchEvent } from '../../src/center.js';
import { AlarmCenterError } from '../../src/errors.js';
import { StoreConflict } from '../../src/alarm/store.js';
import { createCore, type Core } from '../../src/root.js';
import { waitFor } from '../helpers/integration.js';
import { rejection } from '../helpers/promises.js';
import { SharedLog } from '../helpers/shared-store.js';

const SCOPE = { domain: 'default', project: 'p1' };

/** Replicas of one Alarm Center in one process, sharing one store (see shared-store.ts). */
describe('replicas on a shared store', () => {
  let log: SharedLog;
  const opened: Core[] = [];

  async function replica(options: Omit<AlarmCenterOptions, 'store'> = {}): Promise<Core> {
    const core = await createCore({ followPollMs: 60_000, ...options, store: log.open() });
    opened.push(core);
    return core;
  }

  function record(center: AlarmCenter, since?: number): WatchEvent[] {
    const events: WatchEvent[] = [];
    center.watch(SCOPE, { since, onMessage: (e) => events.push(e) });
    return events;
  }

  beforeEach(() => {
    log = new SharedLog();
  });

  afterEach(async () => {
    for (const c of opened.splice(0)) await c.center.close();
  });

  it('shows a write acknowledged by A in the list, the health and the watchers of B', async () => {
    const a = await replica();
    const b = await replica();
    const watched = record(b.center);

    await a.center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'db-1', fields: { detail: 'refused' } });

    await waitFor('B to list the alarm', () => b.center.list(SCOPE).alarms.length === 1);
    expect(b.center.list(SCOPE)).to.deep.equal(a.center.list(SCOPE));
    expect(await b.center.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse/db-1: refused' });
    await waitFor('B to deliver the change', () => watched.length === 1);
    expect(watched.map((e) => [e.action, e.alarm?.id, e.revision])).to.deep.equal([['RAISE', 'BackendConnectionRefuse', 1]]);
  });

  it('orders every replica’s writes in one sequence that every watcher receives whole', async () => {
    const replicas = [await replica(), await replica(), await replica()];
    const watched = replicas.map((r) => record(r.center));
    const writes = 60;

    await Promise.all(
      Array.from({ length: writes }, (_, i) => (replicas[i % 3] as Core).center.raise(SCOPE, { id: `A${i % 7}`, source: `r${i % 3}`, fields: { n: i } })),
    );

    expect(log.changes.map((c) => c.alarm.revision)).to.deep.equal(Array.from({ length: writes }, (_, i) => i + 1));
    for (const events of watched) await waitFor('every change to reach every watcher', () => events.length === writes);
    const sequences = watched.map((events) => events.map((e) => `${e.revision} ${e.action} ${e.alarm?.id}/${e.alarm?.source}`));
    expect(sequences[1]).to.deep.equal(sequences[0]);
    expect(sequences[2]).to.deep.equal(sequences[0]);
    expect(watched[0]?.map((e) => e.revision)).to.deep.equal(Array.from({ length: writes }, (_, i) => i + 1));
    // A replay from any revision on any replica is exactly the changes after it.
    for (const r of replicas) {
      await waitFor('the replica to apply every change', () => r.parts.index.revision === writes);
      const replay = record(r.center, 40);
      await waitFor('the replay', () => replay.length === writes - 40);
      expect(replay.map((e) => e.revision)).to.deep.equal(Array.from({ length: writes - 40 }, (_, i) => i + 41));
    }
    // The replicas agree on every alarm.
    expect(replicas[1]?.center.list(SCOPE)).to.deep.equal(replicas[0]?.center.list(SCOPE));
    expect(replicas[2]?.center.list(SCOPE)).to.deep.equal(replicas[0]?.center.list(SCOPE));
  });

  it('plans a write again over the changes another replica committed first', async () => {
    const a = await replica();
    const b = await replica();
    await a.center.raise(SCOPE, { id: 'A' });
    // B has not read A's raise yet: its own raise of the same alarm must still count 2.
    const again = await b.center.raise(SCOPE, { id: 'A' });
    expect(again).to.include({ count: 2, revision: 2 });
    expect(log.changes.map((c) => [c.action, c.alarm.count])).to.deep.equal([
      ['raise', 1],
      ['reraise', 2],
    ]);
  });

  it('refuses a write with 503001, and stays healthy, when other replicas win every race for its commit', async () => {
    const store = log.open();
    const core = await createCore({ store, followPollMs: 60_000 });
    opened.push(core);
    store.commit = () => Promise.reject(new StoreConflict(log.revision, log.revision));

    const err = await rejection(core.center.raise(SCOPE, { id: 'A' }));

    expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
    expect((err as AlarmCenterError).detail).to.equal('other replicas committed first 50 times in a row; retry');
    expect((await core.center.ready()).healthy).to.equal(true);
    expect(core.center.list(SCOPE).alarms).to.deep.equal([]);
    expect(await core.center.health(SCOPE)).to.deep.equal({ healthy: true });
  });

  it('reads what a lost notification carried on its next poll', async () => {
    const a = await replica();
    const b = await replica({ followPollMs: 20 });
    // B never hears of A's commit: only its poll finds it.
    log.muted.add(b.parts.store);
    await a.center.raise(SCOPE, { id: 'A' });
    await waitFor('B to poll the change', () => b.center.list(SCOPE).alarms.length === 1);
  });

  it('expires an alarm once, on the replica holding the jobs lease, and on another once it is gone', async () => {
    const a = await replica();
    const b = await replica();
    await a.center.raise(SCOPE, { id: 'Short', ttlSeconds: 1 });
    await a.center.close();
    await waitFor('B to expire the alarm', () => b.center.list(SCOPE).alarms[0]?.status === 'CLEARED', 5000);
    expect(log.changes.filter((c) => c.action === 'expire')).to.have.length(1);
  });

  it('purges cleared alarms only where the jobs lease is held, and at once on the replica taking it over', async () => {
    let now = Date.UTC(2026, 11, 1);
    const options = { clock: () => now, clearedRetentionSeconds: 1, retentionIntervalMs: 3_600_000 };
    const a = await replica(options);
    const b = await replica(options);
    await a.center.raise(SCOPE, { id: 'Old' });
    await a.center.clear(SCOPE, 'Old');
    now += 5000;
    // The holder's next pass is an hour away; B, which is not holding the lease, purges nothing.
    await b.parts.service.sync();
    await b.parts.retention.runOnce();
    expect(log.changes.filter((c) => c.action === 'purge')).to.have.length(0);

    await a.center.close();

    await waitFor('B to purge the alarm', () => b.center.list(SCOPE).alarms.length === 0);
    expect(log.changes.filter((c) => c.action === 'purge')).to.have.length(1);
  });

  it('answers 503001 while the store is unreachable, fails readiness, and catches up once it is back', async () => {
    const a = await replica();
    const b = await replica({ followPollMs: 20 });
    log.down = new Error('connect ECONNREFUSED 127.0.0.1:5432');

    const err = await rejection(b.center.raise(SCOPE, { id: 'A' }));
    expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
    expect((await b.center.ready()).healthy).to.equal(false);
    expect((await b.center.health(SCOPE)).detail).to.equal('BackendConnectionRefuse/alarm-center: connect ECONNREFUSED 127.0.0.1:5432');

    log.down = undefined;
    await a.center.raise(SCOPE, { id: 'B' });
    await waitFor('B to catch up', () => b.center.list(SCOPE).alarms.length === 1);
    await b.center.raise(SCOPE, { id: 'C' });
    expect(b.center.list(SCOPE).alarms.map((x) => `${x.id}/${x.source} ${x.status}`)).to.deep.equal([
      'BackendConnectionRefuse/alarm-center CLEARED',
      'B/ ACTIVATED',
      'C/ ACTIVATED',
    ]);
    expect((await b.center.health(SCOPE)).healthy).to.equal(true);
  });
});
