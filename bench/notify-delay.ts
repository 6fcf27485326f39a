/**
 * Part G's delivery delay: a fresh Alarm Center with one webhook (format `alarm`) to the receiver
 * takes single raises on a fixed schedule (open loop: the n-th at n ÷ rate seconds, at most
 * RAISES_IN_FLIGHT in flight). The receiver keeps each change's first arrival; the delay is the
 * arrival minus the change's `at` (its time in the history, in ms; both processes read this
 * machine's clock), for the changes of the measured seconds, after a warm-up at the same rate.
 * The server's own delay histogram over the same time is shown beside it, and every acknowledged
 * change must have reached the receiver.
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { withServers, type ChildServer } from './children.js';
import { getJson } from './load.js';
import { DRAIN_TIMEOUT_MS, deliveredAll, hookPath, metricsText, samples, settle, sumOf, writeConfig, type Hook } from './notify-readings.js';
import { alarmInput, revisionOf } from './payloads.js';
import { percentile } from './percentile.js';
import { dec, int, verdict, type Row } from './report.js';
import { startAlarmCenterWithConfig, startWebhookReceiver } from './servers.js';
import type { ReceiverCounts } from './webhook-receiver.js';

/** The raises of the delay run: per second, seconds measured, and seconds of warm-up before them at the same rate. */
export interface DelaySettings {
  rate: number;
  seconds: number;
  warmupSeconds: number;
}

const ALARMS = '/v4/default/admin/alarms';
/** Most raises in flight at once, each on a keep-alive connection of its own. */
const RAISES_IN_FLIGHT = 64;
const REQUEST_TIMEOUT_MS = 30_000;
const HOOK: Hook = { name: 'delay', format: 'alarm' };

/** What the scheduled raises came to. */
interface Raises {
  sent: number;
  /** Revisions of the raises answered 2xx. */
  acknowledged: Set<number>;
  failed: number;
  /** How late, at most, a raise left after its slot in the schedule. */
  behindMaxMs: number;
  /** Raises sent per second, from the first to the last. */
  achievedRate: number;
}

