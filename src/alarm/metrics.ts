import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlarmIndex } from './alarm-index.js';
import type { ChangeAction } from './model.js';

/** The alarm limits a write can be refused by (429002), named as their settings. */
export type AlarmLimit = 'maxAlarmsPerScope' | 'maxAlarms' | 'maxFieldsBytes';

/** What the alarm component reports. */
export interface AlarmMetrics {
  changed(action: ChangeAction, n: number): void;
  storeFailed(code: string): void;
  /** A write was refused whole because it would pass `limit`. */
  refused(limit: AlarmLimit): void;
  /** A commit was refused because another replica committed first; its batch is planned again. */
  conflicted(): void;
}

export const noopAlarmMetrics: AlarmMetrics = { changed() {}, storeFailed() {}, refused() {}, conflicted() {} };

/**
 * Alarms by status and severity (read from the index at scrape time), the bytes of fields held,
 * changes by action, and writes refused by a limit.
 */
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
  new Gauge({
    name: `${prefix}alarm_fields_bytes`,
    help: 'Bytes of fields (their JSON text) the stored alarms hold in memory, bounded by maxFieldsBytes.',
    registers,
    collect() {
      this.set(index.fieldsBytes);
    },
  });
  const refusals = new Counter({
    name: `${prefix}alarm_quota_refusals_total`,
    help: 'Writes refused whole with 429002, by the limit they would pass (maxAlarmsPerScope, maxAlarms, maxFieldsBytes).',
    labelNames: ['limit'],
    registers,
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
  const conflicts = new Counter({
    name: `${prefix}store_conflicts_total`,
    help: 'Commits refused because another replica committed first; the batch is planned again over its changes.',
    registers,
  });
  return {
    conflicted() {
      conflicts.inc();
    },
    changed(action, n) {
      changes.inc({ action }, n);
    },
    storeFailed(code) {
      failures.inc({ code });
    },
    refused(limit) {
      refusals.inc({ limit });
    },
  };
}
