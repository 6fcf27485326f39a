/**
 * The watchdog of the alerting pipeline (PlanRules in src/alarm/planner.ts), through the core as it
 * runs: alerts sent as Alertmanager's intake sends them, expired by the expirer on a fake clock,
 * AlertingPipelineDown read back from the list, the history and the commits.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { AlarmOp } from '../../../src/alarm/event.js';
import type { AlarmChange } from '../../../src/alarm/model.js';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import type { Lease } from '../../../src/alarm/store.js';
import type { AlarmCenter, AlarmCenterOptions } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { holdCommits } from '../../helpers/integration.js';

const SCOPE = { domain: 'default', project: 'monitoring' };
const OTHER = { domain: 'default', project: 'other' };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const SOURCE = '{prometheus="monitoring/k8s"}';
const DOWN = 'AlertingPipelineDown';
const iso = (ms: number) => new Date(ms).toISOString();

/** An alert as Prometheus keeps sending it through Alertmanager's API: a re-send until `expiresAt`. */
const sent = (id: string, expiresAt: number, source = SOURCE): AlarmOp => ({
  kind: 'raise',
  id,
  source,
  severity: 'indeterminate',
  fields: { labels: { alertname: id }, annotations: {} },
  expiresAt,
  resend: true,
});

/** A lease the test grants and takes back, as a shared store's holder would. */
class TestLease implements Lease {
  private readonly listeners: ((held: boolean) => void)[] = [];

  constructor(public held: boolean) {}

  set(held: boolean): void {
    this.held = held;
    for (const l of this.listeners) l(held);
  }

  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.held = false;
  }
}

