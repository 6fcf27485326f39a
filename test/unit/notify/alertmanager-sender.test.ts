import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { Alarm } from '../../../src/alarm/model.js';
import { createSilentLogger } from '../../../src/logger.js';
import { targetOf } from '../../../src/notify/alertmanager-config.js';
import { DEFAULT_TUNING } from '../../../src/notify/alertmanager-forwarder.js';
import { AlertmanagerSender, type SenderOptions } from '../../../src/notify/alertmanager-sender.js';
import { createForwardMetrics } from '../../../src/notify/metrics.js';
import { noticeKey, postableAlert } from '../../../src/notify/postable-alert.js';
import { FakeAlertmanagers, alarm, cleared, metricOf } from './fake-alertmanager.js';

const AM = 'http://am:9093';
const ENDPOINT = `${AM}/api/v2/alerts`;
const RESEND_MS = 60_000;

describe('AlertmanagerSender', () => {
  let clock: FakeTimers.Clock;
  let am: FakeAlertmanagers;
  let registry: Registry;
  /** The index the resend reads: alarms by key. */
  let index: Map<string, Alarm>;
  let sender: AlertmanagerSender;

  const start = (tuning: Partial<SenderOptions> = {}) => {
    const metrics = createForwardMetrics(registry);
    sender = new AlertmanagerSender({
      ...DEFAULT_TUNING,
      target: targetOf({ url: AM }),
      alertOf: (notice, now) => postableAlert(notice, { now, resendMs: RESEND_MS, baseUrl: 'http://ac' }),
      current: (a) => index.get(noticeKey(a)),
      metrics,
      logger: createSilentLogger(),
      clock: Date.now,
      post: am.post,
      ...tuning,
    });
    metrics.queueLengths(() => [[sender.name, sender.length]]);
    return sender;
  };
  const metric = (name: string) => metricOf(registry, `alarm_center_alertmanager_${name}`, AM);
  const many = (n: number, prefix = 'A') => Array.from({ length: n }, (_, i) => alarm(`${prefix}${i}`));

  beforeEach(() => {
    clock = FakeTimers.install({ now: 1_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    am = new FakeAlertmanagers();
    registry = new Registry();
    index = new Map();
  });

  afterEach(() => {
    sender.close();
    clock.uninstall();
  });

  describe('#offer', () => {
    it('collects the alarms of 100 ms into one request', async () => {
      start();

      sender.offer([{ alarm: alarm('A') }]);
      await clock.tickAsync(60);
      sender.offer([{ alarm: alarm('B') }, { alarm: alarm('C') }]);
      await clock.tickAsync(39);
      expect(am.received, 'nothing before 100 ms').to.deep.equal([]);
      await clock.tickAsync(1);

      expect(am.names()).to.deep.equal([['A', 'B', 'C']]);
      expect(am.received[0]).to.include({ url: ENDPOINT, at: 1_000_100 });
      expect(am.received[0]?.headers).to.deep.equal({ 'content-type': 'application/json' });
    });

    it('posts a full batch of 64 at once, and the rest right after, one request at a time', async () => {
      start();

      let most = 0;
      am.answer = () => {
        most = Math.max(most, am.open + 1);
        return 200;
      };

      sender.offer(many(130).map((a) => ({ alarm: a })));
      await clock.tickAsync(0);
      expect(am.received.map((r) => r.alerts.length), 'the first batch, without waiting').to.deep.equal([64]);
      await clock.tickAsync(10);

      expect(am.received.map((r) => r.alerts.length)).to.deep.equal([64, 64, 2]);
      expect(am.received.every((r) => r.at < 1_000_100), 'no batch wait after a request').to.equal(true);
      expect(most, 'requests at a time').to.equal(1);
      expect(await metric('alerts_sent_total')).to.equal(130);
      expect(await metric('last_success_timestamp_seconds')).to.equal((am.received.at(-1)?.at ?? 0) / 1000);
    });

    it('sends the latest state of an alarm changed while it waited: a clear replaces the raise', async () => {
      start();
      const a = alarm('A');

      sender.offer([{ alarm: a }]);
      sender.offer([{ alarm: cleared(a, 1_000_050), endedAt: 1_000_050 }]);
      await clock.tickAsync(100);

      expect(am.received).to.have.length(1);
      expect(am.received[0]?.alerts.map((x) => [x.labels.alertname, x.endsAt])).to.deep.equal([['A', new Date(1_000_050).toISOString()]]);
    });

    it('sends changes made during a request right after it, in order', async () => {
      start();
      am.answer = () => 'hang';
      const a = alarm('A');
      sender.offer([{ alarm: a }]);
      await clock.tickAsync(100);

      sender.offer([{ alarm: cleared(a, 1_000_200), endedAt: 1_000_200 }]);
      am.answer = () => 200;
      await clock.tickAsync(DEFAULT_TUNING.timeoutMs);
      await clock.tickAsync(DEFAULT_TUNING.backoff.initialMs);

      const ends = am.received.map((r) => r.alerts.map((x) => x.endsAt));
      expect(ends.at(-1), 'the clear last, never the raise after it').to.deep.equal([new Date(1_000_200).toISOString()]);
    });
  });

  describe('failures', () => {
    it('retries after 2 s, doubling up to a minute, counting each failed request, until the Alertmanager answers', async () => {
      start();
      am.answer = () => new Error('connect ECONNREFUSED');
      sender.offer([{ alarm: alarm('A') }]);

      await clock.tickAsync(100 + 2000 + 4000 + 8000 + 16_000 + 32_000 + 60_000 + 60_000);
      am.answer = () => 200;
      await clock.tickAsync(60_000);

      const gaps = am.received.slice(1).map((r, i) => r.at - (am.received[i] as { at: number }).at);
      expect(gaps).to.deep.equal([2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
      expect(await metric('requests_failed_total')).to.equal(8);
      expect(await metric('alerts_sent_total')).to.equal(1);
      expect(await metric('alerts_dropped_total')).to.equal(0);
    });

    it('retries a 5xx, 408 and 429, starting the backoff again after a success', async () => {
      start();
      const answers = [503, 408, 429, 200, 500, 200];
      am.answer = () => answers.shift() ?? 200;

      sender.offer([{ alarm: alarm('A') }]);
      await clock.tickAsync(100 + 2000 + 4000 + 8000);
      sender.offer([{ alarm: alarm('B') }]);
      await clock.tickAsync(100 + 2000);

      expect(am.names()).to.deep.equal([['A'], ['A'], ['A'], ['A'], ['B'], ['B']]);
      expect(am.received.at(-1)?.at, 'after 2 s again').to.equal((am.received.at(-2)?.at ?? 0) + 2000);
      expect(await metric('requests_failed_total')).to.equal(4);
    });

    it('drops and counts alerts an Alertmanager refuses with another 4xx, rather than sending them forever', async () => {
      start();
      am.answer = () => 400;

      sender.offer([{ alarm: alarm('A') }, { alarm: alarm('B') }]);
      await clock.tickAsync(100 + 60_000);

      expect(am.names()).to.deep.equal([['A', 'B']]);
      expect(await metric('alerts_dropped_total')).to.equal(2);
      expect(await metric('requests_failed_total')).to.equal(1);
    });

    it('gives up on a request without an answer after the timeout, and tries it again', async () => {
      start({ timeoutMs: 500 });
      am.answer = () => 'hang';
      sender.offer([{ alarm: alarm('A') }]);
      await clock.tickAsync(100 + 499);
      expect(am.open).to.equal(1);

      await clock.tickAsync(1);
      am.answer = () => 200;
      expect(am.open).to.equal(0);
      await clock.tickAsync(2000);

      expect(am.received.map((r) => r.at)).to.deep.equal([1_000_100, 1_002_600]);
      expect(await metric('alerts_sent_total')).to.equal(1);
    });

    it('puts a failed batch back behind newer changes of the same alarms', async () => {
      start();
      am.answer = () => new Error('connect ECONNREFUSED');
      const a = alarm('A');
      sender.offer([{ alarm: a }, { alarm: alarm('B') }]);
      await clock.tickAsync(100);

      sender.offer([{ alarm: cleared(a, 1_000_500), endedAt: 1_000_500 }]);
      am.answer = () => 200;
      await clock.tickAsync(2000);

      const last = am.received.at(-1)?.alerts.map((x) => [x.labels.alertname, x.endsAt]);
      expect(last).to.have.deep.members([
        ['A', new Date(1_000_500).toISOString()],
        ['B', new Date(1_002_100 + 4 * RESEND_MS).toISOString()],
      ]);
    });

    it('keeps at most maxPending alarms while the Alertmanager is away, counting the others dropped', async () => {
      start({ maxPending: 3 });
      am.answer = () => new Error('connect ECONNREFUSED');
      const [a, ...rest] = many(5);

      sender.offer([a, ...rest].map((x) => ({ alarm: x as Alarm })));
      sender.offer([{ alarm: cleared(a as Alarm, 1_000_010), endedAt: 1_000_010 }]);

      expect(sender.length).to.equal(3);
      expect(await metric('alerts_dropped_total'), 'two new alarms past the limit; a change of a queued one fits').to.equal(2);
      expect(await metric('queue_length')).to.equal(3);
      am.answer = () => 200;
      await clock.tickAsync(100);
      expect(am.names()).to.deep.equal([['A0', 'A1', 'A2']]);
      expect(await metric('queue_length')).to.equal(0);
    });
  });

  describe('#resync', () => {
    it('sends every alarm at once, 64 a request, each as the index has it when its turn comes', async () => {
      start();
      const active = many(100);
      for (const a of active) index.set(noticeKey(a), a);

      sender.resync(active);
      // Cleared or removed after the resend was asked for: their own notices tell it, never a fire after them.
      index.set(noticeKey(active[70] as Alarm), cleared(active[70] as Alarm, 1_000_000));
      index.delete(noticeKey(active[71] as Alarm));
      await clock.tickAsync(10);

      expect(am.names().map((names) => names.length)).to.deep.equal([64, 34]);
      expect(am.names().flat()).not.to.include.members(['A70', 'A71']);
      expect(am.received.every((r) => r.alerts.every((x) => x.endsAt === new Date(r.at + 4 * RESEND_MS).toISOString()))).to.equal(true);
    });

    it('leaves out an alarm whose newer notice waits, and sends that notice', async () => {
      start();
      const [a, b] = many(2);
      for (const x of [a, b] as Alarm[]) index.set(noticeKey(x), x);
      sender.offer([{ alarm: cleared(a as Alarm, 999_000), endedAt: 999_000 }]);

      sender.resync([a, b] as Alarm[]);
      await clock.tickAsync(10);

      expect(am.received.flatMap((r) => r.alerts.map((x) => [x.labels.alertname, x.endsAt]))).to.deep.equal([
        ['A0', new Date(999_000).toISOString()],
        ['A1', new Date(1_000_000 + 4 * RESEND_MS).toISOString()],
      ]);
    });

    it('finishes a resend under way before the next one starts, so none starves the alarms at its end', async () => {
      start();
      const first = many(100, 'A');
      const second = many(10, 'B');
      for (const a of [...first, ...second]) index.set(noticeKey(a), a);

      sender.resync(first);
      await clock.tickAsync(0);
      sender.resync(second);
      await clock.tickAsync(10);

      expect(am.names()).to.deep.equal([first.slice(0, 64), first.slice(64), second].map((list) => list.map((a) => a.id)));
    });

    it('is not queued: it fills no queue and drops nothing', async () => {
      start({ maxPending: 10 });
      const active = many(50);
      for (const a of active) index.set(noticeKey(a), a);

      sender.resync(active);
      expect(sender.length).to.equal(50);
      await clock.tickAsync(0);

      expect(am.names().flat()).to.have.length(50);
      expect(await metric('alerts_dropped_total')).to.equal(0);
    });
  });

  describe('#close', () => {
    it('aborts the request under way and counts what waited as dropped', async () => {
      start();
      am.answer = () => 'hang';
      sender.offer([{ alarm: alarm('A') }]);
      await clock.tickAsync(100);
      sender.offer([{ alarm: alarm('B') }, { alarm: alarm('C') }]);

      sender.close();
      await clock.tickAsync(0);

      expect(am.open).to.equal(0);
      expect(await metric('alerts_dropped_total')).to.equal(2);
      await clock.tickAsync(120_000);
      expect(am.received).to.have.length(1);
    });
  });
});
