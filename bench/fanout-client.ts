/**
 * The watchers of the fan-out measurement, in a process of their own so they do not share the
 * server's or the load generator's event loop. Started by fanout.ts as
 * `node --import tsx bench/fanout-client.ts --url WS_URL --watchers N --base REVISION --changes M`.
 *
 * Protocol with the parent: one JSON line on stdout when every watcher is open
 * (`{"type":"opened",…}`); SIGUSR2 from the parent once the last change was committed; then one
 * JSON line with the tally (`{"type":"result",…}`), written when every watcher has every change
 * or when nothing arrived for IDLE_MS, after which the process exits. Errors go to stderr with a
 * non-zero exit.
 *
 * The changes expected are the revisions base+1 … base+changes of the watched project. Per
 * message only the trailing `"revision":N}` and, once per revision, the alarm's `updatedAt` are
 * read from the bytes (no JSON.parse); latency is this process's Date.now() at receipt minus
 * `updatedAt`, kept in a uniform reservoir sample so memory stays bounded whatever the count.
 */
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import { percentile } from './percentile.js';
import { openWatcher } from './watcher-client.js';

/** After the parent's signal, the tally is written once nothing arrived for this long. */
const IDLE_MS = 2000;
/** Latencies kept; past it each new one replaces a random kept one (reservoir sampling). */
const SAMPLE_CAPACITY = 1_000_000;

const RESYNC_PREFIX = Buffer.from('{"action":"RESYNC"');
const UPDATED_AT = Buffer.from('"updatedAt":"');
const ISO_LENGTH = '2000-01-01T00:00:00.000Z'.length;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

interface Options {
  url: string;
  watchers: number;
  inFlight: number;
  base: number;
  changes: number;
}

function count(values: Record<string, string | undefined>, name: string, min: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      watchers: { type: 'string' },
      'in-flight': { type: 'string', default: '250' },
      base: { type: 'string' },
      changes: { type: 'string' },
    },
  });
  if (!values.url) throw new Error('--url is required');
  return {
    url: values.url,
    watchers: count(values, 'watchers', 1),
    inFlight: count(values, 'in-flight', 1),
    base: count(values, 'base', 0),
    changes: count(values, 'changes', 1),
  };
}

/** The number closing a message, `…"revision":N}`; -1 when there is none. */
function trailingRevision(data: Buffer): number {
  let i = data.length - 2;
  let value = 0;
  let scale = 1;
  for (; i >= 0; i -= 1) {
    const c = data[i] as number;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    value += (c - DIGIT_0) * scale;
    scale *= 10;
  }
  return scale === 1 || data[data.length - 1] !== 0x7d ? -1 : value;
}

/** The alarm's `updatedAt` in ms since the epoch; NaN when the message has none. */
function updatedAt(data: Buffer): number {
  const at = data.indexOf(UPDATED_AT);
  if (at < 0) return Number.NaN;
  const from = at + UPDATED_AT.length;
  return Date.parse(data.toString('latin1', from, from + ISO_LENGTH));
}

function isResync(data: Buffer): boolean {
  return data.length >= RESYNC_PREFIX.length && data.compare(RESYNC_PREFIX, 0, RESYNC_PREFIX.length, 0, RESYNC_PREFIX.length) === 0;
}

/** A uniform sample of at most SAMPLE_CAPACITY latencies, and the exact maximum. */
class LatencySample {
  private readonly kept = new Float64Array(SAMPLE_CAPACITY);
  private seen = 0;
  private max = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    if (ms > this.max) this.max = ms;
    if (this.seen < SAMPLE_CAPACITY) {
      this.kept[this.seen] = ms;
    } else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < SAMPLE_CAPACITY) this.kept[slot] = ms;
    }
    this.seen += 1;
  }

  summary(): { p50: number; p99: number; max: number; samples: number } {
    const sorted = this.kept.subarray(0, Math.min(this.seen, SAMPLE_CAPACITY)).sort();
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: this.seen > 0 ? this.max : Number.NaN, samples: sorted.length };
  }
}