describe('Watchdog', () => {
  let clock: FakeTimers.Clock;
  const opened: AlarmCenter[] = [];

  beforeEach(() => {
    // Date and timeouts only: the bus and the store keep running on real I/O turns.
    clock = FakeTimers.install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });

  afterEach(async () => {
    clock.uninstall();
    for (const c of opened.splice(0)) await c.close();
  });

  async function open(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
    const center = await openCore({ dataDir: ':memory:', ...options });
    opened.push(center);
    return center;
  }

  /** A center whose jobs lease the test holds or not. */
  async function openLeased(lease: TestLease): Promise<AlarmCenter> {
    const store = new SqliteStore({ file: ':memory:' });
    Object.assign(store, { lease: () => lease });
    return open({ store });
  }

  const send = (center: AlarmCenter, ops: AlarmOp[], scope = SCOPE) => partsOf(center).service.applyOps(scope, ops);
  const alarm = (center: AlarmCenter, id: string, source = SOURCE, scope = SCOPE) => center.list(scope).alarms.find((a) => a.id === id && a.source === source);
  const downRaises = async (center: AlarmCenter, scope = SCOPE) =>
    (await partsOf(center).store.history(scope, 0, 1000)).filter((e) => e.alarm.id === DOWN && (e.action === 'raise' || e.action === 'reraise')).length;

  /** Waits on real I/O turns, firing fake timers that came due without moving the fake time. */
  async function until(what: string, condition: () => boolean): Promise<void> {
    for (let i = 0; i < 10_000; i += 1) {
      if (condition()) return;
      await clock.tickAsync(0);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /**
   * Waits until every committed change was looked at (the watchdog sees durable changes as the
   * watchers' feed does), then until the writes queued meanwhile are committed, until no more come.
   */
  async function settle(center: AlarmCenter): Promise<void> {
    const { feed, index, service } = partsOf(center);
    for (let round = 0; round < 100; round += 1) {
      await until('the committed changes to be looked at', () => feed.revision >= index.revision);
      const before = index.revision;
      await service.sync();
      await until('the committed changes to be looked at', () => feed.revision >= index.revision);
      if (index.revision === before) return;
    }
    throw new Error('the writes never settled');
  }

  describe('when a watched alert expires', () => {
    it('raises AlertingPipelineDown once, critical, in the scope and with the source of the alert, naming it', async () => {
      const center = await open();
      await send(center, [sent('Watchdog', T0 + 60_000)]);
      await send(center, [sent('Watchdog', T0 + 60_000, '{prometheus="other"}')], OTHER);

      await clock.tickAsync(60_000);
      await until('AlertingPipelineDown', () => alarm(center, DOWN)?.status === 'ACTIVATED');
      await settle(center);

      expect(alarm(center, 'Watchdog')?.status).to.equal('CLEARED');
      expect(alarm(center, DOWN)).to.deep.include({
        severity: 'critical',
        count: 1,
        fields: { detail: `alert Watchdog ${SOURCE} stopped arriving: expected again by ${iso(T0 + 60_000)}`, alert: 'Watchdog' },
      });
      expect(await downRaises(center)).to.equal(1);
      expect(alarm(center, DOWN, '{prometheus="other"}', OTHER)?.status, 'each scope its own').to.equal('ACTIVATED');
      expect(alarm(center, DOWN, SOURCE, OTHER), 'no other scope').to.equal(undefined);
    });

    it('raises it once when two watched alerts of one source expire together', async () => {
      const center = await open({ watchdogAlerts: ['Watchdog', 'DeadMansSwitch'] });
      await send(center, [sent('Watchdog', T0 + 60_000), sent('DeadMansSwitch', T0 + 60_000)]);

      await clock.tickAsync(60_000);
      await until('AlertingPipelineDown', () => alarm(center, DOWN)?.status === 'ACTIVATED');
      await settle(center);

      expect(alarm(center, DOWN)?.count).to.equal(1);
      expect(await downRaises(center)).to.equal(1);
    });

    it('clears it when the alert arrives again, and not before', async () => {
      const center = await open();
      await send(center, [sent('Watchdog', T0 + 60_000)]);
      await clock.tickAsync(60_000);
      await until('AlertingPipelineDown', () => alarm(center, DOWN)?.status === 'ACTIVATED');
      await send(center, [sent('Heartbeat', T0 + 120_000, SOURCE)]);
      await settle(center);
      expect(alarm(center, DOWN)?.status, 'another alert of the source').to.equal('ACTIVATED');

      await send(center, [sent('Watchdog', T0 + 180_000)]);
      await until('AlertingPipelineDown to clear', () => alarm(center, DOWN)?.status === 'CLEARED');
      await settle(center);

      expect(alarm(center, 'Watchdog')).to.deep.include({ status: 'ACTIVATED' });
      expect(await downRaises(center)).to.equal(1);
    });

    it('raises nothing for an alert it does not watch, or a watched one cleared before it expired', async () => {
      const center = await open();
      await send(center, [sent('TargetDown', T0 + 60_000), sent('Watchdog', T0 + 60_000, '{prometheus="b"}')]);
      await send(center, [{ kind: 'clear', id: 'Watchdog', source: '{prometheus="b"}', mustExist: false }]);

      await clock.tickAsync(60_000);
      await until('TargetDown to expire', () => alarm(center, 'TargetDown')?.status === 'CLEARED');
      await settle(center);

      expect(center.list(SCOPE).alarms.map((a) => a.id)).not.to.include(DOWN);
    });

    it('watches the alerts of watchdogAlerts, and none when it is empty', async () => {
      const custom = await open({ watchdogAlerts: ['DeadMansSwitch'] });
      const off = await open({ watchdogAlerts: [] });
      for (const center of [custom, off]) await send(center, [sent('Watchdog', T0 + 60_000), sent('DeadMansSwitch', T0 + 60_000, '{dms="1"}')]);

      await clock.tickAsync(60_000);
      for (const center of [custom, off]) await until('the alerts to expire', () => center.list(SCOPE, { status: 'CLEARED' }).alarms.length === 2);
      await until('AlertingPipelineDown', () => alarm(custom, DOWN, '{dms="1"}')?.status === 'ACTIVATED');
      await settle(custom);
      await settle(off);

      expect(custom.list(SCOPE).alarms.filter((a) => a.id === DOWN).map((a) => a.source)).to.deep.equal(['{dms="1"}']);
      expect(off.list(SCOPE).alarms.map((a) => a.id)).not.to.include(DOWN);
    });
  });

  describe('in the commits themselves', () => {
    it('raises AlertingPipelineDown in the commit of the expiry, so no replica and no restart can miss it', async () => {
      const center = await open();
      await send(center, [sent('Watchdog', T0 + 60_000)]);
      const { store } = partsOf(center);
      const commit = store.commitPipelined?.bind(store) as NonNullable<typeof store.commitPipelined>;
      const commits: string[][] = [];
      store.commitPipelined = (changes: readonly AlarmChange[], extensions) => {
        if (changes.length > 0) commits.push(changes.map((c) => `${c.action} ${c.alarm.id}`));
        return commit(changes, extensions);
      };

      await clock.tickAsync(60_000);
      await until('AlertingPipelineDown', () => alarm(center, DOWN)?.status === 'ACTIVATED');

      expect(commits).to.deep.equal([['expire Watchdog', `raise ${DOWN}`]]);
    });

    it('raises it with the expiry and clears it with the new activation when the alert arrives again right after', async () => {
      const center = await open();
      await send(center, [sent('Watchdog', T0 + 60_000)]);
      const held = holdCommits({ center, parts: partsOf(center) });
      const blocker = send(center, [sent('Blocker', T0 + 600_000, '')]);
      await held.entered;

      // The expiry is queued behind the held commit, and the alert arrives again behind it.
      await clock.tickAsync(60_000);
      const again = send(center, [sent('Watchdog', T0 + 120_000)]);
      held.release();
      await Promise.all([blocker, again]);
      await settle(center);

      expect((await partsOf(center).store.history(SCOPE, 0, 100)).map((e) => [e.action, e.alarm.id])).to.deep.equal([
        ['raise', 'Watchdog'],
        ['raise', 'Blocker'],
        ['expire', 'Watchdog'],
        ['raise', DOWN],
        ['raise', 'Watchdog'],
        ['clear', DOWN],
      ]);
      expect(alarm(center, DOWN)?.status).to.equal('CLEARED');
    });
  });

  describe('with a lease (replicas)', () => {
    it('raises nothing on a replica without the jobs lease, which expires nothing', async () => {
      const lease = new TestLease(false);
      const center = await openLeased(lease);
      await send(center, [sent('Watchdog', T0 + 60_000)]);

      await clock.tickAsync(120_000);
      await settle(center);

      expect(alarm(center, 'Watchdog')?.status).to.equal('ACTIVATED');
      expect(alarm(center, DOWN)).to.equal(undefined);
    });

    it('raises it on the replica taking the lease over, with the overdue expiry it writes', async () => {
      const lease = new TestLease(false);
      const center = await openLeased(lease);
      await send(center, [sent('Watchdog', T0 + 60_000)]);
      await clock.tickAsync(120_000);

      lease.set(true);
      await until('AlertingPipelineDown', () => alarm(center, DOWN)?.status === 'ACTIVATED');
      await settle(center);

      expect(alarm(center, 'Watchdog')?.status).to.equal('CLEARED');
      expect(await downRaises(center)).to.equal(1);
    });
  });
});
