import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import winston from 'winston';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import type { Alarm, AlarmChange } from '../../../src/alarm/model.js';
import type { Lease } from '../../../src/alarm/store.js';
import { loadConfig } from '../../../src/config.js';
import { createSilentLogger } from '../../../src/logger.js';
import { AlertmanagerForwarder, backoffFor } from '../../../src/notify/alertmanager-forwarder.js';
import { LogCapture } from '../../helpers/differential.js';
import { FakeAlertmanagers, alarm, cleared, metricOf } from './fake-alertmanager.js';

const AM1 = 'http://am-1:9093';
const AM2 = 'http://am-2:9093';
const RESEND_S = 10;
const T0 = 1_000_000;

/** A lease the test gives and takes. */
class TestLease implements Lease {
  held = false;
  private readonly listeners: ((held: boolean) => void)[] = [];

  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  set(held: boolean): void {
    this.held = held;
    for (const l of this.listeners) l(held);
  }

  async close(): Promise<void> {}
}

describe('AlertmanagerForwarder', () => {
  let clock: FakeTimers.Clock;
  let am: FakeAlertmanagers;
  let index: AlarmIndex;
  let registry: Registry;
  let forwarder: AlertmanagerForwarder;

  const create = (options: { lease?: Lease; alertmanagers?: string[]; maxPending?: number; pace?: () => Promise<void> } = {}) => {
    forwarder = new AlertmanagerForwarder({
      alertmanagers: (options.alertmanagers ?? [AM1]).map((url) => ({ url })),
      resendSeconds: RESEND_S,
      baseUrl: () => 'http://ac',
      index,
      lease: options.lease,
      logger: createSilentLogger(),
      registry,
      post: am.post,
      ...(options.maxPending !== undefined && { tuning: { maxPending: options.maxPending } }),
      ...(options.pace && { pace: options.pace }),
    });
    return forwarder;
  };
  /** Commits changes to the index and tells the forwarder, as the ALARM subscriber does. */
  const commit = (...changes: AlarmChange[]) => {
    index.apply(changes);
    forwarder.changed(changes);
  };
  const raise = (a: Alarm): AlarmChange => ({ action: 'raise', alarm: a, removed: false, at: Date.now() });
  const clear = (a: Alarm): AlarmChange => ({ action: 'clear', alarm: cleared(a, Date.now()), removed: false, at: Date.now() });

  beforeEach(() => {
    clock = FakeTimers.install({ now: T0, toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    am = new FakeAlertmanagers();
    index = new AlarmIndex();
    registry = new Registry();
  });

  afterEach(() => {
    forwarder.close();
    clock.uninstall();
  });

  describe('#start', () => {
    it('sends the active alarms at once, then again every resend interval, each ending 4 intervals after it is sent', async () => {
      index.load([alarm('A'), cleared(alarm('B'), 10), alarm('C', { revision: 2 })], 2);
      create().start();

      await clock.tickAsync(10);
      await clock.tickAsync(RESEND_S * 1000 * 2);

      // Within a millisecond of each interval (a timer of 0 ms set by a timer fires 1 ms later under fake timers).
      expect(am.received.map((r) => [Math.round((r.at - T0) / 1000), r.alerts.map((a) => a.labels.alertname)])).to.deep.equal([
        [0, ['A', 'C']],
        [10, ['A', 'C']],
        [20, ['A', 'C']],
      ]);
      expect(am.received.every((r) => r.alerts.every((a) => a.endsAt === new Date(r.at + 40_000).toISOString()))).to.equal(true);
    });

    it('sends nothing before it starts, and nothing without Alertmanagers', async () => {
      index.load([alarm('A')], 1);
      create();
      commit(raise(alarm('B', { revision: 2 })));
      await clock.tickAsync(RESEND_S * 1000);
      expect(am.received).to.deep.equal([]);
      forwarder.close();
      registry = new Registry();

      create({ alertmanagers: [] }).start();
      commit(raise(alarm('C', { revision: 3 })));
      await clock.tickAsync(RESEND_S * 1000);
      expect(am.received).to.deep.equal([]);
    });
  });

  describe('#changed', () => {
    it('sends a raise within the batch wait, and its clear', async () => {
      create().start();
      await clock.tickAsync(10);
      const a = alarm('A');

      commit(raise(a));
      expect(am.received, 'nothing on the writer\u2019s turn').to.deep.equal([]);
      await clock.tickAsync(100);
      commit(clear(a));
      await clock.tickAsync(100);

      expect(am.received.map((r) => [r.at - T0, r.alerts.map((x) => [x.labels.alertname, x.endsAt])])).to.deep.equal([
        [110, [['A', new Date(T0 + 110 + 40_000).toISOString()]]],
        [210, [['A', new Date(T0 + 110).toISOString()]]],
      ]);
    });

    it('sends to each Alertmanager on its own: a dead one delays neither the writer nor the other', async () => {
      am.answer = (url) => (url.startsWith(AM1) ? 'hang' : 200);
      create({ alertmanagers: [AM1, AM2] }).start();

      commit(raise(alarm('A')));
      await clock.tickAsync(100);
      commit(raise(alarm('B', { revision: 2 })));
      await clock.tickAsync(100);

      expect(am.names(`${AM2}/api/v2/alerts`)).to.deep.equal([['A'], ['B']]);
      expect(am.names(`${AM1}/api/v2/alerts`), 'one request, still waiting').to.deep.equal([['A']]);
      expect(await metricOf(registry, 'alarm_center_alertmanager_queue_length', AM1)).to.equal(1);
      expect(await metricOf(registry, 'alarm_center_alertmanager_queue_length', AM2)).to.equal(0);
    });
  });

  describe('for a source that can wait (the notifications thread)', () => {
    it('is busy once every Alertmanager that answers has half its queue used; one that fails does not count', async () => {
      am.answer = (url) => (url.startsWith(AM1) ? 'hang' : new Error('connect ECONNREFUSED'));
      create({ alertmanagers: [AM1, AM2], maxPending: 4 }).start();
      commit(raise(alarm('A')));
      await clock.tickAsync(100);
      // AM1 holds A in its one request; AM2 failed and backs off.
      commit(raise(alarm('B', { revision: 2 })));
      expect(forwarder.busy, 'one of 4 queued at AM1').to.equal(false);
      commit(raise(alarm('C', { revision: 3 })));
      expect(forwarder.busy, 'two of 4 queued at AM1').to.equal(true);
      am.answer = () => 'hang';
      await clock.tickAsync(60_000);
      expect(forwarder.busy, 'AM2 answers again, with room').to.equal(false);
    });

    it('waits for its pace before each request, and takes what was queued meanwhile', async () => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      create({ pace: () => gate }).start();
      commit(raise(alarm('A')));
      await clock.tickAsync(1000);
      expect(am.received).to.deep.equal([]);
      commit(raise(alarm('B', { revision: 2 })));
      open();
      await clock.tickAsync(0);
      expect(am.names(`${AM1}/api/v2/alerts`)).to.deep.equal([['A', 'B']]);
    });
  });

  describe('failures', () => {
    it('retries no later than the next resend would come, when that is sooner than the backoff', async () => {
      expect(backoffFor({ initialMs: 2000, maxMs: 60_000 }, 60_000)).to.deep.equal({ initialMs: 2000, maxMs: 60_000 });
      expect(backoffFor({ initialMs: 2000, maxMs: 60_000 }, 10_000)).to.deep.equal({ initialMs: 2000, maxMs: 10_000 });
      expect(backoffFor({ initialMs: 2000, maxMs: 60_000 }, 1000)).to.deep.equal({ initialMs: 1000, maxMs: 1000 });

      index.load([alarm('A')], 1);
      am.answer = () => new Error('connect ECONNREFUSED');
      create().start();
      await clock.tickAsync(60_000);

      const gaps = am.received.slice(1).map((r, i) => Math.round((r.at - (am.received[i]?.at ?? 0)) / 1000));
      expect(gaps.slice(0, 5)).to.deep.equal([2, 4, 8, 10, 10]);
    });
  });

  describe('secrets', () => {
    it('names an Alertmanager by its URL without credentials in logs and metrics, and sends them only in the header', async () => {
      const logs = new LogCapture();
      index.load([alarm('A')], 1);
      am.answer = () => new Error('connect ECONNREFUSED');
      forwarder = new AlertmanagerForwarder({
        alertmanagers: loadConfig([], { ALARM_CENTER_ALERTMANAGER_URLS: 'http://ac:pa55w0rd@am-1:9093' }).config.alertmanagers,
        resendSeconds: RESEND_S,
        baseUrl: () => 'http://ac',
        index,
        logger: winston.createLogger({ level: 'debug', transports: [logs] }),
        registry,
        post: am.post,
      });
      forwarder.start();
      await clock.tickAsync(5000);

      expect(am.received[0]?.url).to.equal(`${AM1}/api/v2/alerts`);
      expect(am.received[0]?.headers.authorization).to.equal(`Basic ${Buffer.from('ac:pa55w0rd').toString('base64')}`);
      expect(logs.entries.map((e) => e.message)).to.include.members(['forwarding alarms to alertmanagers', 'alertmanager unavailable; alerts kept for a retry']);
      const told = JSON.stringify(logs.entries) + (await registry.metrics());
      expect(told).to.contain(AM1);
      expect(told).not.to.match(/pa55w0rd|cGE1NXcwcmQ|YWM6cGE1NXcwcmQ/);
    });
  });

  describe('no loops', () => {
    it('never sends an alarm that came from an Alertmanager webhook: not its raise, its resend or its clear', async () => {
      const fromWebhook = alarm('HostDown', { fields: { labels: { alertname: 'HostDown', instance: 'h1' }, externalURL: 'http://alertmanager:9093' } });
      create().start();

      commit(raise(fromWebhook), raise(alarm('Own', { revision: 2 })));
      await clock.tickAsync(RESEND_S * 1000);
      commit(clear(fromWebhook));
      await clock.tickAsync(RESEND_S * 1000);

      expect(am.names().flat()).to.include('Own');
      expect(am.names().flat()).not.to.include('HostDown');
    });
  });

  describe('with a lease', () => {
    it('sends nothing while another replica holds it', async () => {
      index.load([alarm('A')], 1);
      create({ lease: new TestLease() }).start();

      commit(raise(alarm('B', { revision: 2 })));
      await clock.tickAsync(RESEND_S * 1000 * 3);

      expect(am.received).to.deep.equal([]);
    });

    it('sends the whole active set when it takes the lease, and the changes after', async () => {
      const lease = new TestLease();
      index.load([alarm('A')], 1);
      create({ lease }).start();
      commit(raise(alarm('B', { revision: 2 })));
      await clock.tickAsync(1000);

      lease.set(true);
      await clock.tickAsync(10);
      commit(raise(alarm('C', { revision: 3 })));
      await clock.tickAsync(100);

      expect(am.names()).to.deep.equal([['A', 'B'], ['C']]);
    });

    it('forgets what it had queued when it loses the lease, and sends nothing after', async () => {
      const lease = new TestLease();
      lease.held = true;
      am.answer = () => new Error('connect ECONNREFUSED');
      create({ lease }).start();
      commit(raise(alarm('A')));
      await clock.tickAsync(100);

      lease.set(false);
      am.answer = () => 200;
      commit(raise(alarm('B', { revision: 2 })));
      await clock.tickAsync(RESEND_S * 1000 * 3);

      expect(am.names(), 'only the failed request, before the lease was lost').to.deep.equal([['A']]);
    });
  });
});
