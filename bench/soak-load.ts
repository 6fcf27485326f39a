/**
 * The soak's load: request streams sent open-loop, each on a timer schedule at a fixed rate
 * whatever the pace of the answers, over keep-alive connections. Each unanswered request has a
 * connection of its own (a stream has as many connections as it may have requests unanswered),
 * so an answer time is the server's and never a wait for a free connection. A stream counts its
 * answers by status, its transport errors (refused, reset, timed out) and the slots it skipped
 * because MAX_IN_FLIGHT of its requests were still unanswered (the server is not keeping up).
 */
import http from 'node:http';
import { percentile } from './percentile.js';

/** One request of a stream. */
export interface SoakRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** A JSON body. */
  body?: string;
}

/** A stream: its name, its rate, how each request is made and what a 2xx answer teaches. */
export interface StreamSpec {
  name: string;
  perSecond: number;
  next: () => SoakRequest;
  /** Called with the request of every 2xx answer. */
  answered?: (req: SoakRequest) => void;
}

/** What a stream saw over one interval (a minute) or over the whole run. */
export interface StreamCounts {
  /** Answers, whatever their status. */
  answered: number;
  non2xx: number;
  /** Refused, reset or timed-out requests. */
  errors: number;
  /** Slots not sent because too many requests were unanswered. */
  skipped: number;
  statuses: Record<string, number>;
  /** Answer time percentiles of the interval, in ms (NaN without answers). */
  p50Ms: number;
  p99Ms: number;
}

const TICK_MS = 5;
/** Unanswered requests per stream, each on its own connection; four streams stay under 1,024 descriptors. */
export const MAX_IN_FLIGHT = 200;
const REQUEST_TIMEOUT_MS = 30_000;

interface Interval {
  answered: number;
  non2xx: number;
  errors: number;
  skipped: number;
  statuses: Record<string, number>;
  latencies: number[];
}

function emptyInterval(): Interval {
  return { answered: 0, non2xx: 0, errors: 0, skipped: 0, statuses: {}, latencies: [] };
}

function addTo(total: Interval, i: Interval): void {
  total.answered += i.answered;
  total.non2xx += i.non2xx;
  total.errors += i.errors;
  total.skipped += i.skipped;
  for (const [status, n] of Object.entries(i.statuses)) total.statuses[status] = (total.statuses[status] ?? 0) + n;
}

function counts(i: Interval): StreamCounts {
  const sorted = Float64Array.from(i.latencies).sort();
  const { answered, non2xx, errors, skipped, statuses } = i;
  return { answered, non2xx, errors, skipped, statuses: { ...statuses }, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

/** One open-loop stream of requests to `base` (http://host:port). */
class Stream {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT, maxFreeSockets: MAX_IN_FLIGHT });
  private readonly url: URL;
  private sent = 0;
  private inFlight = 0;
  private interval = emptyInterval();
  private readonly total = emptyInterval();
  private idle: (() => void) | undefined;

  constructor(
    readonly spec: StreamSpec,
    base: string,
  ) {
    this.url = new URL(base);
  }

  /** Sends every slot due `elapsedMs` after the start. */
  tick(elapsedMs: number): void {
    const due = Math.floor((elapsedMs / 1000) * this.spec.perSecond);
    for (; this.sent < due; this.sent += 1) {
      if (this.inFlight >= MAX_IN_FLIGHT) this.interval.skipped += 1;
      else this.send(this.spec.next());
    }
  }

  /** The interval's counts; starts the next interval. */
  take(): StreamCounts {
    const i = this.interval;
    addTo(this.total, i);
    this.interval = emptyInterval();
    return counts(i);
  }

  /** Counts of the whole run so far, percentiles left out. */
  totals(): StreamCounts {
    const all = emptyInterval();
    addTo(all, this.total);
    addTo(all, this.interval);
    return counts(all);
  }

  /** Resolves once no request is unanswered. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  destroy(): void {
    this.agent.destroy();
  }

  private send(r: SoakRequest): void {
    this.inFlight += 1;
    const started = performance.now();
    let finished = false;
    const finish = (status: number | undefined): void => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
      const i = this.interval;
      if (status === undefined) {
        i.errors += 1;
      } else {
        i.answered += 1;
        i.latencies.push(performance.now() - started);
        i.statuses[status] = (i.statuses[status] ?? 0) + 1;
        if (status >= 200 && status <= 299) this.spec.answered?.(r);
        else i.non2xx += 1;
      }
      if (this.inFlight === 0 && this.idle) {
        this.idle();
        this.idle = undefined;
      }
    };
    const headers: http.OutgoingHttpHeaders = r.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body) };
    const req = http.request(
      { agent: this.agent, host: this.url.hostname, port: this.url.port, method: r.method, path: r.path, headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        res.once('end', () => finish(res.statusCode));
        res.once('error', () => finish(undefined));
        res.resume();
      },
    );
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', () => finish(undefined));
    req.end(r.body);
  }
}

/** The streams of a soak, driven from one timer. */
export class SoakLoad {
  private readonly streams: Stream[];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(base: string, specs: readonly StreamSpec[]) {
    this.streams = specs.map((s) => new Stream(s, base));
  }

  get names(): string[] {
    return this.streams.map((s) => s.spec.name);
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => {
      const elapsed = performance.now() - this.startedAt;
      for (const s of this.streams) s.tick(elapsed);
    }, TICK_MS);
  }

  /** Each stream's counts since the previous call (or the start), by name. */
  take(): Record<string, StreamCounts> {
    return Object.fromEntries(this.streams.map((s) => [s.spec.name, s.take()]));
  }

  /** Each stream's counts over the whole run, by name. */
  totals(): Record<string, StreamCounts> {
    return Object.fromEntries(this.streams.map((s) => [s.spec.name, s.totals()]));
  }

  /** Stops sending and resolves once every request was answered (or failed). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.streams.map((s) => s.drained()));
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    for (const s of this.streams) s.destroy();
  }
}
