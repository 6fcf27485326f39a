/**
 * The rows of the heartbeats table (SQLite migration 007, PostgreSQL migration 006), as both stores
 * read them; `raised` is 0/1 in SQLite, a boolean in PostgreSQL.
 */
import type { Severity } from './model.js';
import type { StoredHeartbeat } from './store.js';

/** A row of heartbeats, with `was_raised` on the rows a beat answers. */
export interface HeartbeatRow {
  domain: string;
  project: string;
  name: string;
  timeout_ms: number;
  severity: Severity;
  fields: string;
  last_beat: number;
  deadline: number;
  raised: number | boolean;
  created_at: number;
  was_raised?: number | boolean | null;
}

/** The stored heartbeat of a row. */
export function heartbeatOfRow(r: HeartbeatRow): StoredHeartbeat {
  return {
    domain: r.domain,
    project: r.project,
    name: r.name,
    timeoutMs: r.timeout_ms,
    severity: r.severity,
    fieldsJson: r.fields,
    lastBeat: r.last_beat,
    deadline: r.deadline,
    raised: r.raised === true || r.raised === 1,
    createdAt: r.created_at,
  };
}

/** The severity a heartbeat registered without one raises with. */
export const DEFAULT_HEARTBEAT_SEVERITY: Severity = 'major';
