/**
 * Acknowledgements with a TTL, end to end through an Alarm Center: withdrawn at their deadline
 * (an UNACK by "ack expired" in the history and to watchers), replaced by a new ack, kept by a
 * re-raise, ended by a clear, and over a restart on every store: what ran out while stopped is
 * withdrawn at start-up, once even with two replicas, and what did not is withdrawn at its
 * deadline.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { AlarmCenter, HistoryEntryJson, WatchEvent } from '../../../src/center.js';
import type { AlarmStore } from '../../../src/alarm/store.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { waitFor } from '../../helpers/integration.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { STORE_KINDS, type StorePlace } from '../../helpers/postgres.js';

const iso = (ms: number): string => new Date(ms).toISOString();

const SCOPE = { domain: 'default', project: 'acks' };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const TTL = 60;
const DEADLINE = T0 + TTL * 1000;

/** The alarm `id` as listed. */
const listed = (center: AlarmCenter, id = 'A') => center.list(SCOPE).alarms.find((a) => a.id === id);

/** The scope's history as [action, alarm id, by] (by absent as undefined). */
async function changes(center: AlarmCenter): Promise<[string, string, string | undefined][]> {
  const { history } = await center.history(SCOPE);
  return history.map((e: HistoryEntryJson) => [e.action, e.alarm.id, e.by]);
}

