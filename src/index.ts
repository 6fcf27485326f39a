/** The package entry: embed Alarm Center in a Node process, or build its HTTP service. */
export { createAlarmCenter } from './root.js';
export {
  DB_FILE,
  type AlarmCenter,
  type AlarmCenterOptions,
  type AlarmsAnswer,
  type HistoryAnswer,
  type HistoryEntryJson,
  type Lifecycle,
  type WatchEvent,
  type WatchHandle,
  type WatchOptions,
} from './center.js';
export {
  AlarmIds,
  SEVERITIES,
  STATUSES,
  toJson,
  type Alarm,
  type AlarmInput,
  type AlarmJson,
  type AlarmStatus,
  type Scope,
  type Severity,
} from './alarm/model.js';
export { MAX_PAGE, type AlarmFilter, type AlarmSelection, type HistoryFilter } from './alarm/filter.js';
export type { HistoryResult, ListResult, WriteResult } from './alarm/service.js';
export type { AlarmStore, HistoryEntry, HistoryPage, HistoryQuery, StoreSnapshot } from './alarm/store.js';
export { StoreError } from './alarm/store.js';
export { SqliteStore, type Durability } from './alarm/sqlite-store.js';
export { AlarmCenterError, Codes, ERROR_CATALOG, type ErrorCode } from './errors.js';
export { BusService } from './event/bus-service.js';
export { BusError, type BusErrorCode } from './event/bus-error.js';
export type { HealthChecker, HealthResult, HealthReport } from './health/checker.js';
