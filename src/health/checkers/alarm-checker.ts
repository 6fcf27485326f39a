import type { AlarmIndex } from '../../alarm/alarm-index.js';
import { AlarmIds, type Alarm, type Scope } from '../../alarm/model.js';
import type { HealthChecker, HealthResult } from '../checker.js';

export interface AlarmCheckerOptions {
  index: Pick<AlarmIndex, 'activeOf'>;
  /** Alarm ids that make the cluster unhealthy while ACTIVATED; default BackendConnectionRefuse. */
  ids?: readonly string[];
  name?: string;
  /** Most alarms named in a verdict (default 10); the rest are counted. */
  maxNamed?: number;
}

/**
 * An alarm as a verdict names it: `id/source: detail` (`id: detail` without a source), its
 * `fields.detail` as JSON text when it is not a string, and no detail part without one. A
 * heartbeat's or a check's alarm has the heartbeat's or check's name as source, so it is named.
 */
export function describeAlarm(a: Alarm): string {
  const who = a.source === '' ? a.id : `${a.id}/${a.source}`;
  const detail = a.fields.detail;
  if (detail === undefined) return who;
  return `${who}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`;
}

/**
 * The default cluster checker (service-center's DefaultHealthChecker): unhealthy while an
 * ACTIVATED alarm with one of the configured ids exists in the scope (system alarms included).
 * Its detail names every such alarm (up to `maxNamed`, then how many more) with its detail,
 * separated by `; `; `reasons` has one line per alarm named. O(maxNamed + number of ids),
 * whatever the number of alarms.
 */
export function createAlarmChecker(options: AlarmCheckerOptions): HealthChecker {
  const ids = options.ids ?? [AlarmIds.BackendConnectionRefuse];
  const maxNamed = options.maxNamed ?? 10;
  return {
    name: options.name ?? 'alarms',
    check(scope: Scope): HealthResult {
      const { alarms, total } = options.index.activeOf(scope, ids, maxNamed);
      if (total === 0) return { healthy: true };
      const reasons = alarms.map(describeAlarm);
      if (total > alarms.length) reasons.push(`and ${total - alarms.length} more`);
      return { healthy: false, detail: reasons.join('; '), reasons };
    },
  };
}
