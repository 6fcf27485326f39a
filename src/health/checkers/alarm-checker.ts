import type { AlarmIndex } from '../../alarm/alarm-index.js';
import { AlarmIds, type Scope } from '../../alarm/model.js';
import type { HealthChecker, HealthResult } from '../checker.js';

export interface AlarmCheckerOptions {
  index: AlarmIndex;
  /** Alarm ids that make the cluster unhealthy while ACTIVATED; default BackendConnectionRefuse. */
  ids?: readonly string[];
  name?: string;
}

/**
 * The default cluster checker (service-center's DefaultHealthChecker): unhealthy while an
 * ACTIVATED alarm with one of the configured ids exists in the scope, with that alarm's
 * `fields.detail` as detail. O(number of ids), whatever the number of alarms.
 */
export function createAlarmChecker(options: AlarmCheckerOptions): HealthChecker {
  const ids = options.ids ?? [AlarmIds.BackendConnectionRefuse];
  return {
    name: options.name ?? 'alarms',
    check(scope: Scope): HealthResult {
      const alarm = options.index.firstActive(scope, ids);
      if (!alarm) return { healthy: true };
      const detail = alarm.fields.detail;
      if (detail === undefined) return { healthy: false, detail: alarm.id };
      return { healthy: false, detail: typeof detail === 'string' ? detail : JSON.stringify(detail) };
    },
  };
}
