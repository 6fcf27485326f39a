import type { Logger } from 'winston';
import type { AlarmIndex } from './alarm-index.js';
import type { AlarmOp } from './event.js';
import { AlarmIds, isoTime, scopeKey, type Alarm, type AlarmChange, type Scope } from './model.js';
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

  /**
   * Looks at durable changes: an expiry of a watched alert raises, its new activation clears. An
   * AlertingPipelineDown committed after its alert arrived again (the two crossed: the clear found
   * nothing to clear yet) is cleared once its raise is seen.
   */
  observe(changes: readonly AlarmChange[]): void {
    if (this.ids.size === 0 || !this.leading) return;
    // Raised by this call and not in the index yet: watched alerts of one source expiring together raise once.
    const raising = new Set<string>();
    for (const c of changes) {
      if (this.ids.has(c.alarm.id)) {
        if (c.action === 'expire') this.raise(c.alarm, raising);
        else if (c.action === 'raise') this.clear(c.alarm);
      } else if (c.alarm.id === AlarmIds.AlertingPipelineDown && c.action === 'raise') {
        const alert = c.alarm.fields.alert;
        if (typeof alert === 'string' && this.activated(c.alarm, alert)) this.clear(c.alarm);
      }
    }
  }

  /** Whether the alert `id` of the alarm's scope and source is ACTIVATED in the index. */
  private activated(alarm: Pick<Alarm, 'domain' | 'project' | 'source'>, id: string): boolean {
    return this.options.index.get({ domain: alarm.domain, project: alarm.project }, id, alarm.source)?.status === 'ACTIVATED';
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

  private raise(expired: Alarm, raising: Set<string>): void {
    const scope = { domain: expired.domain, project: expired.project };
    const key = `${scopeKey(scope)}\u0000${expired.source}`;
    if (raising.has(key) || this.activated(expired, AlarmIds.AlertingPipelineDown)) return;
    // Arrived again since (committed with its expiry, or right after): nothing is down.
    if (this.activated(expired, expired.id)) return;
    raising.add(key);
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
