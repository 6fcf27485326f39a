import type { Scope } from '../alarm/model.js';
import type { HistoryEntry } from '../alarm/store.js';
import type { BusEvent } from '../event/event.js';
import type { Subscriber } from '../event/subscriber.js';
import { ALARM_CHANGE, watchSubject, type ChangeBatch } from './feed.js';
import { RESYNC, WatchMessage } from './message.js';
import type { TerminationReason, WatchMetrics } from './metrics.js';

/** The transports a watcher can use; the scheme label of the subscriber metrics. */
export type Scheme = 'Websocket' | 'SSE' | 'Embedded';

/** Why a watcher ended. */
export type CloseReason =
  | 'peer'
  | TerminationReason
  | 'send-error'
  | 'history-error'
  | 'shutdown'
  | 'evicted';

/** The transport under a watcher: WebSocket, Server-Sent Events, or an in-process callback. */
export interface WatchSink {
  /**
   * Writes one message. `done`, given for the last message of a run only, is called once the
   * run has left the process (or failed); the next run waits for it, which bounds what a
   * watcher buffers in the transport to one run.
   */
  write(message: WatchMessage, done?: (err?: Error | null) => void): void;
  /** Closes the transport; called once, when the watcher ends. */
  end(reason: CloseReason): void;
  /** The transport's keep-alive, called on every sweep: answers a reason to end, or nothing. */
  tick?(now: number): CloseReason | undefined;
}

export interface WatcherOptions {
  id: string;
  scope: Scope;
  scheme: Scheme;
  sink: WatchSink;
  /** Most messages waiting for the transport; past it the backlog is dropped for a RESYNC. */
  queueSize: number;
  /** A run not flushed within this time ends the watcher. */
  sendTimeoutMs: number;
  metrics: WatchMetrics;
  /** Called once when the watcher ends, whatever ended it. */
  onEnd: (watcher: Watcher, reason: CloseReason) => void;
  /**
   * Asks for `pumpNow()` later, when live messages arrived: the owner spreads the writes of many
   * watchers over several event-loop turns. Without it the watcher writes at once.
   */
  schedule?: (watcher: Watcher) => void;
  clock?: () => number;
}

/** Where a replay reads from and up to where. */
export interface ReplaySource {
  /** Every change up to this revision is durable and in history (the feed's revision). */
  published(): number;
  /** The newest committed revision, durable or not (what a list answers). */
  committed(): number;
  history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]>;
  /** The last revision retention removed from the history; a replay from before it is incomplete. */
  pruned?(): number;
}

/** Most messages of one run, and most bytes: the unit of flushing and of the send timeout. */
const RUN_MESSAGES = 256;
const RUN_BYTES = 64 * 1024;

/**
 * One watcher of one scope: a bus subscriber (subject `domain/project`, group = its own id)
 * with a bounded queue in front of its transport.
 *
 * - Order: messages leave in revision order; a revision at or below the last one queued is
 *   skipped, so the switch from replay to live has no duplicate.
 * - Replay (`since`): history is read page by page up to the feed's revision while live events
 *   are ignored; the switch to live happens synchronously once the replay has reached the feed's
 *   current revision, so every later live event is newer: no gap.
 * - Overflow: when the queue is full, its backlog is dropped and replaced by one RESYNC carrying
 *   the newest revision, and the loss is counted; the watcher then goes on live.
 * - Flow: at most one run (≤ 256 messages, ≤ 64 KiB) is in the transport at a time; a run not
 *   flushed within the send timeout ends the watcher.
 */
export class Watcher implements Subscriber<ChangeBatch> {
  readonly id: string;
  readonly type = ALARM_CHANGE;
  readonly subject: string;
  readonly group: string;
  readonly domain: string;
  readonly scheme: Scheme;
  readonly scope: Scope;
  private readonly sink: WatchSink;
  private readonly queueSize: number;
  private readonly sendTimeoutMs: number;
  private readonly metrics: WatchMetrics;
  private readonly onEnd: (watcher: Watcher, reason: CloseReason) => void;
  private readonly schedule: ((watcher: Watcher) => void) | undefined;
  private readonly clock: () => number;
  private items: WatchMessage[] = [];
  private head = 0;
  /** The newest revision queued or written. */
  private last = 0;
  private replaying = true;
  /** The run in the transport, until its flush. */
  private run: WatchMessage[] | undefined;
  private runStartedAt = 0;
  /** The replay waiting for room in the queue. */
  private roomWaiter: { n: number; resolve: () => void } | undefined;
  private endedWith: CloseReason | undefined;
  /** Set by a finish marker: end with this reason once everything queued is delivered. */
  private finishing: CloseReason | undefined;

  constructor(options: WatcherOptions) {
    this.id = options.id;
    this.scope = options.scope;
    this.subject = watchSubject(options.scope);
    this.group = options.id;
    this.domain = options.scope.domain;
    this.scheme = options.scheme;
    this.sink = options.sink;
    this.queueSize = options.queueSize;
    this.sendTimeoutMs = options.sendTimeoutMs;
    this.metrics = options.metrics;
    this.onEnd = options.onEnd;
    this.schedule = options.schedule;
    this.clock = options.clock ?? Date.now;
  }

  /** Messages waiting for the transport. */
  get queued(): number {
    return this.items.length - this.head;
  }

  get ended(): CloseReason | undefined {
    return this.endedWith;
  }