/**
 * What the watchers received: per watcher a bitset of the expected revisions (so a revision
 * counts once), and the totals the parent reports.
 */
class Tally {
  messages = 0;
  unique = 0;
  duplicates = 0;
  unexpected = 0;
  resyncs = 0;
  /** Watchers closed by the server before the tally was written. */
  closed = 0;
  firstReceipt = 0;
  lastReceipt = 0;
  readonly latency = new LatencySample();
  private readonly stride: number;
  private readonly seen: Uint8Array;
  private readonly resynced: Uint8Array;
  /** `updatedAt` per expected revision, parsed from the first message that carried it. */
  private readonly stamps: Float64Array;

  constructor(
    private readonly watchers: number,
    private readonly base: number,
    private readonly changes: number,
  ) {
    this.stride = Math.ceil(changes / 8);
    this.seen = new Uint8Array(watchers * this.stride);
    this.resynced = new Uint8Array(watchers);
    this.stamps = new Float64Array(changes).fill(Number.NaN);
  }

  get complete(): boolean {
    return this.unique === this.watchers * this.changes;
  }

  get watchersResynced(): number {
    return this.resynced.reduce((sum, r) => sum + r, 0);
  }

  receive(watcher: number, data: Buffer, now: number): void {
    if (this.messages === 0) this.firstReceipt = now;
    this.lastReceipt = now;
    this.messages += 1;
    if (isResync(data)) {
      this.resyncs += 1;
      this.resynced[watcher] = 1;
      return;
    }
    const index = trailingRevision(data) - this.base - 1;
    if (index < 0 || index >= this.changes) {
      this.unexpected += 1;
      return;
    }
    const byte = watcher * this.stride + (index >> 3);
    const bit = 1 << (index & 7);
    const bits = this.seen[byte] as number;
    if (bits & bit) {
      this.duplicates += 1;
      return;
    }
    this.seen[byte] = bits | bit;
    this.unique += 1;
    let stamp = this.stamps[index] as number;
    if (Number.isNaN(stamp)) {
      stamp = updatedAt(data);
      this.stamps[index] = stamp;
    }
    this.latency.add(now - stamp);
  }
}

/** Opens `n` watchers, `inFlight` at a time, each reporting its messages to the tally. */
async function openAll(o: Options, tally: Tally, ended: { value: boolean }): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.watchers) {
      const w = next++;
      let ws: WebSocket;
      try {
        ws = await openWatcher(o.url, { skipUTF8Validation: true });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`watcher ${w + 1} of ${o.watchers} could not open: ${message}`, { cause: err });
      }
      ws.on('message', (data: Buffer) => tally.receive(w, data, Date.now()));
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (!ended.value) tally.closed += 1;
      });
      sockets[w] = ws;
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.inFlight, o.watchers) }, worker));
  return sockets;
}

function line(value: unknown): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(value)}\n`, () => resolve()));
}

/** Resolves once the parent signalled the end of the changes and the tally is final. */
function finished(tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGUSR2', () => {
      const signalled = Date.now();
      const timer = setInterval(() => {
        if (tally.complete || Date.now() - Math.max(signalled, tally.lastReceipt) >= IDLE_MS) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
  });
}

async function main(): Promise<void> {
  const o = options();
  const tally = new Tally(o.watchers, o.base, o.changes);
  const ended = { value: false };
  const done = finished(tally);
  const started = performance.now();
  const sockets = await openAll(o, tally, ended);
  await line({ type: 'opened', watchers: sockets.length, ms: performance.now() - started });
  await done;
  ended.value = true;
  await line({
    type: 'result',
    messages: tally.messages,
    unique: tally.unique,
    duplicates: tally.duplicates,
    unexpected: tally.unexpected,
    resyncs: tally.resyncs,
    watchersResynced: tally.watchersResynced,
    closed: tally.closed,
    firstReceipt: tally.firstReceipt,
    lastReceipt: tally.lastReceipt,
    latencyMs: tally.latency.summary(),
  });
  for (const ws of sockets) ws.terminate();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`fan-out client failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
