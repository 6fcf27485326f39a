/**
 * HTTP load: side-by-side autocannon measurements and bulk loading of alarms or alerts before a
 * measurement.
 */
import autocannon from 'autocannon';
import { percentile } from './percentile.js';

/** How hard and how long each side of a comparison is driven. */
export interface LoadSettings {
  connections: number;
  /** Measured seconds per side, split evenly over the rounds. */
  seconds: number;
  /** Unmeasured seconds before a side's first slice. */
  warmupSeconds: number;
  /** The sides take turns this many times, so a slow spell of the machine hits every side alike. */
  rounds: number;
}

/** One request to drive; `body` is called for every request so each can be new. */
export interface Endpoint {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  body?: () => string;
  /** Non-2xx statuses that are a normal answer here (a health probe's 400 unhealthy). */
  expected?: readonly number[];
}

/** What the measured time of one side saw. */
export interface LoadFigures {
  /** Answered requests per second, failures left out. */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  seconds: number;
  statuses: Record<string, number>;
  /** Non-2xx answers, expected ones included. */
  non2xx: number;
  /** Connection errors, timeouts and non-2xx answers that are not expected. */
  failures: number;
}

/** Answers of one side, gathered over its measured slices. */
interface Tally {
  latencies: number[];
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
}

const TIMEOUT_SECONDS = 30;
/** Unmeasured seconds at the start of every slice after a side's first: new connections ramp up. */
const RAMP_SECONDS = 1;

function request(endpoint: Endpoint): autocannon.Request {
  const base: autocannon.Request = {
    method: endpoint.method,
    path: endpoint.path,
    headers: endpoint.body ? { 'content-type': 'application/json' } : {},
  };
  const body = endpoint.body;
  if (!body) return base;
  return { ...base, setupRequest: (req) => ({ ...req, body: body() }) };
}

/**
 * Drives the endpoint for `unmeasured + measured` seconds in one continuous run and adds to the
 * tally only the answers that arrived after the unmeasured part, so no request left over from a
 * warm-up is still being served while the measurement runs.
 */
function slice(endpoint: Endpoint, connections: number, unmeasured: number, measured: number, tally: Tally): Promise<void> {
  const from = performance.now() + unmeasured * 1000;
  return new Promise((resolve, reject) => {
    const options: autocannon.Options = {
      url: endpoint.url,
      connections,
      duration: unmeasured + measured,
      timeout: TIMEOUT_SECONDS,
      requests: [request(endpoint)],
    };
    const instance = autocannon(options, (err) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      tally.seconds += (performance.now() - from) / 1000;
      resolve();
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (performance.now() < from) return;
      tally.latencies.push(ms);
      tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
    });
    instance.on('reqError', () => {
      if (performance.now() >= from) tally.errors += 1;
    });
  });
}

function figures(tally: Tally, expected: readonly number[]): LoadFigures {
  let non2xx = 0;
  let unexpected = 0;
  for (const [code, count] of Object.entries(tally.statuses)) {
    const status = Number(code);
    if (status >= 200 && status <= 299) continue;
    non2xx += count;
    if (!expected.includes(status)) unexpected += count;
  }
  const sorted = Float64Array.from(tally.latencies).sort();
  return {
    reqPerSec: (sorted.length - unexpected) / tally.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    requests: sorted.length,
    seconds: tally.seconds,
    statuses: tally.statuses,
    non2xx,
    failures: unexpected + tally.errors,
  };
}

/** Measures the endpoints side by side, taking turns, with the same connections and duration. */
export async function compare<K extends string>(endpoints: Record<K, Endpoint>, settings: LoadSettings): Promise<Record<K, LoadFigures>> {
  const keys = Object.keys(endpoints) as K[];
  const tallies = new Map<K, Tally>(keys.map((k) => [k, { latencies: [], statuses: {}, errors: 0, seconds: 0 }]));
  const rounds = Math.max(1, settings.rounds);
  for (let round = 0; round < rounds; round++) {
    for (const k of keys) {
      const unmeasured = round === 0 ? settings.warmupSeconds : RAMP_SECONDS;
      await slice(endpoints[k], settings.connections, unmeasured, settings.seconds / rounds, tallies.get(k) as Tally);
    }
  }
  const out = {} as Record<K, LoadFigures>;
  for (const k of keys) out[k] = figures(tallies.get(k) as Tally, endpoints[k].expected ?? []);
  return out;
}

/** POSTs a JSON body; fails on any non-2xx answer. */
export async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

/** GETs a JSON body; fails on any non-2xx answer. */
export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** Sends `total` items in batches of `batchSize`, `inFlight` batches at a time. */
export async function loadInBatches(
  total: number,
  batchSize: number,
  inFlight: number,
  send: (first: number, size: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const first = next;
      const size = Math.min(batchSize, total - first);
      next += size;
      await send(first, size);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
