/**
 * The PostgreSQL store's statements: a commit is one call of alarm_center_commit, its changes
 * passed as one array per column that `unnest` turns back into rows (one statement, whatever the
 * number of changes); a checkpoint step, one call of alarm_center_checkpoint. Rows are read back with store-rows.ts, as SQLite's are.
 */
import type { AlarmSelection } from './filter.js';
import type { AlarmChange, Scope } from './model.js';
import type { ExpiryExtension } from './store.js';
import { COMMIT_CHANNEL } from './postgres-listener.js';

/** The store's statements; the commit's runs as a prepared statement on each connection. */
export const SQL = {
  /**
   * A whole commit, one round trip: alarm_center_commit (migrations/postgres/002, 003, 004) locks the
   * revision, appends the changes to the history unless the revision is not the expected one, and
   * notifies; it returns the revision it found. Parameters: see commitValues.
   */
  commit: `SELECT alarm_center_commit(${Array.from({ length: 24 }, (_, i) => `$${i + 1}`).join(', ')}) AS found`,
  /**
   * One checkpoint step (migrations/postgres/003): $1 the revision to reach, $2 the most history
   * rows to take, $3 the actions that remove their alarm. Answers the checkpoint it leaves, or
   * null when another replica's checkpoint is running.
   */
  checkpoint: 'SELECT alarm_center_checkpoint($1, $2, $3::text[]) AS done',
  /** Stores expiry extensions ($1–$6: one array per column); one of an older revision never replaces a newer one. */
  extend: `INSERT INTO expiry_extensions (domain, project, id, source, revision, expires_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
    ON CONFLICT (domain, project, id, source) DO UPDATE SET revision = excluded.revision, expires_at = excluded.expires_at
    WHERE excluded.revision >= expiry_extensions.revision`,
  /** The extensions of the alarms named by $1–$4 (domains, projects, ids, sources). */
  extensionsOf: `SELECT e.* FROM expiry_extensions e
    JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(domain, project, id, source) USING (domain, project, id, source)`,
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

/**
 * The parameters of SQL.commit: the revision expected before the commit, the one after it, the
 * channel to notify, then one array per column of the changes, in commit order (the history's
 * columns of migration 002, whether the change removes its alarm, then the columns of migration
 * 004). Built in one pass, column by column.
 */
export function commitValues(changes: readonly AlarmChange[], expected: number, revision: number): unknown[] {
  const n = changes.length;
  const col = () => new Array<unknown>(n);
  const [rev, domain, project, id, source, action, status, severity, fields, count] = [col(), col(), col(), col(), col(), col(), col(), col(), col(), col()];
  const [raisedAt, updatedAt, clearedAt, ackedBy, ackedAt, ackComment, expiresAt, at, removed] = [col(), col(), col(), col(), col(), col(), col(), col(), col()];
  const [ackExpiresAt, changedBy] = [col(), col()];
  for (let i = 0; i < n; i++) {
    const c = changes[i] as AlarmChange;
    const a = c.alarm;
    rev[i] = a.revision;
    domain[i] = a.domain;
    project[i] = a.project;
    id[i] = a.id;
    source[i] = a.source;
    action[i] = c.action;
    status[i] = a.status;
    severity[i] = a.severity;
    fields[i] = a.fieldsJson;
    count[i] = a.count;
    raisedAt[i] = a.raisedAt;
    updatedAt[i] = a.updatedAt;
    clearedAt[i] = a.clearedAt ?? null;
    ackedBy[i] = a.ackedBy ?? null;
    ackedAt[i] = a.ackedAt ?? null;
    ackComment[i] = a.ackComment ?? null;
    expiresAt[i] = a.expiresAt ?? null;
    at[i] = c.at;
    removed[i] = c.removed;
    ackExpiresAt[i] = a.ackExpiresAt ?? null;
    changedBy[i] = c.by ?? null;
  }
  return [
    expected, revision, COMMIT_CHANNEL, rev, domain, project, id, source, action, status, severity, fields, count,
    raisedAt, updatedAt, clearedAt, ackedBy, ackedAt, ackComment, expiresAt, at, removed, ackExpiresAt, changedBy,
  ];
}

/** A row of expiry_extensions. */
export interface ExtensionRow {
  domain: string;
  project: string;
  id: string;
  source: string;
  revision: number;
  expires_at: number;
}

export const extensionOfRow = (r: ExtensionRow): ExpiryExtension => ({
  domain: r.domain,
  project: r.project,
  id: r.id,
  source: r.source,
  revision: r.revision,
  expiresAt: r.expires_at,
});

/** The parameters of SQL.extend: one array per column, in one pass. */
export function extensionValues(extensions: readonly ExpiryExtension[]): unknown[] {
  const column = <T>(of: (e: ExpiryExtension) => T): T[] => extensions.map(of);
  return [column((e) => e.domain), column((e) => e.project), column((e) => e.id), column((e) => e.source), column((e) => e.revision), column((e) => e.expiresAt)];
}
