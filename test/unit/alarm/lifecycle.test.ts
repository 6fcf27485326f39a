import * as FakeTimers from '@sinonjs/fake-timers';

type InstalledClock = FakeTimers.Clock;
import { expect } from 'chai';
import type { AlarmOp } from '../../../src/alarm/event.js';
import { type AlarmCenter, type WatchEvent } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { AlarmCenterError } from '../../../src/errors.js';
import { removeDir, tempDir } from '../../helpers/integration.js';
import { rejection } from '../../helpers/promises.js';

/** A time as the API writes it. */
const iso = (ms: number): string => new Date(ms).toISOString();

const SCOPE = { domain: 'default', project: 'life' };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('alarm lifecycle', () => {
  const opened: AlarmCenter[] = [];
  let clock: InstalledClock | undefined;

  async function open(dataDir = ':memory:'): Promise<AlarmCenter> {
    const center = await openCore({ dataDir });
    opened.push(center);
    return center;
  }

  /** Fakes Date and timeouts only: the bus and the store's syncs keep running on real I/O. */
  function fakeTime(): InstalledClock {
    clock = FakeTimers.install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    return clock;
  }

  afterEach(async () => {
    clock?.uninstall();
    clock = undefined;
    for (const c of opened.splice(0)) await c.close();
  });

  const history = async (center: AlarmCenter) => (await partsOf(center).store.history(SCOPE, 0, 100)).map((e) => [e.action, e.alarm.id, e.alarm.status]);

  describe('expiry', () => {
    it('clears an alarm not raised again within its TTL as EXPIRE, at the time it expired', async () => {
      const t = fakeTime();
      const center = await open();
      const raised = await center.raise(SCOPE, { id: 'Heartbeat', ttlSeconds: 60 });
      expect(raised.expiresAt).to.equal(iso(T0 + 60_000));

      await t.tickAsync(59_999);
      expect(center.list(SCOPE).alarms[0]?.status).to.equal('ACTIVATED');
      await t.tickAsync(1);
      await waitForStatus(center, 'Heartbeat', 'CLEARED', t);

      const alarm = center.list(SCOPE).alarms[0];
      expect(alarm).to.deep.include({ status: 'CLEARED', clearedAt: iso(T0 + 60_000), updatedAt: iso(T0 + 60_000) });
      expect(alarm?.expiresAt).to.equal(undefined);
      expect(await history(center)).to.deep.equal([
        ['raise', 'Heartbeat', 'ACTIVATED'],
        ['expire', 'Heartbeat', 'CLEARED'],
      ]);
    });

    it('starts the TTL again at each raise, and forgets it on a clear or a raise without one', async () => {
      const t = fakeTime();
      const center = await open();
      await center.raise(SCOPE, { id: 'A', ttlSeconds: 60 });
      await center.raise(SCOPE, { id: 'B', ttlSeconds: 60 });
      await center.raise(SCOPE, { id: 'C', ttlSeconds: 60 });
      await t.tickAsync(30_000);
      await center.raise(SCOPE, { id: 'A', ttlSeconds: 60 });
      await center.raise(SCOPE, { id: 'B' });
      await center.clear(SCOPE, 'C');
      await t.tickAsync(40_000);
      // Past B's and C's first expiry: neither expires; A's TTL restarted.
      expect(center.list(SCOPE).alarms.map((a) => [a.id, a.status])).to.deep.equal([
        ['A', 'ACTIVATED'],
        ['B', 'ACTIVATED'],
        ['C', 'CLEARED'],
      ]);
      await t.tickAsync(20_000);
      await waitForStatus(center, 'A', 'CLEARED', t);
      expect(center.list(SCOPE).alarms.find((a) => a.id === 'A')?.clearedAt).to.equal(iso(T0 + 90_000));
      expect((await history(center)).filter(([action]) => action === 'expire')).to.deep.equal([['expire', 'A', 'CLEARED']]);
    });

    it('expires at start-up what ran out while Alarm Center was down, at the time it expired', async () => {
      const dir = tempDir('expiry');
      try {
        const t = fakeTime();
        const first = await open(dir);
        await first.raise(SCOPE, { id: 'Overdue', ttlSeconds: 60 });
        await first.raise(SCOPE, { id: 'Later', ttlSeconds: 600 });
        await first.close();

        await t.tickAsync(300_000);
        const second = await open(dir);
        await waitForStatus(second, 'Overdue', 'CLEARED', t);
        expect(second.list(SCOPE).alarms.map((a) => [a.id, a.status, a.clearedAt])).to.deep.equal([
          ['Later', 'ACTIVATED', undefined],
          ['Overdue', 'CLEARED', iso(T0 + 60_000)],
        ]);
        await t.tickAsync(300_000);
        await waitForStatus(second, 'Later', 'CLEARED', t);
        expect(second.list(SCOPE).alarms.find((a) => a.id === 'Later')?.clearedAt).to.equal(iso(T0 + 600_000));
      } finally {
        clock?.uninstall();
        clock = undefined;
        for (const c of opened.splice(0)) await c.close();
        removeDir(dir);
      }
    });

    it('refuses a TTL that is not a whole number of seconds from 1 to a year', async () => {
      const center = await open();
      for (const ttlSeconds of [0, -1, 1.5, 366 * 24 * 3600 + 1]) {
        const err = await rejection(center.raise(SCOPE, { id: 'A', ttlSeconds }));
        expect(err).to.be.instanceOf(AlarmCenterError);
        expect((err as AlarmCenterError).detail).to.match(/^ttlSeconds: /);
      }
    });
  });

  describe('re-sends', () => {
    /** Prometheus's re-send of a firing alert: the same alarm, fields and severity, a later expiry. */
    const resend = (expiresAt: number, fields: Record<string, string> = { summary: 'target down' }): AlarmOp => ({
      kind: 'raise', id: 'TargetDown', source: 'job=node', severity: 'major', fields, expiresAt, resend: true,
    });
    const watched = (center: AlarmCenter): WatchEvent[] => {
      const events: WatchEvent[] = [];
      center.watch(SCOPE, { onMessage: (e) => events.push(e) });
      return events;
    };

    it('moves only the expiry of an unchanged firing alarm: no count, no history entry, no watcher message; it expires at the new expiry', async () => {
      const t = fakeTime();
      const center = await open();
      const { service } = partsOf(center);
      await service.applyOps(SCOPE, [resend(T0 + 60_000)]);
      const events = watched(center);
      await t.tickAsync(30_000);

      const answer = await service.applyOps(SCOPE, [resend(T0 + 120_000)]);

      expect(answer.revision).to.equal(1);
      expect(answer.alarms.map((a) => [a.count, a.revision, a.expiresAt])).to.deep.equal([[1, 1, T0 + 120_000]]);
      expect(center.list(SCOPE).alarms.map((a) => [a.id, a.status, a.count, a.revision, a.updatedAt, a.expiresAt])).to.deep.equal([
        ['TargetDown', 'ACTIVATED', 1, 1, iso(T0), iso(T0 + 120_000)],
      ]);
      expect(center.list(SCOPE).revision).to.equal(1);
      expect(await history(center)).to.deep.equal([['raise', 'TargetDown', 'ACTIVATED']]);

      // Past the old expiry: nothing expires (any write the expirer made would be committed before the sync).
      await t.tickAsync(31_000);
      await service.sync();
      expect(center.list(SCOPE).alarms[0]?.status).to.equal('ACTIVATED');

      await t.tickAsync(59_000);
      await waitForStatus(center, 'TargetDown', 'CLEARED', t);
      expect(center.list(SCOPE).alarms[0]).to.deep.include({ clearedAt: iso(T0 + 120_000), count: 1 });
      expect(await history(center)).to.deep.equal([
        ['raise', 'TargetDown', 'ACTIVATED'],
        ['expire', 'TargetDown', 'CLEARED'],
      ]);
      await waitForEvents(events, 1, t);
      expect(events.map((e) => [e.revision, e.action, e.alarm?.id]), 'the watcher got the expiry and nothing for the re-send').to.deep.equal([
        [2, 'EXPIRE', 'TargetDown'],
      ]);
    });

    it('re-raises an alarm re-sent with other fields as any raise: count 2, a history entry and a watcher message', async () => {
      const t = fakeTime();
      const center = await open();
      const { service } = partsOf(center);
      await service.applyOps(SCOPE, [resend(T0 + 60_000)]);
      const events = watched(center);

      const answer = await service.applyOps(SCOPE, [resend(T0 + 120_000, { summary: 'target down: connection refused' })]);

      expect(answer.alarms.map((a) => [a.count, a.revision, a.expiresAt])).to.deep.equal([[2, 2, T0 + 120_000]]);
      expect(await history(center)).to.deep.equal([
        ['raise', 'TargetDown', 'ACTIVATED'],
        ['reraise', 'TargetDown', 'ACTIVATED'],
      ]);
      await waitForEvents(events, 1, t);
      expect(events.map((e) => [e.revision, e.action, e.alarm?.count])).to.deep.equal([[2, 'RERAISE', 2]]);
    });

    it('keeps a moved expiry over a restart: the alarm expires at it, not at the one its raise set', async () => {
      const dir = tempDir('resend');
      try {
        const t = fakeTime();
        const first = await open(dir);
        await partsOf(first).service.applyOps(SCOPE, [resend(T0 + 60_000)]);
        await partsOf(first).service.applyOps(SCOPE, [resend(T0 + 120_000)]);
        await first.close();

        const second = await open(dir);
        expect(second.list(SCOPE).alarms.map((a) => [a.status, a.count, a.revision, a.expiresAt])).to.deep.equal([['ACTIVATED', 1, 1, iso(T0 + 120_000)]]);
        await t.tickAsync(61_000);
        await partsOf(second).service.sync();
        expect(second.list(SCOPE).alarms[0]?.status, 'past the old expiry').to.equal('ACTIVATED');
        await t.tickAsync(59_000);
        await waitForStatus(second, 'TargetDown', 'CLEARED', t);
        expect(second.list(SCOPE).alarms[0]?.clearedAt).to.equal(iso(T0 + 120_000));
        expect((await history(second)).map(([action]) => action)).to.deep.equal(['raise', 'expire']);
      } finally {
        clock?.uninstall();
        clock = undefined;
        for (const c of opened.splice(0)) await c.close();
        removeDir(dir);
      }
    });
  });

  describe('acknowledgement', () => {
    it('records who acknowledged, when and why; a re-raise keeps it, a clear ends it', async () => {
      const t = fakeTime();
      const center = await open();
      await center.raise(SCOPE, { id: 'A' });
      await t.tickAsync(1000);
      const acked = await center.ack(SCOPE, 'A', { by: 'ops', comment: 'looking' });
      expect(acked).to.deep.include({ ackedBy: 'ops', ackedAt: iso(T0 + 1000), ackComment: 'looking', status: 'ACTIVATED' });

      const reraised = await center.raise(SCOPE, { id: 'A' });
      expect(reraised).to.deep.include({ ackedBy: 'ops', count: 2 });

      const cleared = await center.clear(SCOPE, 'A');
      expect(cleared.ackedAt).to.equal(undefined);
      const again = await center.raise(SCOPE, { id: 'A' });
      expect(again.ackedAt, 'a new activation starts unacknowledged').to.equal(undefined);
      expect(await history(center)).to.deep.equal([
        ['raise', 'A', 'ACTIVATED'],
        ['ack', 'A', 'ACTIVATED'],
        ['reraise', 'A', 'ACTIVATED'],
        ['clear', 'A', 'CLEARED'],
        ['raise', 'A', 'ACTIVATED'],
      ]);
    });

    it('unacks, answering an unacknowledged alarm unchanged', async () => {
      const center = await open();
      await center.raise(SCOPE, { id: 'A', source: 's' });
      const before = await center.unack(SCOPE, 'A', 's');
      expect(before.revision).to.equal(1);
      await center.ack(SCOPE, 'A', { by: 'ops', source: 's' });
      const after = await center.unack(SCOPE, 'A', 's');
      expect(after.ackedAt).to.equal(undefined);
      expect(after.revision).to.equal(3);
      expect((await history(center)).map(([action]) => action)).to.deep.equal(['raise', 'ack', 'unack']);
    });

    it('refuses to acknowledge an unknown alarm (404001) or a CLEARED one (400001)', async () => {
      const center = await open();
      expect(await rejection(center.ack(SCOPE, 'Nope', { by: 'ops' }))).to.have.property('code', '404001');
      await center.raise(SCOPE, { id: 'A' });
      await center.clear(SCOPE, 'A');
      const err = await rejection(center.ack(SCOPE, 'A', { by: 'ops' }));
      expect(err).to.have.property('code', '400001');
      expect((err as AlarmCenterError).detail).to.match(/is CLEARED: only an ACTIVATED alarm can be acknowledged/);
      expect(await rejection(center.unack(SCOPE, 'Nope'))).to.have.property('code', '404001');
    });

    it('survives a restart', async () => {
      const dir = tempDir('ack');
      try {
        const first = await open(dir);
        await first.raise(SCOPE, { id: 'A', ttlSeconds: 3600 });
        await first.ack(SCOPE, 'A', { by: 'ops', comment: 'known' });
        await first.close();
        const second = await open(dir);
        expect(second.list(SCOPE).alarms[0]).to.deep.include({ ackedBy: 'ops', ackComment: 'known' });
        expect(second.list(SCOPE).alarms[0]?.expiresAt).to.be.a('string');
      } finally {
        for (const c of opened.splice(0)) await c.close();
        removeDir(dir);
      }
    });
  });

  describe('bulk clear', () => {
    async function seeded(): Promise<AlarmCenter> {
      const center = await open();
      await center.apply(SCOPE, [
        { id: 'A', source: 's1', severity: 'critical' },
        { id: 'A', source: 's2', severity: 'minor' },
        { id: 'B', source: 's1', severity: 'minor' },
        { id: 'C', source: 's3', severity: 'critical' },
        { id: 'D', source: 's1', severity: 'major', status: 'ACTIVATED' },
      ]);
      await center.clear(SCOPE, 'D', 's1');
      return center;
    }
    const active = (c: AlarmCenter) => c.list(SCOPE, { status: 'ACTIVATED' }).alarms.map((a) => `${a.id}/${a.source}`);

    it('clears by ids, in one commit', async () => {
      const center = await seeded();
      const r = await center.clearMatching(SCOPE, { ids: ['A', 'D'] });
      expect(r.count).to.equal(2);
      expect(r.revision).to.equal(8);
      expect(active(center)).to.deep.equal(['B/s1', 'C/s3']);
    });

    it('clears by source', async () => {
      const center = await seeded();
      expect((await center.clearMatching(SCOPE, { source: 's1' })).count).to.equal(2);
      expect(active(center)).to.deep.equal(['A/s2', 'C/s3']);
    });

    it('clears by severity, and by several criteria together', async () => {
      const center = await seeded();
      expect((await center.clearMatching(SCOPE, { severity: 'critical', source: 's3' })).count).to.equal(1);
      expect((await center.clearMatching(SCOPE, { severity: 'minor' })).count).to.equal(2);
      expect(active(center)).to.deep.equal(['A/s1']);
    });

    it('refuses an empty selector', async () => {
      const center = await seeded();
      const err = await rejection(center.clearMatching(SCOPE, {}));
      expect(err).to.have.property('code', '400001');
      expect(active(center)).to.have.length(4);
    });
  });
});

/**
 * Waits, on real I/O turns, until the alarm has the status (the expiry write goes through the
 * bus and the store), firing fake timers that came due meanwhile without moving the fake time.
 */
async function waitForStatus(center: AlarmCenter, id: string, status: string, clock?: FakeTimers.Clock): Promise<void> {
  for (let i = 0; i < 10_000; i += 1) {
    if (center.list(SCOPE).alarms.find((a) => a.id === id)?.status === status) return;
    await clock?.tickAsync(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`${id} never became ${status}`);
}

/** Waits, as waitForStatus does, until the watcher received `n` messages. */
async function waitForEvents(events: readonly WatchEvent[], n: number, clock: FakeTimers.Clock): Promise<void> {
  for (let i = 0; i < 10_000; i += 1) {
    if (events.length >= n) return;
    await clock.tickAsync(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`the watcher received ${events.length} messages, never ${n}`);
}
