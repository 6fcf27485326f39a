import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlarmIndex } from './alarm-index.js';
import type { ChangeAction } from './model.js';

/** What the alarm component reports. */
export interface AlarmMetrics {
  changed(action: ChangeAction, n: number): void;
  storeFailed(code: string): void;
}

export const noopAlarmMetrics: AlarmMetrics = { changed() {}, storeFailed() {} };

/** Alarms by status and severity (read from the index at scrape time) and changes by action. */
export function createAlarmMetrics(registry: Registry, index: AlarmIndex, prefix = 'alarm_center_'): AlarmMetrics {
  const registers = [registry];
  new Gauge({
    name: `${prefix}alarms`,
    help: 'Alarms held, by status and severity.',
    labelNames: ['status', 'severity'],
    registers,
    collect() {
      this.reset();
      for (const c of index.counts()) this.set({ status: c.status, severity: c.severity }, c.count);
    },
  });
  new Gauge({
    name: `${prefix}store_revision`,
    help: 'Revision of the last committed change.',
    registers,
    collect() {
      this.set(index.revision);
    },
  });
  const changes = new Counter({
    name: `${prefix}alarm_changes_total`,
    help: 'Committed alarm changes, by action.',
    labelNames: ['action'],
    registers,
  });
  const failures = new Counter({
    name: `${prefix}store_failures_total`,
    help: 'Commits the store refused, by backend error code.',
    labelNames: ['code'],
    registers,
  });
  return {
    changed(action, n) {
      changes.inc({ action }, n);
    },
    storeFailed(code) {
      failures.inc({ code });
    },
  };
}
