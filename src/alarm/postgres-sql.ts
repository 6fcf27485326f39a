/**
 * The PostgreSQL store's statements: a commit's changes are written as arrays that `unnest`
 * turns back into rows (one statement per table, whatever the number of changes). Rows are read
 * back with store-rows.ts, as SQLite's are.
 */
import type { AlarmSelection } from './filter.js';
import type { Alarm, AlarmChange, Scope } from './model.js';
import { COMMIT_CHANNEL } from './postgres-listener.js';

const KEY = 'domain, project, id, source';
const STATE = 'status, severity, fields, count, raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at';
const KEY_TYPES = ['text', 'text', 'text', 'text'];
const STATE_TYPES = ['text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'bigint', 'text', 'bigint'];

/** `unnest($1::t1[], $2::t2[], …)`: one row per array index, the arrays passed as parameters. */
const unnest = (types: readonly string[]) => `unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;

const key = (a: Alarm) => [a.domain, a.project, a.id, a.source];
const state = (a: Alarm) => [
  a.status, a.severity, a.fieldsJson, a.count, a.raisedAt, a.updatedAt, a.clearedAt ?? null,
  a.ackedBy ?? null, a.ackedAt ?? null, a.ackComment ?? null, a.expiresAt ?? null,
];

/** The columns of `rows` as arrays, for `unnest`. */
function columns(rows: readonly unknown[][], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const row of rows) row.forEach((v, i) => (out[i] as unknown[]).push(v));
  return out;
}

/** The store's statements; those of a commit run as prepared statements on each connection. */
export const SQL = {
  appendHistory: `INSERT INTO history (revision, ${KEY}, action, ${STATE}, at)
    SELECT * FROM ${unnest(['bigint', ...KEY_TYPES, 'text', ...STATE_TYPES, 'bigint'])}`,
  upsertAlarms: `INSERT INTO alarms (${KEY}, ${STATE}, revision)
    SELECT * FROM ${unnest([...KEY_TYPES, ...STATE_TYPES, 'bigint'])}
    ON CONFLICT (${KEY}) DO UPDATE SET status = excluded.status, severity = excluded.severity,
      fields = excluded.fields, count = excluded.count, raised_at = excluded.raised_at,
      updated_at = excluded.updated_at, cleared_at = excluded.cleared_at, acked_by = excluded.acked_by,
      acked_at = excluded.acked_at, ack_comment = excluded.ack_comment, expires_at = excluded.expires_at,
      revision = excluded.revision`,
  deleteAlarms: `DELETE FROM alarms a USING ${unnest(KEY_TYPES)} AS r(domain, project, id, source)
    WHERE a.domain = r.domain AND a.project = r.project AND a.id = r.id AND a.source = r.source`,
  lockRevision: "SELECT value FROM meta WHERE key = 'revision' FOR UPDATE",
  setRevision: `WITH mark AS (UPDATE meta SET value = $1::bigint WHERE key = 'revision')
    SELECT pg_notify('${COMMIT_CHANNEL}', $1::bigint::text)`,
  historyPage: 'SELECT * FROM history WHERE domain = $1 AND project = $2 AND revision > $3 ORDER BY revision LIMIT $4',
  changesAfter: 'SELECT * FROM history WHERE revision > $1 ORDER BY revision LIMIT $2',
  meta: 'SELECT key, value FROM meta',
} as const;

/** The WHERE clause taking a scope's history entries up to a revision that a selection takes, and its values. */
export function historyWhere(scope: Scope, s: AlarmSelection, upTo: number): { sql: string; values: unknown[] } {
  const values: unknown[] = [scope.domain, scope.project, upTo];
  const at = (value: unknown) => `$${values.push(value)}`;
  let sql = 'domain = $1 AND project = $2 AND revision <= $3';
  if (s.ids !== undefined) sql += ` AND id = ANY(${at([...s.ids])}::text[])`;
  if (s.source !== undefined) sql += ` AND source = ${at(s.source)}`;
  if (s.severities !== undefined) sql += ` AND severity = ANY(${at([...s.severities])}::text[])`;
  if (s.status !== undefined) sql += ` AND status = ${at(s.status)}`;
  if (s.acknowledged !== undefined) sql += s.acknowledged ? ' AND acked_at IS NOT NULL' : ' AND acked_at IS NULL';
  if (s.updatedSince !== undefined) sql += ` AND updated_at >= ${at(s.updatedSince)}`;
  return { sql, values };
}

/** The parameters of SQL.appendHistory: one history row per change. */
export function historyValues(changes: readonly AlarmChange[]): unknown[][] {
  return columns(changes.map((c) => [c.alarm.revision, ...key(c.alarm), c.action, ...state(c.alarm), c.at]), 18);
}

/**
 * The parameters of SQL.upsertAlarms and SQL.deleteAlarms bringing the alarms table from before a
 * commit to after it: each alarm's last change in the commit decides (the table is keyed by alarm,
 * and one statement may not touch a row twice). Undefined where there is nothing to do.
 */
export function alarmValues(changes: readonly AlarmChange[]): { upserts?: unknown[][]; deletes?: unknown[][] } {
  const last = new Map<string, AlarmChange>();
  for (const c of changes) last.set(key(c.alarm).join('\u0000'), c);
  const final = [...last.values()];
  const kept = final.filter((c) => !c.removed).map((c) => [...key(c.alarm), ...state(c.alarm), c.alarm.revision]);
  const removed = final.filter((c) => c.removed).map((c) => key(c.alarm));
  return {
    ...(kept.length > 0 && { upserts: columns(kept, 16) }),
    ...(removed.length > 0 && { deletes: columns(removed, 4) }),
  };
}