/** Sends one raise; answers the revision of its 2xx answer, or undefined when it failed. */
function raiseOnce(url: URL, agent: http.Agent, n: number): Promise<number | undefined> {
  const body = JSON.stringify(alarmInput(n));
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request(url, { method: 'POST', agent, timeout: REQUEST_TIMEOUT_MS, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => resolve(undefined));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return resolve(undefined);
        resolve(revisionOf(Buffer.concat(chunks)));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

/** Sends `count` raises, the n-th at n ÷ `rate` seconds (later when RAISES_IN_FLIGHT are in flight); resolves once all are answered. */
async function raiseOnSchedule(server: ChildServer, rate: number, count: number): Promise<Raises> {
  const url = new URL(`${server.url}${ALARMS}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: RAISES_IN_FLIGHT });
  const out: Raises = { sent: 0, acknowledged: new Set(), failed: 0, behindMaxMs: 0, achievedRate: 0 };
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  let last = start;
  try {
    for (let n = 0; n < count; ) {
      const slot = start + (n * 1000) / rate;
      const now = performance.now();
      if (slot > now) await delay(slot - now);
      else if (pending.size >= RAISES_IN_FLIGHT) await Promise.race(pending);
      else {
        out.behindMaxMs = Math.max(out.behindMaxMs, now - slot);
        const p = raiseOnce(url, agent, n).then((revision) => {
          if (revision === undefined) out.failed += 1;
          else out.acknowledged.add(revision);
          pending.delete(p);
        });
        pending.add(p);
        out.sent += 1;
        last = now;
        n += 1;
      }
    }
    await Promise.all(pending);
  } finally {
    agent.destroy();
  }
  out.achievedRate = out.sent > 1 ? ((out.sent - 1) * 1000) / (last - start) : out.sent;
  return out;
}

/** The server's delivery-delay histogram of one webhook: cumulative counts by upper bound (seconds), and the sum. */
interface Histogram {
  buckets: Map<number, number>;
  count: number;
  sum: number;
}

/** The histogram of alarm_center_webhook_delivery_delay_seconds for one webhook, as the server shows it now. */
async function histogramOf(server: ChildServer, webhook: string): Promise<Histogram> {
  const text = await metricsText(server);
  const name = 'alarm_center_webhook_delivery_delay_seconds';
  const label = `webhook="${webhook}"`;
  const buckets = new Map<number, number>();
  for (const [labels, v] of samples(text, `${name}_bucket`)) {
    const le = /le="([^"]*)"/.exec(labels)?.[1];
    if (labels.includes(label) && le !== undefined) buckets.set(le === '+Inf' ? Infinity : Number(le), v);
  }
  return { buckets, count: sumOf(samples(text, `${name}_count`), label), sum: sumOf(samples(text, `${name}_sum`), label) };
}

/** What the histogram gained from `before` to `after`. */
function histogramDiff(before: Histogram, after: Histogram): Histogram {
  const buckets = new Map<number, number>();
  for (const [le, v] of after.buckets) buckets.set(le, v - (before.buckets.get(le) ?? 0));
  return { buckets, count: after.count - before.count, sum: after.sum - before.sum };
}

/** The upper bound, in ms, of the bucket holding the p-th percentile. */
function bucketBoundMs(h: Histogram, p: number): number {
  const rank = (p / 100) * h.count;
  for (const [le, v] of [...h.buckets].sort((x, y) => x[0] - y[0])) if (v >= rank) return le * 1000;
  return Number.NaN;
}

/** Percentiles of a set of milliseconds. */
interface Spread {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN, samples: sorted.length };
}

/** The rows of the delay run, known before it is measured. */
export function delayHeads(s: DelaySettings): { what: string; target: string }[] {
  return [
    {
      what: `webhook delivery delay, change (its at) to the receiver: 1 webhook (format alarm), ${int(s.rate)} raises/s for ${s.seconds} s`,
      target: 'report only',
    },
    { what: `webhook at ${int(s.rate)} raises/s: every acknowledged change received`, target: 'all' },
  ];
}

/** What the receiver got: each change's delay (ms), of the warm-up and of the measured seconds, and the revisions. */
function delaysOf(counts: ReceiverCounts, measuredFrom: number): { warmup: number[]; measured: number[]; revisions: Set<number> } {
  const warmup: number[] = [];
  const measured: number[] = [];
  for (const [, at, arrived] of counts.arrivals) (at >= measuredFrom ? measured : warmup).push(arrived - at);
  return { warmup, measured, revisions: new Set(counts.arrivals.map(([revision]) => revision)) };
}

/** Runs the delay measurement with its servers in `dir`; answers its rows and figures. */
export function measureDelay(dir: string, s: DelaySettings): Promise<{ rows: Row[]; figures: Record<string, unknown> }> {
  const [delayHead, receivedHead] = delayHeads(s) as [{ what: string; target: string }, { what: string; target: string }];
  return withServers({ receiver: () => startWebhookReceiver(true) }, async ({ receiver }) => {
    const config = writeConfig(dir, receiver.url, [HOOK]);
    return withServers({ ac: () => startAlarmCenterWithConfig(dir, config) }, async ({ ac }) => {
      const measuredFrom = Date.now() + s.warmupSeconds * 1000;
      let before: Promise<Histogram> | undefined;
      const timer = setTimeout(() => (before = histogramOf(ac, HOOK.name)), s.warmupSeconds * 1000);
      const raises = await raiseOnSchedule(ac, s.rate, Math.round(s.rate * (s.warmupSeconds + s.seconds)));
      clearTimeout(timer);
      const { reading, settled } = await settle(ac, (r) => deliveredAll(r, 1), DRAIN_TIMEOUT_MS);
      const server = histogramDiff((await before) ?? { buckets: new Map(), count: 0, sum: 0 }, await histogramOf(ac, HOOK.name));
      const counts = (await getJson(`${receiver.url}/counts`)) as ReceiverCounts;
      const got = delaysOf(counts, measuredFrom);
      const delays = spread(got.measured);
      const warmup = spread(got.warmup);
      const missing = [...raises.acknowledged].filter((r) => !got.revisions.has(r)).length;
      const p = counts.paths[hookPath(HOOK)] ?? { requests: 0, distinct: 0, signed: 0, alerts: 0 };
      const ok = missing === 0 && raises.failed === 0 && p.distinct === reading.revision && settled && counts.unreadable === 0;
      const { acknowledged, ...sent } = raises;
      const figures = {
        ...s,
        raises: { ...sent, acknowledged: acknowledged.size },
        delayMs: delays,
        warmupDelayMs: warmup,
        serverHistogram: { ...server, buckets: Object.fromEntries(server.buckets) },
        final: { ...reading, lag: Object.fromEntries(reading.lag) },
        settled,
      };
      const rows: Row[] = [
        {
          ...delayHead,
          alarmCenter:
            `p50 ${dec(delays.p50, 1)} ms · p99 ${dec(delays.p99, 1)} ms · max ${dec(delays.max, 0)} ms (${int(delays.samples)} changes; ` +
            `the ${s.warmupSeconds} s of warm-up before them: p99 ${dec(warmup.p99, 0)} ms, max ${dec(warmup.max, 0)} ms)`,
          comparison:
            `server's histogram: ${int(server.count)} delivered · mean ${dec((server.sum * 1000) / server.count, 1)} ms · ` +
            `p50 ≤ ${dec(bucketBoundMs(server, 50), 0)} ms · p99 ≤ ${dec(bucketBoundMs(server, 99), 0)} ms`,
          verdict: 'info',
        },
        {
          ...receivedHead,
          alarmCenter:
            `${int(acknowledged.size - missing)} of ${int(acknowledged.size)} acknowledged changes received · ${int(p.requests - p.distinct)} repeats · ` +
            `${int(raises.failed)} raises failed · raised at ${int(raises.achievedRate)}/s, at most ${dec(raises.behindMaxMs, 1)} ms behind the schedule`,
          comparison: '—',
          verdict: verdict(ok),
        },
      ];
      return { rows, figures };
    });
  });
}

/** How the delay run measures, for the notes. */
export function delayNote(s: DelaySettings): string {
  return (
    `Webhook delivery delay: a fresh Alarm Center (as part B runs it) with one webhook (format alarm) to the same kind ` +
    `of receiver takes single raises on a fixed schedule, ${int(s.rate)}/s for ${s.warmupSeconds} s of warm-up then ` +
    `${s.seconds} s measured (open loop: the n-th raise at n ÷ ${int(s.rate)} s, at most ${RAISES_IN_FLIGHT} in ` +
    `flight). The receiver notes when each change's body arrived; the delay is that time minus the change's at (its ` +
    `time in the history, in whole ms, read from the same clock), for the changes of the measured seconds. The ` +
    `warm-up is long because a fresh server's webhook falls behind ${int(s.rate)} changes/s in its first seconds and ` +
    `then catches up (a start-up transient: the same server, warm, does not); its delays are shown apart. The server's own alarm_center_webhook_delivery_delay_seconds (the change to its ` +
    `2xx), over the measured seconds and the drain after them, is shown beside; its buckets are coarse (10, 50, 100, ` +
    `500 ms, …), so it bounds the percentiles.`
  );
}
