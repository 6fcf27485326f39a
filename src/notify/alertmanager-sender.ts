/**
 * The queue of one Alertmanager and the requests that empty it.
 *
 * Design note.
 * - Queue: one notice per alarm, the latest (a clear replaces a raise not yet sent), at most
 *   `maxPending`; a notice of another alarm past it is dropped and counted, and the next resend
 *   restores the alarm if it still fires. A resend is not queued: it is a list of the active
 *   alarms read again from the index when their turn comes, so it never fills the queue and
 *   never sends an alarm as it was.
 * - Batches: at most `batchSize` alerts per request; notices wait up to `batchWaitMs` for others
 *   to join them, a full batch or a resend goes at once. One request at a time, so an
 *   Alertmanager sees an alarm's changes in order.
 * - Failures: no answer, a timeout or a 5xx/408/429 puts the batch back (behind newer notices of
 *   the same alarms) and waits, from `backoff.initialMs` doubling to `backoff.maxMs`; another
 *   4xx refuses the alerts themselves, so they are dropped and counted rather than sent forever.
 * - Isolation: `offer` and `resync` only queue; everything else runs on timers, so a slow or
 *   dead Alertmanager delays neither the writer that offers nor the other Alertmanagers.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'winston';
import type { Alarm } from '../alarm/model.js';
import type { AlertmanagerTarget } from './alertmanager-config.js';
import type { ForwardMetrics } from './metrics.js';
import { noticeKey, type AlarmNotice, type PostableAlert } from './postable-alert.js';

/** Posts a JSON body; resolves with the answer's status, rejects when there is none (with the signal's reason when it aborts). */
export type Poster = (request: { url: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<number>;

/**
 * A poster over node:http(s) with keep-alive agents of its own (one per Alertmanager, so a hung
 * one holds only its own connection); the answer's body is read and ignored. Node's fetch cost
 * several times as much CPU per request, on the event loop that takes the raises.
 */
export function httpPoster(): Poster & { close(): void } {
  const options = { keepAlive: true, maxSockets: 1 };
  const agents = { http: new http.Agent(options), https: new https.Agent(options) };
  const post: Poster = ({ url, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const sent = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      const req = (secure ? https : http).request(target, { method: 'POST', agent: secure ? agents.https : agents.http, headers: sent }, (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      });
      const onAbort = () => {
        reject(signal.reason);
        req.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.on('error', reject);
      req.end(body);
    });
  return Object.assign(post, {
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  });
}

export interface SenderOptions {
  target: AlertmanagerTarget;
  /** The alert of a notice when it is sent, or undefined when this alarm is never sent. */
  alertOf(notice: AlarmNotice, now: number): PostableAlert | undefined;
  /** The alarm as it is now (the index), for a resend. */
  current(alarm: Alarm): Alarm | undefined;
  metrics: ForwardMetrics;
  logger: Logger;
  clock: () => number;
  post: Poster;
  batchSize: number;
  batchWaitMs: number;
  maxPending: number;
  timeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
  /** Waits before each request when notifications yield (pacer.ts); none by default. */
  pace?: () => Promise<void>;
}

/** A request's outcome: taken, to be tried again, or refused for good (a 4xx but 408 and 429). */
type Outcome = 'sent' | 'retry' | 'refused';

/** The alerts of one request, and where they came from, to put back when it fails. */
interface Batch {
  alerts: PostableAlert[];
  notices: AlarmNotice[];
  epoch: number;
  resend: readonly Alarm[];
  resendFrom: number;
  resendTo: number;
}

/** Sends one Alertmanager its alerts; see the design note. */
export class AlertmanagerSender {
  private readonly o: SenderOptions;
  private readonly pending = new Map<string, AlarmNotice>();
  private resend: readonly Alarm[] = [];
  private resendAt = 0;
  /** A resend asked for while another was under way: it starts once that one is through. */
  private nextResend: readonly Alarm[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  private backingOff = false;
  private backoffMs = 0;
  private inFlight: AbortController | undefined;
  private dropping = false;
  /** Grows with every `clear`: a request made before one puts nothing back. */
  private epoch = 0;
  private closed = false;

  constructor(options: SenderOptions) {
    this.o = options;
  }

  /** The Alertmanager's name: its URL without credentials. */
  get name(): string {
    return this.o.target.name;
  }

  /** Alerts waiting: queued notices and the rest of the resend. */
  /**
   * Whether a reader that can wait should (notify-thread.ts reads the history at its own pace):
   * half the queue is used, and the Alertmanager answers (one backing off cannot drain it).
   */
  get busy(): boolean {
    return !this.backingOff && this.pending.size >= this.o.maxPending / 2;
  }

  /** Whether it waits before trying again after failures. */
  get failing(): boolean {
    return this.backingOff;
  }

  get length(): number {
    return this.pending.size + this.resend.length - this.resendAt;
  }

  /** Queues the notices, each replacing a queued one of its alarm. */
  offer(notices: Iterable<AlarmNotice>): void {
    if (this.closed) return;
    for (const n of notices) this.enqueue(noticeKey(n.alarm), n);
    this.schedule();
  }

  /**
   * Sends these alarms again, each as it is when its turn comes. A resend under way is finished
   * first (restarting it would starve the alarms at its end on a slow Alertmanager).
   */
  resync(active: readonly Alarm[]): void {
    if (this.closed) return;
    if (this.resendAt < this.resend.length) {
      this.nextResend = active;
      return;
    }
    this.resend = active;
    this.resendAt = 0;
    this.schedule();
  }

  /** Forgets what waits (another replica forwards now). */
  clear(): void {
    this.epoch += 1;
    this.pending.clear();
    this.resend = [];
    this.resendAt = 0;
    this.nextResend = undefined;
  }

  /** Stops: the request under way is aborted, what waits is dropped and counted. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.inFlight?.abort();
    if (this.pending.size > 0) this.o.metrics.dropped(this.name, this.pending.size);
    this.clear();
  }

  private enqueue(key: string, notice: AlarmNotice): void {
    if (this.pending.has(key) || this.pending.size < this.o.maxPending) {
      this.pending.set(key, notice);
      if (this.pending.size < this.o.maxPending) this.dropping = false;
      return;
    }
    this.o.metrics.dropped(this.name, 1);
    if (this.dropping) return;
    this.dropping = true;
    this.o.logger.warn('alertmanager queue full: alerts dropped until it drains; the next resend restores the active ones', {
      alertmanager: this.name,
      maxPending: this.o.maxPending,
    });
  }

  /**
   * Sets the timer of the next request: at once for a full batch, a resend, or notices that
   * waited for a request to end; after the batch wait otherwise.
   */
  private schedule(waited = false): void {
    if (this.closed || this.inFlight || this.backingOff) return;
    const full = this.pending.size >= this.o.batchSize || this.resendAt < this.resend.length;
    if (!full && this.pending.size === 0) return;
    const delay = full || waited ? 0 : this.o.batchWaitMs;
    if (this.timer !== undefined && this.timerDelay <= delay) return;
    clearTimeout(this.timer);
    this.timerDelay = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref?.();
  }

  /** The next batch: queued notices first, then the resend; alarms never sent are skipped. */
  private take(now: number): Batch {
    const batch: Batch = { alerts: [], notices: [], epoch: this.epoch, resend: this.resend, resendFrom: this.resendAt, resendTo: this.resendAt };
    const taken = new Set<string>();
    for (const [key, notice] of this.pending) {
      if (batch.alerts.length >= this.o.batchSize) break;
      this.pending.delete(key);
      const alert = this.o.alertOf(notice, now);
      if (!alert) continue;
      taken.add(key);
      batch.alerts.push(alert);
      batch.notices.push(notice);
    }
    while (batch.alerts.length < this.o.batchSize && this.resendAt < this.resend.length) {
      const alarm = this.o.current(this.resend[this.resendAt++] as Alarm);
      if (!alarm || alarm.status !== 'ACTIVATED') continue;
      // A notice of the alarm, in this batch or queued, is as new; a cleared or removed alarm was told by its own.
      const key = noticeKey(alarm);
      if (taken.has(key) || this.pending.has(key)) continue;
      const alert = this.o.alertOf({ alarm }, now);
      if (alert) batch.alerts.push(alert);
    }
    batch.resendTo = this.resendAt;
    if (this.resendAt === this.resend.length && this.nextResend) {
      this.resend = this.nextResend;
      this.resendAt = 0;
      this.nextResend = undefined;
    }
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.closed || this.inFlight || this.backingOff) return;
    if (this.o.pace) {
      // Counts as the request under way, so that no other flush starts meanwhile.
      this.inFlight = new AbortController();
      await this.o.pace();
      this.inFlight = undefined;
      if (this.closed) return;
    }
    const batch = this.take(this.o.clock());
    if (batch.alerts.length === 0) {
      this.schedule(true);
      return;
    }
    const outcome = await this.send(batch.alerts);
    if (this.closed) return;
    if (outcome === 'sent') {
      this.o.metrics.sent(this.name, batch.alerts.length, this.o.clock());
      if (this.backoffMs > 0) this.o.logger.info('alertmanager takes alerts again', { alertmanager: this.name });
      this.backoffMs = 0;
    } else if (outcome === 'refused') {
      this.o.metrics.dropped(this.name, batch.alerts.length);
    } else {
      this.putBack(batch);
      this.backOff();
      return;
    }
    this.schedule(true);
  }

  /** One request; its outcome. Never rejects. */
  private async send(alerts: readonly PostableAlert[]): Promise<Outcome> {
    const abort = new AbortController();
    this.inFlight = abort;
    const timeout = setTimeout(() => abort.abort(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    const { endpoint, headers } = this.o.target;
    try {
      const status = await this.o.post({ url: endpoint, headers, body: JSON.stringify(alerts), signal: abort.signal });
      if (status >= 200 && status < 300) return 'sent';
      this.o.metrics.failed(this.name);
      if (status >= 500 || status === 408 || status === 429) {
        this.failedToReach(`answered ${status}`);
        return 'retry';
      }
      this.o.logger.warn('alertmanager refused alerts; they are dropped', { alertmanager: this.name, status, alerts: alerts.length });
      return 'refused';
    } catch (err) {
      this.o.metrics.failed(this.name);
      if (!this.closed) this.failedToReach(err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err));
      return 'retry';
    } finally {
      clearTimeout(timeout);
      this.inFlight = undefined;
    }
  }

  /** Logs a request to try again: a warning the first time, then at debug until one succeeds. */
  private failedToReach(reason: string): void {
    const level = this.backoffMs === 0 ? 'warn' : 'debug';
    this.o.logger.log(level, 'alertmanager unavailable; alerts kept for a retry', { alertmanager: this.name, error: reason });
  }

  /** Puts a failed batch back: its notices behind newer ones of the same alarms, its resend part to be read again. */
  private putBack(batch: Batch): void {
    if (batch.epoch !== this.epoch) return;
    for (const notice of batch.notices) {
      const key = noticeKey(notice.alarm);
      if (!this.pending.has(key)) this.enqueue(key, notice);
    }
    if (this.resend === batch.resend && this.resendAt === batch.resendTo) this.resendAt = batch.resendFrom;
  }

  /** Waits before the next request: from `initialMs`, doubling up to `maxMs`. */
  private backOff(): void {
    this.backoffMs = this.backoffMs === 0 ? this.o.backoff.initialMs : Math.min(this.o.backoff.maxMs, this.backoffMs * 2);
    this.backingOff = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.backingOff = false;
      void this.flush();
    }, this.backoffMs);
    this.timer.unref?.();
  }
}
