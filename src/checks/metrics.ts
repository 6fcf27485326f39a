/**
 * What heartbeats and active checks report to Prometheus. Families are registered whether or not
 * any heartbeat or check exists, so the set of families is fixed; checks are labelled by name,
 * never by URL (which may hold a password).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StoredHeartbeat } from '../alarm/store.js';

/** The outcome of one probe of a check. */
export interface ProbeObservation {
  up: boolean;
  seconds: number;
  consecutiveFailures: number;
}

/** The jobs that write alarms by themselves. */
export type CheckJob = 'heartbeats' | 'checks';

export interface CheckMetrics {
  probed(check: string, o: ProbeObservation): void;
  /** The check no longer runs here (the lease went elsewhere, or shutdown): its series go. */
  stopped(check: string): void;
  /** A raise or clear a job could not write; it is tried again. */
  writeFailed(job: CheckJob): void;
  /** The probe thread died or could not start; the probes it held ran on the event loop. */
  probeThreadLost(): void;
}

export const noopCheckMetrics: CheckMetrics = { probed() {}, stopped() {}, writeFailed() {}, probeThreadLost() {} };

export interface CheckMetricsOptions {
  /** The heartbeats at scrape time; a failure leaves their series out of that scrape. */
  heartbeats: () => Promise<StoredHeartbeat[]>;
  clock: () => number;
}

/** Registers the families of heartbeats and checks on `registry`. */
export function createCheckMetrics(registry: Registry, options: CheckMetricsOptions): CheckMetrics {
  const registers = [registry];
  const labelNames = ['check'] as const;
  const up = new Gauge({ name: 'alarm_center_check_up', help: 'Whether the last probe of the check succeeded (1) or failed (0); only on the replica running checks.', labelNames, registers });
  const duration = new Gauge({ name: 'alarm_center_check_duration_seconds', help: 'How long the last probe of the check took.', labelNames, registers });
  const failures = new Gauge({ name: 'alarm_center_check_consecutive_failures', help: 'Probes of the check that failed in a row, up to the last one.', labelNames, registers });
  const errors = new Counter({
    name: 'alarm_center_check_alarm_write_errors_total',
    help: 'Raises and clears that heartbeats or checks could not write (each is tried again), by job.',
    labelNames: ['job'],
    registers,
  });
  new Gauge({
    name: 'alarm_center_heartbeat_since_last_beat_seconds',
    help: 'Seconds since the last beat of each heartbeat (since its registration before any).',
    labelNames: ['domain', 'project', 'heartbeat'],
    registers,
    async collect() {
      this.reset();
      let all: StoredHeartbeat[];
      try {
        all = await options.heartbeats();
      } catch {
        return;
      }
      const now = options.clock();
      for (const h of all) this.set({ domain: h.domain, project: h.project, heartbeat: h.name }, Math.max(0, now - h.lastBeat) / 1000);
    },
  });
  const threadsLost = new Counter({
    name: 'alarm_center_check_probe_threads_lost_total',
    help: 'Probe threads of the active checks that died or could not start; the probes they held ran on the event loop.',
    registers,
  });
  for (const job of ['heartbeats', 'checks'] as const) errors.inc({ job }, 0);
  return {
    probed(check, o) {
      up.set({ check }, o.up ? 1 : 0);
      duration.set({ check }, o.seconds);
      failures.set({ check }, o.consecutiveFailures);
    },
    stopped(check) {
      for (const g of [up, duration, failures]) g.remove({ check });
    },
    writeFailed: (job) => errors.inc({ job }),
    probeThreadLost: () => threadsLost.inc(),
  };
}
