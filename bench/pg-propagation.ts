/**
 * Propagation between replicas on PostgreSQL: two Alarm Center replicas, A and B, on one fresh
 * database; a WebSocket watcher of the default project on B; single raises sent to A at a fixed
 * rate. For each change, the delay is the time from A's acknowledgement (its 2xx status line
 * arriving at this process) to the change's message arriving at the watcher on B, both read
 * from this process's clock. The watcher's revisions must be strictly increasing, and every
 * acknowledged revision must reach it. The first raises, sent at the same rate while the replicas
 * warm up, are checked for loss and order like the others, but their delays are not counted.
 *
 * The raises are sent on a schedule (the n-th at n ÷ rate seconds), not one after another's
 * answer, over at most RAISES_IN_FLIGHT keep-alive connections; a raise the schedule cannot send on time
 * goes as soon as it can, and how far behind it fell is reported.
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { withServers, type ChildServer } from './children.js';
import { alarmInput, revisionOf } from './payloads.js';
import { percentile } from './percentile.js';
import { processCpuSeconds, treeCpuSeconds } from './process-cpu.js';
import { startAlarmCenterOnPostgres } from './servers.js';
import { openWatcher } from './watcher-client.js';

/** How hard and how long the replicas are driven. */
export interface PropagationSettings {
  /** Raises sent to A per second. */
  rate: number;
  /** Seconds of raising whose delays are measured. */
  seconds: number;
  /** Seconds of raising before them, at the same rate: checked for loss and order, their delays not counted. */
  warmupSeconds: number;
}

/** Where the replicas run: the database, their data folders and the PostgreSQL server's pid. */
export interface PropagationPlace {
  postgresUrl: string;
  dir: (name: string) => string;
  postgresPid: number;
}

/** Percentiles of a set of milliseconds. */
export interface Spread {
  p50: number;
  p99: number;
  min: number;
  max: number;
  samples: number;
}

/** CPU seconds of each process over the raises (warm-up included) and the drain. */
export interface PropagationCpu {
  replicaA: number;
  replicaB: number;
  postgres: number;
}

/** What a propagation run saw. */
export interface Propagation {
  /** Raises sent, warm-up included. */
  sent: number;
  /** Raises acknowledged, warm-up included: the changes the watcher must receive. */
  acknowledged: number;
  /** Raises answered with a non-2xx status or not answered. */
  failed: number;
  /** Change messages the watcher received (RESYNC not included). */
  received: number;
  /** Acknowledged revisions the watcher never received. */
  lost: number;
  /** Messages whose revision was not above the watcher's previous one (duplicates included). */
  reordered: number;
  duplicates: number;
  /** Revisions received that no acknowledgement named. */
  unexpected: number;
  resyncs: number;
  /** Messages that were not JSON. */
  unreadable: number;
  /** Whether the server closed the watcher before the end. */
  watcherClosed: boolean;
  /** A's acknowledgement → the watcher on B, of the raises after the warm-up; negative when B delivered first. */
  delayMs: Spread;
  /** Request sent → A's acknowledgement, of the raises after the warm-up. */
  ackMs: Spread;
  /** Raises sent per second, from the first to the last. */
  achievedRate: number;
  /** How late, at most, a raise left after its slot in the schedule. */
  behindMaxMs: number;
  seconds: number;
  cpu: PropagationCpu;
}

const ALARMS = '/v4/default/admin/alarms';
const WATCH = '/v4/default/admin/alarms/watch';
/** Most raises in flight at once, each on a keep-alive connection of its own. */
export const RAISES_IN_FLIGHT = 64;
/** After the last raise, the watcher's tally is final once every change arrived or none did for this long. */
export const DRAIN_IDLE_MS = 3000;
const REQUEST_TIMEOUT_MS = 30_000;

/** What the watcher received: the arrival time of each revision, and the order checks. */
class WatcherTally {
  readonly arrivals = new Map<number, number>();
  received = 0;
  reordered = 0;
  duplicates = 0;
  resyncs = 0;
  /** Messages that are not JSON. */
  unreadable = 0;
  closed = false;
  lastAt = 0;
  private last = 0;

  receive(data: Buffer, now: number): void {
    this.lastAt = now;
    let message: { action?: unknown; revision?: unknown };
    try {
      message = JSON.parse(data.toString('utf8')) as typeof message;
    } catch {
      this.unreadable += 1;
      return;
    }
    const revision = Number(message.revision);
    if (message.action === 'RESYNC') {
      this.resyncs += 1;
      return;
    }
    this.received += 1;
    if (revision <= this.last) this.reordered += 1;
    this.last = Math.max(this.last, revision);
    if (this.arrivals.has(revision)) this.duplicates += 1;
    else this.arrivals.set(revision, now);
  }
}

/** The raises' answers: the acknowledgement time of each revision. */
class RaiseTally {
  /** Acknowledgement time by revision, of every raise. */
  readonly acks = new Map<number, number>();
  /** The revisions acknowledged to raises of the warm-up. */
  readonly warmup = new Set<number>();
  /** Sent → acknowledged, of the measured raises. */
  readonly ackMs: number[] = [];
  sent = 0;
  failed = 0;
  behindMaxMs = 0;
  firstSent = 0;
  lastSent = 0;
}

function spread(values: readonly number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted.length > 0 ? (sorted[0] as number) : Number.NaN,
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    samples: sorted.length,
  };
}

