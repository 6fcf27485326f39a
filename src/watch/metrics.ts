import { Counter, Histogram, type Registry } from 'prom-client';
import type { BusMetrics } from '../event/metrics.js';
import { noopBusMetrics } from '../event/metrics.js';
import type { WatchMessage } from './message.js';

/** Why a watcher was closed by the server rather than by its peer. */
export type TerminationReason = 'heartbeat' | 'send-timeout';

/** The watcher limits an open can be refused by (429002), named as their settings. */
export type WatchLimit = 'maxWatchersPerDomain' | 'maxWatchers';

/** What watchers report. Counts go to the bus's `notify_*` families, as service-center's websocket does. */
export interface WatchMetrics {
  queued(scheme: string, n: number): void;
  /** A run of messages was written out (ok) or failed; `now` is when. */
  written(scheme: string, run: readonly WatchMessage[], ok: boolean, now: number): void;
  /** Queued messages let go of without being written (the watcher closed). */
  discarded(scheme: string, n: number): void;
  /** Messages dropped by an overflow or a lost bus event, replaced by a RESYNC. */
  dropped(scheme: string, n: number): void;
  resynced(scheme: string): void;
  terminated(scheme: string, reason: TerminationReason): void;
  /** A watch was refused because it would pass `limit`. */
  refused(limit: WatchLimit): void;
}

export const noopWatchMetrics: WatchMetrics = {
  queued() {},
  written() {},
  discarded() {},
  dropped() {},
  resynced() {},
  terminated() {},
  refused() {},
};

/**
 * Watch metrics: pending and published message counts in the bus's `notify_*` families (source =
 * scheme), commit-to-write latency per message as a histogram (a summary per message per watcher
 * would cost more than the write), and the loss, termination and refusal counters.
 */
export function createWatchMetrics(registry: Registry, bus: BusMetrics = noopBusMetrics, prefix = 'alarm_center_'): WatchMetrics {
  const registers = [registry];
  const delivery = new Histogram({
    name: `${prefix}watch_delivery_seconds`,
    help: 'Time from a change\'s commit to its message being written to a watcher, by scheme.',
    labelNames: ['scheme'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const dropped = new Counter({
    name: `${prefix}watch_dropped_messages_total`,
    help: 'Messages a watcher did not get because its queue overflowed or the change feed lost them; each loss is followed by a RESYNC.',
    labelNames: ['scheme'],
    registers,
  });
  const resyncs = new Counter({
    name: `${prefix}watch_resyncs_total`,
    help: 'RESYNC messages sent to watchers, by scheme.',
    labelNames: ['scheme'],
    registers,
  });
  const terminated = new Counter({
    name: `${prefix}watch_terminated_total`,
    help: 'Watchers closed by the server: silent peers (heartbeat) and stalled sends (send-timeout).',
    labelNames: ['scheme', 'reason'],
    registers,
  });
  const refusals = new Counter({
    name: `${prefix}watch_quota_refusals_total`,
    help: 'Watches refused with 429002, by the limit they would pass (maxWatchersPerDomain, maxWatchers).',
    labelNames: ['limit'],
    registers,
  });
  const histograms = new Map<string, ReturnType<typeof delivery.labels>>();
  const histogramOf = (scheme: string) => {
    let h = histograms.get(scheme);
    if (!h) {
      h = delivery.labels({ scheme });
      histograms.set(scheme, h);
    }
    return h;
  };
  return {
    queued(scheme, n) {
      bus.pending(scheme, n);
    },
    written(scheme, run, ok, now) {
      bus.pending(scheme, -run.length);
      bus.published(scheme, ok, run.length);
      if (!ok) return;
      const h = histogramOf(scheme);
      for (const m of run) h.observe((now - m.at) / 1000);
    },
    discarded(scheme, n) {
      if (n > 0) bus.pending(scheme, -n);
    },
    dropped(scheme, n) {
      if (n > 0) dropped.inc({ scheme }, n);
    },
    resynced(scheme) {
      resyncs.inc({ scheme });
    },
    terminated(scheme, reason) {
      terminated.inc({ scheme, reason });
    },
    refused(limit) {
      refusals.inc({ limit });
    },
  };
}