  /**
   * Starts delivery: from the live tail without `since`, otherwise after replaying the changes
   * after `since`. A `since` beyond the newest committed revision, or before what retention
   * pruned from the history, cannot be resumed from: the watcher gets a RESYNC first. Call after
   * the watcher joined the bus.
   */
  async start(source: ReplaySource, since: number | undefined): Promise<void> {
    if (since === undefined || since > source.committed() || since < (source.pruned?.() ?? 0)) {
      this.last = source.published();
      this.replaying = false;
      if (since !== undefined) this.resync(this.last, 0);
      return;
    }
    this.last = since;
    const page = Math.max(1, Math.min(500, Math.floor(this.queueSize / 2)));
    try {
      for (;;) {
        const target = source.published();
        // Synchronous from this check to the switch: every live event after it is newer.
        if (this.last >= target || this.endedWith) break;
        await this.room(page);
        if (this.endedWith) return;
        const entries = await source.history(this.scope, this.last, page);
        if (this.endedWith) return;
        let exhausted = entries.length < page;
        for (const e of entries) {
          if (e.revision > target) {
            exhausted = true;
            break;
          }
          // Latency of a replayed message counts from its read, not from its (possibly old) commit.
          this.enqueue(WatchMessage.change(e.action, e.alarm, this.clock()));
        }
        // This scope has nothing else up to `target`: later revisions belong to other scopes.
        if (exhausted) this.last = Math.max(this.last, target);
        this.pump();
      }
    } catch (err) {
      this.end('history-error');
      throw err;
    }
    this.replaying = false;
    this.pump();
    this.finishIfDrained();
  }

  onMessage(event: BusEvent<ChangeBatch>): void {
    if (this.endedWith) return;
    if (event.payload.finish) {
      // A replay reads up to the newest change before it switches to live: it covers the marker.
      this.finishing = event.payload.finish;
      this.finishIfDrained();
      return;
    }
    if (this.replaying) return;
    for (const m of event.payload.messages) {
      if (m.revision <= this.last) continue;
      if (this.queued >= this.queueSize) this.resync(m.revision, 1);
      else this.enqueue(m);
    }
    if (this.schedule) this.schedule(this);
    else this.pump();
  }

  /** Writes what is queued, unless a run is still in the transport (its flush continues). */
  pumpNow(): void {
    this.pump();
  }

  /**
   * Drops the backlog and queues a RESYNC at `revision`: the watcher missed changes up to it
   * (`missed` of them besides the backlog) and must list again.
   */
  resync(revision: number, missed: number): void {
    if (this.endedWith) return;
    const backlog = this.queued;
    let changes = 0;
    for (let i = this.head; i < this.items.length; i += 1) if ((this.items[i] as WatchMessage).action !== RESYNC) changes += 1;
    this.items = [];
    this.head = 0;
    this.metrics.discarded(this.scheme, backlog);
    this.metrics.dropped(this.scheme, changes + missed);
    this.metrics.resynced(this.scheme);
    this.enqueue(WatchMessage.resync(revision, this.clock()));
    this.pump();
  }

  /** The sweep: the transport's keep-alive and the send timeout. */
  tick(now: number): void {
    if (this.endedWith) return;
    if (this.run && now - this.runStartedAt > this.sendTimeoutMs) {
      this.end('send-timeout');
      return;
    }
    const reason = this.sink.tick?.(now);
    if (reason) this.end(reason);
  }

  /** Ends the watcher once: the queue is let go of, the transport closed, the owner told. */
  end(reason: CloseReason): void {
    if (this.endedWith) return;
    this.endedWith = reason;
    this.metrics.discarded(this.scheme, this.queued + (this.run?.length ?? 0));
    this.items = [];
    this.head = 0;
    this.run = undefined;
    this.roomWaiter?.resolve();
    this.roomWaiter = undefined;
    try {
      this.sink.end(reason);
    } finally {
      this.onEnd(this, reason);
    }
  }

  /** The bus removed it (eviction or shutdown). */
  close(): void {
    this.end('evicted');
  }

  /** Ends the finishing watcher once its replay is over and its queue and transport are empty. */
  private finishIfDrained(): void {
    if (this.finishing && !this.replaying && !this.run && this.queued === 0) this.end(this.finishing);
  }

  private enqueue(m: WatchMessage): void {
    this.items.push(m);
    this.last = m.revision;
    this.metrics.queued(this.scheme, 1);
  }

  /** Resolves once `n` more messages fit in the queue. */
  private room(n: number): Promise<void> {
    if (this.queued + n <= this.queueSize) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiter = { n, resolve };
    });
  }

  /** Starts the next run unless one is in the transport. */
  private pump(): void {
    if (this.run || this.endedWith || this.queued === 0) return;
    const run: WatchMessage[] = [];
    let bytes = 0;
    while (this.head < this.items.length && run.length < RUN_MESSAGES && bytes < RUN_BYTES) {
      const m = this.items[this.head] as WatchMessage;
      this.head += 1;
      run.push(m);
      bytes += m.text.length;
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    this.run = run;
    this.runStartedAt = this.clock();
    const lastIndex = run.length - 1;
    for (let i = 0; i < lastIndex; i += 1) this.sink.write(run[i] as WatchMessage);
    this.sink.write(run[lastIndex] as WatchMessage, (err) => this.flushed(run, err));
  }

  private flushed(run: WatchMessage[], err?: Error | null): void {
    if (this.run !== run) return;
    this.run = undefined;
    this.metrics.written(this.scheme, run, !err, this.clock());
    if (err) {
      this.end('send-error');
      return;
    }
    this.pump();
    this.finishIfDrained();
    const waiter = this.roomWaiter;
    if (waiter && this.queued + waiter.n <= this.queueSize) {
      this.roomWaiter = undefined;
      waiter.resolve();
    }
  }
}