/** Sends the n-th raise to A; records its acknowledgement and revision, or its failure. */
function raise(url: URL, agent: http.Agent, n: number, warmup: boolean, tally: RaiseTally): Promise<void> {
  const body = JSON.stringify(alarmInput(n));
  const sent = performance.now();
  return new Promise((resolve) => {
    const fail = (): void => {
      tally.failed += 1;
      resolve();
    };
    const req = http.request(
      url,
      { method: 'POST', agent, timeout: REQUEST_TIMEOUT_MS, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const ackAt = performance.now();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return fail();
          const revision = revisionOf(Buffer.concat(chunks));
          if (revision === undefined) return fail();
          tally.acks.set(revision, ackAt);
          if (warmup) tally.warmup.add(revision);
          else tally.ackMs.push(ackAt - sent);
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', fail);
    req.end(body);
  });
}

/** Sends the raises to A on the schedule, at most RAISES_IN_FLIGHT at once; resolves once all are answered. */
async function raiseAll(server: ChildServer, s: PropagationSettings, tally: RaiseTally): Promise<void> {
  const url = new URL(`${server.url}${ALARMS}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: RAISES_IN_FLIGHT });
  const warmups = Math.round(s.rate * s.warmupSeconds);
  const total = warmups + Math.round(s.rate * s.seconds);
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  tally.firstSent = start;
  try {
    for (let n = 0; n < total; ) {
      const slot = start + (n * 1000) / s.rate;
      const now = performance.now();
      if (slot > now) {
        await delay(slot - now);
        continue;
      }
      if (pending.size >= RAISES_IN_FLIGHT) {
        await Promise.race(pending);
        continue;
      }
      tally.behindMaxMs = Math.max(tally.behindMaxMs, now - slot);
      const p = raise(url, agent, n, n < warmups, tally).finally(() => pending.delete(p));
      pending.add(p);
      tally.sent += 1;
      tally.lastSent = now;
      n += 1;
    }
    await Promise.all(pending);
  } finally {
    agent.destroy();
  }
}

/** Resolves once the watcher has every acknowledged revision, or received nothing for DRAIN_IDLE_MS. */
async function drained(watcher: WatcherTally, raises: RaiseTally): Promise<void> {
  const since = performance.now();
  for (;;) {
    const complete = [...raises.acks.keys()].every((r) => watcher.arrivals.has(r));
    if (complete || watcher.closed || performance.now() - Math.max(since, watcher.lastAt) >= DRAIN_IDLE_MS) return;
    await delay(20);
  }
}

function cpuNow(a: ChildServer, b: ChildServer, postgresPid: number): PropagationCpu {
  return { replicaA: processCpuSeconds(a.pid), replicaB: processCpuSeconds(b.pid), postgres: treeCpuSeconds(postgresPid) };
}

/** The figures of a run from its two tallies. */
function figures(w: WatcherTally, r: RaiseTally, seconds: number, cpu: PropagationCpu): Propagation {
  const delays: number[] = [];
  let lost = 0;
  for (const [revision, ackAt] of r.acks) {
    const arrived = w.arrivals.get(revision);
    if (arrived === undefined) lost += 1;
    else if (!r.warmup.has(revision)) delays.push(arrived - ackAt);
  }
  let unexpected = 0;
  for (const revision of w.arrivals.keys()) if (!r.acks.has(revision)) unexpected += 1;
  return {
    sent: r.sent,
    acknowledged: r.acks.size,
    failed: r.failed,
    received: w.received,
    lost,
    reordered: w.reordered,
    duplicates: w.duplicates,
    unexpected,
    resyncs: w.resyncs,
    unreadable: w.unreadable,
    watcherClosed: w.closed,
    delayMs: spread(delays),
    ackMs: spread(r.ackMs),
    achievedRate: r.sent > 1 ? ((r.sent - 1) * 1000) / (r.lastSent - r.firstSent) : r.sent,
    behindMaxMs: r.behindMaxMs,
    seconds,
    cpu,
  };
}

/** Starts replicas A and B on the database, measures the propagation, and stops them. */
export function measurePropagation(place: PropagationPlace, s: PropagationSettings): Promise<Propagation> {
  const starts = {
    a: () => startAlarmCenterOnPostgres(place.postgresUrl, place.dir('replica-a'), 'replica A'),
    b: () => startAlarmCenterOnPostgres(place.postgresUrl, place.dir('replica-b'), 'replica B'),
  };
  return withServers(starts, async ({ a, b }) => {
    const watcher = new WatcherTally();
    const ws: WebSocket = await openWatcher(`${b.url.replace(/^http/, 'ws')}${WATCH}`);
    try {
      ws.on('message', (data: Buffer) => watcher.receive(data, performance.now()));
      ws.on('error', () => undefined);
      ws.on('close', () => (watcher.closed = true));
      const raises = new RaiseTally();
      const before = cpuNow(a, b, place.postgresPid);
      const started = performance.now();
      await raiseAll(a, s, raises);
      await drained(watcher, raises);
      const after = cpuNow(a, b, place.postgresPid);
      const cpu = { replicaA: after.replicaA - before.replicaA, replicaB: after.replicaB - before.replicaB, postgres: after.postgres - before.postgres };
      return figures(watcher, raises, (performance.now() - started) / 1000, cpu);
    } finally {
      ws.terminate();
    }
  });
}
