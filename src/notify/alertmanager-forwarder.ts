/**
 * Forwarding alarms to Alertmanagers, as Prometheus forwards its alerts (DESIGN §11).
 *
 * Design note.
 * - Source: the durable changes of the ALARM subscriber (`changed`), this replica's own and, on a
 *   shared store, those the others committed; the active set is read from the index.
 * - What is sent: a change of an ACTIVATED alarm fires its alert (ending 4 resend intervals
 *   later), a clear, an expiry or a removal ends it (postable-alert.ts); every resend interval,
 *   and at start or when this replica takes the jobs lease, every active alarm fires again, so an
 *   Alertmanager that lost its state (a restart, a dropped request) has it back.
 * - Who sends: with a lease (replicas on PostgreSQL), only its holder; a replica that loses it
 *   forgets what it had queued, as the new holder starts with the whole active set. Without one,
 *   this process.
 * - Loops: an alarm that came from an Alertmanager's webhook is never sent to an Alertmanager.
 * - Each Alertmanager has its own queue, batches, retries and metrics (alertmanager-sender.ts).
 */
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { AlarmIndex } from '../alarm/alarm-index.js';
import type { Alarm, AlarmChange } from '../alarm/model.js';
import type { Lease } from '../alarm/store.js';
import { targetOf, type AlertmanagerEntry } from './alertmanager-config.js';
import { AlertmanagerSender, httpPoster, type Poster, type SenderOptions } from './alertmanager-sender.js';
import { createForwardMetrics, noopForwardMetrics, type ForwardMetrics } from './metrics.js';
import { noticeOf, postableAlert, type AlarmNotice } from './postable-alert.js';

/** The settings of forwarding. */
export interface ForwardingSettings {
  alertmanagers: readonly AlertmanagerEntry[];
  resendSeconds: number;
  /** The URL people reach Alarm Center at, read when an alert is made (the listen URL is known late). */
  baseUrl: () => string;
}

/** Queue and request tuning of every Alertmanager; tests shorten it. */
export type SenderTuning = Pick<SenderOptions, 'batchSize' | 'batchWaitMs' | 'maxPending' | 'timeoutMs' | 'backoff'>;

/**
 * Prometheus's: 64 alerts a request, 10,000 waiting, 10 s a request; retries from 2 s to a minute,
 * never waiting longer than a resend interval (see `backoffFor`).
 */
export const DEFAULT_TUNING: SenderTuning = {
  batchSize: 64,
  batchWaitMs: 100,
  maxPending: 10_000,
  timeoutMs: 10_000,
  backoff: { initialMs: 2000, maxMs: 60_000 },
};

/** The backoff of `base`, capped at the resend interval: a retry never waits longer than a resend would. */
export function backoffFor(base: SenderTuning['backoff'], resendMs: number): SenderTuning['backoff'] {
  const maxMs = Math.min(base.maxMs, resendMs);
  return { initialMs: Math.min(base.initialMs, maxMs), maxMs };
}

export interface ForwarderOptions extends ForwardingSettings {
  index: Pick<AlarmIndex, 'allAlarms' | 'get'>;
  /** The jobs lease of replicas; without one this process always forwards. */
  lease?: Lease;
  logger: Logger;
  /** Where the metrics go; none are recorded without one. */
  registry?: Registry;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  post?: Poster;
  tuning?: Partial<SenderTuning>;
  /** Waits before each request when notifications yield (pacer.ts). */
  pace?: () => Promise<void>;
}

/** Sends the alarms to every configured Alertmanager; see the design note. */
export class AlertmanagerForwarder {
  private readonly senders: AlertmanagerSender[];
  private readonly metrics: ForwardMetrics;
  /** Let go of the connections of the posters made here. */
  private readonly closers: (() => void)[] = [];
  private readonly options: ForwarderOptions;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(options: ForwarderOptions) {
    this.options = options;
    const clock = options.clock ?? Date.now;
    const resendMs = options.resendSeconds * 1000;
    const metrics = options.registry ? createForwardMetrics(options.registry) : noopForwardMetrics;
    this.metrics = metrics;
    const alertOf = (notice: AlarmNotice, now: number) => postableAlert(notice, { now, resendMs, baseUrl: options.baseUrl() });
    const current = (a: Alarm) => options.index.get(a, a.id, a.source);
    const tuning = { ...DEFAULT_TUNING, ...options.tuning };
    const backoff = backoffFor(tuning.backoff, resendMs);
    this.senders = options.alertmanagers.map((entry) => {
      let post = options.post;
      if (!post) {
        const own = httpPoster();
        this.closers.push(() => own.close());
        post = own;
      }
      const pace = options.pace;
      return new AlertmanagerSender({ ...tuning, backoff, target: targetOf(entry), alertOf, current, metrics, logger: options.logger, clock, post, ...(pace && { pace }) });
    });
    metrics.queueLengths(() => this.senders.map((s) => [s.name, s.length]));
    options.lease?.onChange((held) => {
      if (held) this.resync();
      else for (const s of this.senders) s.clear();
    });
  }

  /** Whether this replica forwards now. */
  private get leading(): boolean {
    return this.options.lease?.held ?? true;
  }

  /** Starts: the active set now (when leading), then again every resend interval. */
  start(): void {
    if (this.started || this.closed || this.senders.length === 0) return;
    this.started = true;
    this.options.logger.info('forwarding alarms to alertmanagers', { alertmanagers: this.senders.map((s) => s.name), resendSeconds: this.options.resendSeconds });
    this.resync();
    this.timer = setInterval(() => this.resync(), this.options.resendSeconds * 1000);
    this.timer.unref?.();
  }

  /**
   * Whether a source that can wait (the history, read by notify-worker.ts) should offer no more
   * now: every Alertmanager that answers has half its queue used. One that fails does not count,
   * as it cannot drain (it drops, and the next resend restores); nor does the wait delay the others.
   */
  get busy(): boolean {
    const answering = this.senders.filter((s) => !s.failing);
    return answering.length > 0 && answering.every((s) => s.busy);
  }

  /** Durable revisions its source has not offered yet (the history, read by notify-worker.ts). */
  backlog(revisions: number): void {
    this.metrics.backlog(revisions);
  }

  /** Takes committed changes, in commit order; queues them when leading. Cheap: no mapping, no I/O. */
  changed(changes: readonly AlarmChange[]): void {
    if (!this.started || this.closed || !this.leading) return;
    const notices: AlarmNotice[] = [];
    for (const c of changes) {
      const n = noticeOf(c);
      if (n) notices.push(n);
    }
    if (notices.length === 0) return;
    for (const s of this.senders) s.offer(notices);
  }

  /** Sends every active alarm to every Alertmanager, when leading. */
  private resync(): void {
    if (!this.started || this.closed || !this.leading) return;
    const active: Alarm[] = [];
    for (const a of this.options.index.allAlarms()) if (a.status === 'ACTIVATED') active.push(a);
    for (const s of this.senders) s.resync(active);
  }

  /** Stops: requests under way are aborted, queued alerts dropped (and counted). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const s of this.senders) s.close();
    for (const close of this.closers) close();
  }
}
