/**
 * The rows of the stores' two tables, as SQLite and PostgreSQL both read them: a history row is an
 * alarm's whole state after one change; an alarms row, its current state.
 */
import { REMOVING_ACTIONS, makeAlarm, type Alarm, type AlarmChange, type AlarmStatus, type ChangeAction, type Severity } from './model.js';
import type { HistoryEntry } from './store.js';

/** A history row: an alarm's whole state after one change. */
export interface HistoryRow {
  revision: number;
  domain: string;
  project: string;
  id: string;
  source: string;
  action: string;
  status: AlarmStatus;
  severity: Severity;
  fields: string;
  count: number;
  raised_at: number;
  updated_at: number;
  cleared_at: number | null;
  acked_by: string | null;
  acked_at: number | null;
  ack_comment: string | null;
  ack_expires_at: number | null;
  expires_at: number | null;
  at: number;
  /** The change's `by` (history only). */
  changed_by: string | null;
}

/** A row of the alarms table: an alarm's current state. */
export type AlarmRow = Omit<HistoryRow, 'action' | 'at' | 'changed_by'>;

/** The alarm a row of the alarms or the history table holds. */
export function fromRow(r: AlarmRow): Alarm {
  return makeAlarm({
    domain: r.domain,
    project: r.project,
    id: r.id,
    source: r.source,
    status: r.status,
    severity: r.severity,
    fieldsJson: r.fields,
    count: r.count,
    raisedAt: r.raised_at,
    updatedAt: r.updated_at,
    revision: r.revision,
    clearedAt: r.cleared_at ?? undefined,
    ackedBy: r.acked_by ?? undefined,
    ackedAt: r.acked_at ?? undefined,
    ackComment: r.ack_comment ?? undefined,
    ackExpiresAt: r.ack_expires_at ?? undefined,
    expiresAt: r.expires_at ?? undefined,
  });
}

/** A history row as a history entry. */
export const entryOf = (r: HistoryRow): HistoryEntry => {
  const entry: HistoryEntry = { revision: r.revision, action: r.action, at: r.at, alarm: fromRow(r) };
  if (r.changed_by !== null && r.changed_by !== undefined) entry.by = r.changed_by;
  return entry;
};

/** A history row as the change it records; `removed` for the actions that take the alarm out of the list. */
export const changeOf = (r: HistoryRow): AlarmChange => {
  const change = { action: r.action as ChangeAction, alarm: fromRow(r), removed: REMOVING_ACTIONS.has(r.action), at: r.at };
  return r.changed_by === null || r.changed_by === undefined ? change : { ...change, by: r.changed_by };
};

