import type { Logger } from 'winston';
import type { Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';
import type { BusService } from '../event/bus-service.js';
import { createEvent } from '../event/event.js';
import { ALARM_CHANGE, type ChangeBatch } from './feed.js';
import type { WatchMetrics } from './metrics.js';
import { Watcher, type CloseReason, type ReplaySource, type Scheme, type WatchSink } from './watcher.js';

/** Watchers written per event-loop turn. */
const PUMP_CHUNK = 256;

export interface WatchHubOptions {
  bus: BusService;
  source: ReplaySource;
  logger: Logger;
  metrics: WatchMetrics;
  /** Default bound of each watcher's queue. */
  queueSize: number;
  /** How often transports send their keep-alive; a WebSocket peer silent for 4 of them is dropped. */
  heartbeatMs: number;
  sendTimeoutMs: number;
  /** Most open watchers per domain; 0 is no limit. */
  maxPerDomain?: number;
  /** Most open watchers in all domains together; 0 is no limit. */
  maxWatchers?: number;
  clock?: () => number;
}

export interface OpenOptions {
  scheme: Scheme;
  sink: WatchSink;
  since?: number;
  queueSize?: number;
  /** Called once the watcher ended, with why. */
  onEnd?: (reason: CloseReason) => void;
}

/**
 * The watchers of one Alarm Center: opens them (as bus subscribers), sweeps them on one timer
 * for heartbeats and stalled sends, as service-center's websocket health-check loop does, tells
 * a subject's watchers to resync when the feed loses an event, and closes them all at shutdown.
 */
export class WatchHub {
  readonly heartbeatMs: number;
  readonly sendTimeoutMs: number;
  private readonly options: WatchHubOptions;
  private readonly watchers = new Set<Watcher>();
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;
  private closed = false;
  private readonly perDomain = new Map<string, number>();
  /** Watchers with live messages to write, pumped a chunk per event-loop turn. */
  private readonly waking = new Set<Watcher>();
  private waker: NodeJS.Immediate | undefined;
  /** Called when the last watcher is gone. */
  private emptied: (() => void)[] = [];

  constructor(options: WatchHubOptions) {
    this.options = options;
    this.heartbeatMs = options.heartbeatMs;
    this.sendTimeoutMs = options.sendTimeoutMs;
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Throws what opening a watcher of the scope would throw: 503001 once closed, 429002 when its
   * domain, or all domains together, have as many watchers as allowed. Transports call it before
   * their handshake. The total bounds memory whatever domain names clients make up.
   */
  admit(scope: Scope): void {
    if (this.closed) throw new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down');
    const max = this.options.maxPerDomain ?? 0;
    const open = this.perDomain.get(scope.domain) ?? 0;
    if (max > 0 && open >= max) {
      this.options.metrics.refused('maxWatchersPerDomain');
      throw new AlarmCenterError(Codes.QuotaExceeded, `domain ${scope.domain} has ${open} watchers open, the most allowed`);
    }
    const total = this.options.maxWatchers ?? 0;
    if (total > 0 && this.watchers.size >= total) {
      this.options.metrics.refused('maxWatchers');
      throw new AlarmCenterError(Codes.QuotaExceeded, `watchers: more than ${total} watchers open in all (maxWatchers)`);
    }
  }

  /** Opens a watcher of the scope and starts its replay or live delivery. */
  open(scope: Scope, options: OpenOptions): Watcher {
    this.admit(scope);
    this.sequence += 1;
    const watcher = new Watcher({
      id: `watch-${this.sequence}`,
      scope,
      scheme: options.scheme,
      sink: options.sink,
      queueSize: options.queueSize ?? this.options.queueSize,
      sendTimeoutMs: this.options.sendTimeoutMs,
      metrics: this.options.metrics,
      clock: this.clock,
      onEnd: (w, reason) => {
        this.remove(w, reason);
        options.onEnd?.(reason);
      },
      schedule: (w) => this.wake(w),
    });
    this.watchers.add(watcher);
    this.perDomain.set(scope.domain, (this.perDomain.get(scope.domain) ?? 0) + 1);
    this.options.bus.addSubscriber(watcher);
    this.startSweeping();
    watcher.start(this.options.source, options.since).catch((err: unknown) => {
      this.options.logger.error('watch replay failed', { watcher: watcher.id, error: err instanceof Error ? err.message : String(err) });
    });
    return watcher;
  }

  /** Tells every watcher of `subject` that it missed changes up to `revision`. */
  resync(subject: string, revision: number): void {
    for (const w of this.watchers) if (w.subject === subject) w.resync(revision, 1);
  }

  /**
   * Ends a watcher once it has delivered every change committed before this call: a marker
   * follows those changes over the bus, which keeps their order. A watcher the marker cannot
   * reach (the bus is stopped or full) ends at once.
   */
  finish(watcher: Watcher, reason: CloseReason): void {
    if (watcher.ended) return;
    const marker: ChangeBatch = { scope: watcher.scope, messages: [], finish: reason };
    this.options.bus.fire(createEvent(ALARM_CHANGE, watcher.subject, watcher.group, marker)).then(
      (r) => {
        if (r.status !== 'delivered') watcher.end(reason);
      },
      () => watcher.end(reason),
    );
  }

  /**
   * Shutdown of an embedding process: every watcher ends with `shutdown` once it delivered the
   * changes committed so far; those not done within the send timeout end anyway. No watcher can
   * open afterwards.
   */
  async finishAll(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) this.finish(w, 'shutdown');
    if (this.watchers.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.emptied.push(resolve);
        timer = setTimeout(resolve, this.sendTimeoutMs);
      });
      clearTimeout(timer);
    }
    this.close();
  }

  /** Ends every watcher (shutdown) and stops the sweep; no watcher can open afterwards. */
  close(): void {
    this.closed = true;
    for (const w of [...this.watchers]) w.end('shutdown');
    this.stopSweeping();
    if (this.waker) clearImmediate(this.waker);
    this.waker = undefined;
  }

  /**
   * Writes are spread over event-loop turns, a chunk of watchers per turn: one change to ten
   * thousand watchers is ten thousand socket writes, and requests (a probe) must not wait for all.
   */
  private wake(watcher: Watcher): void {
    this.waking.add(watcher);
    this.waker ??= setImmediate(() => this.pumpSome());
  }

  private pumpSome(): void {
    this.waker = undefined;
    let n = 0;
    for (const w of this.waking) {
      this.waking.delete(w);
      w.pumpNow();
      n += 1;
      if (n >= PUMP_CHUNK) break;
    }
    if (this.waking.size > 0) this.waker = setImmediate(() => this.pumpSome());
  }

  private remove(watcher: Watcher, reason: CloseReason): void {
    this.waking.delete(watcher);
    if (!this.watchers.delete(watcher)) return;
    const left = (this.perDomain.get(watcher.domain) ?? 1) - 1;
    if (left > 0) this.perDomain.set(watcher.domain, left);
    else this.perDomain.delete(watcher.domain);
    this.options.bus.removeSubscriber(watcher);
    if (reason === 'heartbeat' || reason === 'send-timeout') {
      this.options.metrics.terminated(watcher.scheme, reason);
      this.options.logger.warn('watcher terminated', { watcher: watcher.id, scheme: watcher.scheme, reason });
    }
    if (this.watchers.size === 0) {
      this.stopSweeping();
      for (const resolve of this.emptied.splice(0)) resolve();
    }
  }

  private startSweeping(): void {
    if (this.timer) return;
    const every = Math.max(5, Math.min(1000, this.heartbeatMs / 4, this.options.sendTimeoutMs / 4));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  private stopSweeping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = this.clock();
    for (const w of this.watchers) {
      try {
        w.tick(now);
      } catch (err) {
        this.options.logger.error('watcher sweep failed', { watcher: w.id, error: String(err) });
        w.end('send-error');
      }
    }
  }
}
