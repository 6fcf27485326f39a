import { setImmediate as nextTurn } from 'node:timers/promises';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { AlarmIndex } from './alarm-index.js';
import type { Scope } from './model.js';
import type { AlarmStore, Lease } from './store.js';

export interface RetentionPolicy {
  /** History entries older than this are removed (0 keeps them whatever their age). */
  historyMaxAgeMs: number;
  /** At most this many history entries are kept (0: no limit). */
  historyMaxEntries: number;
  /** CLEARED alarms leave the list this long after they cleared (0: they stay until a clear-all). */
  clearedMaxAgeMs: number;
}

export interface RetentionOptions extends RetentionPolicy {
  store: AlarmStore;
  index: AlarmIndex;
  /** Writes the PURGE changes of one scope (through the bus, like any write). */
  purge(scope: Scope, before: number): Promise<unknown>;
  logger: Logger;
  registry?: Registry;
  /** How often the policy is applied (default a minute). */
  intervalMs?: number;
  /** History entries removed per transaction (default 250): each one is a short pause of the writes. */
  batch?: number;
  clock?: () => number;
  /** With replicas, the lease of the jobs that run once: a pass runs only while it is held. */
  lease?: Lease;
}

/** What one pass did. */
export interface RetentionPass {
  pruned: number;
  batches: number;
  /** The longest single batch, in milliseconds: the longest the writes waited for it. */
  longestBatchMs: number;
}

/**
 * Applies the retention policy in the background: the history is pruned from its oldest end in
 * small transactions, each followed by a turn of the event loop so that writes go between them;
 * CLEARED alarms past their time leave the list as PURGE changes (kept in the history).
 */
export class Retention {
  private readonly options: RetentionOptions;
  private readonly clock: () => number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionPass> | undefined;
  private closed = false;
  private readonly prunedTotal: Counter | undefined;
  private readonly batchSeconds: Histogram | undefined;

  constructor(options: RetentionOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.batch = options.batch ?? 250;
    if (options.registry) {
      this.prunedTotal = new Counter({
        name: 'alarm_center_history_pruned_total',
        help: 'History entries removed by retention.',
        registers: [options.registry],
      });
      this.batchSeconds = new Histogram({
        name: 'alarm_center_history_prune_batch_seconds',
        help: 'Duration of each retention batch, the longest writes wait for pruning.',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
        registers: [options.registry],
      });
    }
  }

  /** Whether the policy limits the history and the store can prune it. */
  private get prunesHistory(): boolean {
    const o = this.options;
    return o.store.pruneHistory !== undefined && (o.historyMaxAgeMs > 0 || o.historyMaxEntries > 0);
  }

  private get purgesCleared(): boolean {
    return this.options.clearedMaxAgeMs > 0;
  }

  get enabled(): boolean {
    return this.prunesHistory || this.purgesCleared;
  }

  /** Applies the policy now and then every interval. */
  start(): void {
    if (!this.enabled || this.closed) return;
    const tick = () => {
      this.timer = undefined;
      void this.runOnce()
        .catch((err: unknown) => this.options.logger.warn('retention pass failed', { error: String(err) }))
        .finally(() => {
          if (this.closed) return;
          this.timer = setTimeout(tick, this.options.intervalMs ?? 60_000);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
    // With replicas, a pass is due as soon as this one takes over the jobs.
    this.options.lease?.onChange((held) => {
      if (!held || this.closed || this.timer === undefined) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(tick, 0);
      this.timer.unref();
    });
  }

  /** One pass of the policy; concurrent calls share the pass under way. */
  runOnce(): Promise<RetentionPass> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for a pass under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<RetentionPass> {
    const result: RetentionPass = { pruned: 0, batches: 0, longestBatchMs: 0 };
    if (this.options.lease && !this.options.lease.held) return result;
    const { store, historyMaxAgeMs, historyMaxEntries, clearedMaxAgeMs } = this.options;
    if (this.prunesHistory && store.pruneHistory) {
      const olderThan = historyMaxAgeMs > 0 ? this.clock() - historyMaxAgeMs : 0;
      while (!this.closed) {
        const started = process.hrtime.bigint();
        const n = await store.pruneHistory(olderThan, historyMaxEntries, this.batch);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (n === 0) break;
        result.pruned += n;
        result.batches += 1;
        result.longestBatchMs = Math.max(result.longestBatchMs, ms);
        this.prunedTotal?.inc(n);
        this.batchSeconds?.observe(ms / 1000);
        // Writes waiting behind this batch go first.
        await nextTurn();
      }
      if (result.pruned > 0) this.options.logger.info('history pruned', { entries: result.pruned, batches: result.batches, longestBatchMs: result.longestBatchMs });
    }
    if (this.purgesCleared && !this.closed) {
      const before = this.clock() - clearedMaxAgeMs;
      for (const scope of this.options.index.scopesWithClearedBefore(before)) {
        if (this.closed) break;
        await this.options.purge(scope, before);
      }
    }
    return result;
  }
}