/** Waits on real I/O turns until `probe` holds, firing the fake timers that came due without moving the fake time. */
async function until(what: string, probe: () => boolean, clock: FakeTimers.Clock): Promise<void> {
  for (let i = 0; i < 10_000; i += 1) {
    if (probe()) return;
    await clock.tickAsync(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`never: ${what}`);
}

describe('acknowledgements with a TTL', () => {
  let clock: FakeTimers.Clock;
  let center: AlarmCenter;

  beforeEach(async () => {
    // Date and timeouts only: the bus and the store keep running on real I/O.
    clock = FakeTimers.install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    center = await openCore({ dataDir: ':memory:' });
  });

  afterEach(async () => {
    await center.close();
    clock.uninstall();
  });

  it('withdraws the acknowledgement at its deadline, not before: one UNACK by "ack expired", which a watcher receives', async () => {
    await center.raise(SCOPE, { id: 'A', ttlSeconds: 3600 });
    const events: WatchEvent[] = [];
    center.watch(SCOPE, { onMessage: (e) => events.push(e) });
    const acked = await center.ack(SCOPE, 'A', { by: 'ops', comment: 'on it', ttlSeconds: TTL });
    expect(acked).to.deep.include({ acknowledged: true, ackedBy: 'ops', ackExpiresAt: iso(DEADLINE) });

    await clock.tickAsync(TTL * 1000 - 1);
    await partsOf(center).service.sync();
    expect(listed(center)).to.deep.include({ acknowledged: true, ackExpiresAt: iso(DEADLINE) });
    await clock.tickAsync(1);
    await until('the acknowledgement is withdrawn', () => listed(center)?.acknowledged === false, clock);

    const alarm = listed(center);
    expect(alarm).to.deep.include({ status: 'ACTIVATED', updatedAt: iso(DEADLINE), revision: 3, expiresAt: iso(T0 + 3600_000) });
    expect(alarm).not.to.have.any.keys('ackedBy', 'ackedAt', 'ackComment', 'ackExpiresAt');
    await clock.tickAsync(TTL * 1000);
    await partsOf(center).service.sync();
    expect(await changes(center)).to.deep.equal([
      ['RAISE', 'A', undefined],
      ['ACK', 'A', 'ops'],
      ['UNACK', 'A', 'ack expired'],
    ]);
    await until('the watcher has both changes', () => events.length >= 2, clock);
    expect(events.map((e) => [e.action, e.revision, e.alarm?.acknowledged])).to.deep.equal([
      ['ACK', 2, true],
      ['UNACK', 3, false],
    ]);
  });

  it('takes the deadline of the last ack, keeps it over a re-raise, and drops it with a clear', async () => {
    await center.apply(SCOPE, ['Renewed', 'Untimed', 'Reraised', 'Cleared'].map((id) => ({ id })));
    for (const id of ['Renewed', 'Untimed', 'Reraised', 'Cleared']) await center.ack(SCOPE, id, { by: 'ops', ttlSeconds: TTL });
    await clock.tickAsync(30_000);
    const renewed = await center.ack(SCOPE, 'Renewed', { by: 'lead', ttlSeconds: TTL });
    const untimed = await center.ack(SCOPE, 'Untimed', { by: 'lead' });
    const reraised = await center.raise(SCOPE, { id: 'Reraised' });
    await center.clear(SCOPE, 'Cleared');
    expect(renewed.ackExpiresAt).to.equal(iso(T0 + 90_000));
    expect(untimed).to.include({ acknowledged: true }).and.not.to.have.property('ackExpiresAt');
    expect(reraised).to.include({ acknowledged: true, count: 2, ackExpiresAt: iso(DEADLINE) });

    await clock.tickAsync(30_000);
    await until('the re-raised alarm is unacknowledged', () => listed(center, 'Reraised')?.acknowledged === false, clock);
    expect(['Renewed', 'Untimed'].map((id) => listed(center, id)?.acknowledged)).to.deep.equal([true, true]);
    await clock.tickAsync(30_000);
    await until('the renewed one is unacknowledged', () => listed(center, 'Renewed')?.acknowledged === false, clock);
    await clock.tickAsync(600_000);
    await partsOf(center).service.sync();

    expect(listed(center, 'Untimed')?.acknowledged).to.equal(true);
    expect((await changes(center)).filter(([action]) => action === 'UNACK')).to.deep.equal([
      ['UNACK', 'Reraised', 'ack expired'],
      ['UNACK', 'Renewed', 'ack expired'],
    ]);
  });
});

for (const kind of STORE_KINDS) {
  describe(`acknowledgements with a TTL over a restart: ${kind.name}`, () => {
    let place: StorePlace;
    const opened: AlarmCenter[] = [];

    beforeEach(async function () {
      place = await kind.place(this);
    });

    afterEach(async () => {
      for (const c of opened.splice(0)) await c.close();
      await place?.dispose();
    });

    async function open(clock: ManualClock, store?: AlarmStore): Promise<AlarmCenter> {
      const center = await openCore({ store: store ?? (await place.open()), clock: clock.now, followPollMs: 50 });
      opened.push(center);
      return center;
    }

    /** An instance that acknowledged alarm A at T0 for TTL seconds, then stopped. */
    async function ackedThenStopped(clock: ManualClock): Promise<void> {
      const first = await open(clock);
      await first.raise(SCOPE, { id: 'A' });
      await first.ack(SCOPE, 'A', { by: 'ops', ttlSeconds: TTL });
      await first.close();
      opened.splice(opened.indexOf(first), 1);
    }

    it(`withdraws at start-up, once${kind.shared ? ' for two replicas' : ''}, an acknowledgement that ran out while stopped`, async () => {
      const clock = new ManualClock(T0);
      await ackedThenStopped(clock);
      clock.advance(TTL * 1000 * 2);

      const replicas = kind.shared ? [await open(clock), await open(clock)] : [await open(clock)];

      for (const r of replicas) {
        await waitFor('the withdrawal in the history', async () => {
          await partsOf(r).service.sync();
          return listed(r)?.acknowledged === false && (await changes(r)).length === 3;
        });
      }
      expect(listed(replicas[0] as AlarmCenter)).to.deep.include({ updatedAt: iso(DEADLINE), revision: 3 });
      expect(await changes(replicas[0] as AlarmCenter)).to.deep.equal([
        ['RAISE', 'A', undefined],
        ['ACK', 'A', 'ops'],
        ['UNACK', 'A', 'ack expired'],
      ]);
      for (const r of opened.splice(0)) await r.close();
      const again = await open(clock);
      expect(listed(again)).to.deep.include({ acknowledged: false, revision: 3 });
      expect((await changes(again)).filter(([action]) => action === 'UNACK'), 'withdrawn once').to.have.length(1);
    });

    it('keeps an acknowledgement that had not run out when it started, and withdraws it at its deadline', async () => {
      const clock = new ManualClock(T0);
      await ackedThenStopped(clock);
      // Just before the deadline: the expirer looks again every few milliseconds, finding it not yet due.
      clock.advance(TTL * 1000 - 20);

      const center = await open(clock);
      await partsOf(center).service.sync();
      expect(listed(center)).to.deep.include({ acknowledged: true, ackExpiresAt: iso(DEADLINE) });
      clock.advance(20);

      await waitFor('the withdrawal in the history', async () => (await changes(center)).length === 3);
      expect(listed(center)).to.deep.include({ updatedAt: iso(DEADLINE), revision: 3 });
      expect((await changes(center)).map(([action, , by]) => [action, by])).to.deep.equal([
        ['RAISE', undefined],
        ['ACK', 'ops'],
        ['UNACK', 'ack expired'],
      ]);
    });
  });
}
