/**
 * Heartbeats and active checks built together from what the composition root has: one metrics
 * set, one lease, one start and one stop.
 */
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { keepsHeartbeats, type AlarmStore, type Lease } from '../alarm/store.js';
import type { CheckConfig } from './check-config.js';
import { Checks, targetOf, type ChecksOptions } from './checks.js';
import { Heartbeats, type HeartbeatAlarms } from './heartbeats.js';
import { createCheckMetrics, noopCheckMetrics } from './metrics.js';
import { ProbeThread } from './probe-thread.js';

export interface CheckJobsOptions {
  checks?: readonly CheckConfig[];
  store: AlarmStore;
  alarms: Required<HeartbeatAlarms>;
  index: ChecksOptions['index'];
  lease?: Lease;
  registry?: Registry;
  logger: Logger;
  clock?: () => number;
  /** How often heartbeats due are looked for (default 250 ms). */
  heartbeatTickMs?: number;
  /** Whether the checks probe in a worker thread (default) rather than on the event loop. */
  probeThread?: boolean;
}

/** The heartbeats (absent on a store that keeps none) and the checks, started and stopped together. */
export interface CheckJobs {
  readonly heartbeats?: Heartbeats;
  readonly checks: Checks;
  start(): void;
  close(): Promise<void>;
}

/** Builds the heartbeats' judge and the checks; neither runs before `start`. */
export function createCheckJobs(o: CheckJobsOptions): CheckJobs {
  const clock = o.clock ?? Date.now;
  const store = o.store;
  const kept = keepsHeartbeats(store) ? store : undefined;
  // Catching up is for a store other replicas write too; alone, the index is always current.
  const alarms: HeartbeatAlarms = store.changesAfter ? o.alarms : { apply: (scope, inputs) => o.alarms.apply(scope, inputs) };
  const metrics = o.registry ? createCheckMetrics(o.registry, { heartbeats: async () => (kept ? kept.heartbeats() : []), clock }) : noopCheckMetrics;
  const heartbeats =
    kept &&
    new Heartbeats({ store: kept, alarms, index: o.index, lease: o.lease, logger: o.logger.child({ component: 'heartbeat' }), metrics, clock, tickMs: o.heartbeatTickMs });
  const logger = o.logger.child({ component: 'check' });
  const thread = (o.checks ?? []).length > 0 && o.probeThread !== false ? new ProbeThread({ logger, metrics }) : undefined;
  const probeOf = thread && ((c: CheckConfig) => thread.probeOf(targetOf(c)));
  const checks = new Checks({ checks: o.checks ?? [], alarms: o.alarms, index: o.index, lease: o.lease, logger, metrics, clock, ...(probeOf && { probeOf }) });
  return {
    heartbeats,
    checks,
    start() {
      heartbeats?.start();
      checks.start();
    },
    async close() {
      checks.close();
      await thread?.close();
      await heartbeats?.close();
    },
  };
}
