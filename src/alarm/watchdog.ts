import type { Logger } from 'winston';
import type { AlarmIndex } from './alarm-index.js';
import type { AlarmOp } from './event.js';
import { AlarmIds, isoTime, type Alarm, type AlarmChange, type Scope } from './model.js';
import type { Lease } from './store.js';

export interface WatchdogOptions {
  index: AlarmIndex;
  /** The ids of the alerts expected to keep arriving (`watchdogAlerts`); none turns the watchdog off. */
  ids: readonly string[];
  /** Writes the watchdog's raises and clears (through the bus, like any write). */
  write(scope: Scope, ops: AlarmOp[]): Promise<unknown>;
  logger: Logger;
  /** With replicas, the lease of the jobs that run once: the watchdog acts only while it is held. */
  lease?: Lease;
}

/**
 * The watchdog of the alerting pipeline. An always-firing alert (kube-prometheus's `Watchdog`)
 * that stops arriving expires; when one of `ids` expires, the watchdog raises
 * `AlertingPipelineDown` in its scope with the same source (its label set), so a broken
 * Prometheus → Alarm Center path is itself an alarm. When the alert arrives again (a new
 * activation), the watchdog clears it. It follows the durable changes, as watchers do; with
 * replicas, the holder of the jobs lease acts, and on taking the lease clears what no longer holds.
 */
export class Watchdog {
  private readonly options: WatchdogOptions;
  private readonly ids: ReadonlySet<string>;

  constructor(options: WatchdogOptions) {
    this.options = options;
    this.ids = new Set(options.ids);
    options.lease?.onChange((held) => {
      if (held) this.reconcile();
    });
  }

  private get leading(): boolean {
    return this.options.lease?.held ?? true;
  }

  /** Looks at durable changes: an expiry of a watched alert raises, its new activation clears. */
  observe(changes: readonly AlarmChange[]): void {
    if (this.ids.size === 0 || !this.leading) return;
    for (const c of changes) {
      if (!this.ids.has(c.alarm.id)) continue;
      if (c.action === 'expire') this.raise(c.alarm);
      else if (c.action === 'raise') this.clear(c.alarm);
    }
  }

  /** On taking the lease: clears the AlertingPipelineDown alarms whose alert is ACTIVATED again. */
  private reconcile(): void {
    for (const down of this.options.index.allAlarms()) {
      if (down.id !== AlarmIds.AlertingPipelineDown || down.status !== 'ACTIVATED') continue;
      const scope = { domain: down.domain, project: down.project };
      const back = [...this.ids].some((id) => this.options.index.get(scope, id, down.source)?.status === 'ACTIVATED');
      if (back) this.clear(down);
    }
  }

  private raise(expired: Alarm): void {
    const scope = { domain: expired.domain, project: expired.project };
    if (this.options.index.get(scope, AlarmIds.AlertingPipelineDown, expired.source)?.status === 'ACTIVATED') return;
    const detail = `alert ${expired.id} ${expired.source} stopped arriving: expected again by ${isoTime(expired.clearedAt ?? expired.updatedAt)}`;
    this.send(scope, { kind: 'raise', id: AlarmIds.AlertingPipelineDown, source: expired.source, severity: 'critical', fields: { detail, alert: expired.id } });
  }

  private clear(alert: Pick<Alarm, 'domain' | 'project' | 'source'>): void {
    const scope = { domain: alert.domain, project: alert.project };
    if (this.options.index.get(scope, AlarmIds.AlertingPipelineDown, alert.source)?.status !== 'ACTIVATED') return;
    this.send(scope, { kind: 'clear', id: AlarmIds.AlertingPipelineDown, source: alert.source, mustExist: false });
  }

  private send(scope: Scope, op: AlarmOp): void {
    this.options.write(scope, [op]).catch((err: unknown) => {
      this.options.logger.error('watchdog write failed', { domain: scope.domain, project: scope.project, op: op.kind, error: String(err) });
    });
  }
}
