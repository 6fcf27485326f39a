/**
 * The PostgreSQL store's webhook tables (migrations/postgres/005_webhooks.sql): cursors and dead
 * letters, as SQLite's (sqlite-webhooks.ts). Only the replica holding the jobs lease delivers, so
 * writes to them do not race; a dead letter and its cursor move are one statement all the same.
 */
import type { Scope } from './model.js';
import type { HistoryEntry, WebhookCursor, WebhookFailure, WebhookFailureQuery } from './store.js';
import { entryOf, type HistoryRow } from './store-rows.js';
import { cursorOfRow, entryJson, failureOfRow, type WebhookCursorRow, type WebhookFailureRow } from './webhook-rows.js';

/** Runs one statement on the store's pool and answers its rows. */
export type RunQuery = (text: string, values: unknown[]) => Promise<Record<string, unknown>[]>;

const rowsAs = async <R>(rows: Promise<Record<string, unknown>[]>): Promise<R[]> => (await rows) as unknown as R[];

const ADVANCE = `INSERT INTO webhook_cursors (name, revision, delivered_at) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET revision = GREATEST(webhook_cursors.revision, excluded.revision),
    delivered_at = COALESCE(excluded.delivered_at, webhook_cursors.delivered_at),
    error = CASE WHEN excluded.delivered_at IS NULL THEN webhook_cursors.error END,
    error_at = CASE WHEN excluded.delivered_at IS NULL THEN webhook_cursors.error_at END`;

/** A webhook's dead letters ($1), of one domain ($2) and project ($3), or of all when those are null. */
const WHERE = 'name = $1 AND ($2::text IS NULL OR (domain = $2 AND project = $3::text))';

/** The store's webhook statements. */
export const WEBHOOK_SQL = {
  /** Every scope's history after $1, at most $2 entries: changesAfter's read, as entries. */
  historyAfter: 'SELECT * FROM history WHERE revision > $1 ORDER BY revision LIMIT $2',
  cursor: 'SELECT * FROM webhook_cursors WHERE name = $1',
  advance: ADVANCE,
  noteError: 'UPDATE webhook_cursors SET error = $2, error_at = $3 WHERE name = $1',
  /** The dead letter and the cursor's move in one statement, so in one transaction. */
  addFailure: `WITH failure AS (
      INSERT INTO webhook_failures (name, revision, entry, attempts, error, failed_at, domain, project, queued)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)
      ON CONFLICT (name, revision) DO UPDATE SET entry = excluded.entry, attempts = excluded.attempts,
        error = excluded.error, failed_at = excluded.failed_at, queued = false
    )
    ${ADVANCE.replace('($1, $2, $3)', '($1, $2, NULL::bigint)')}`,
  failures: `SELECT * FROM webhook_failures WHERE ${WHERE} AND ($5::boolean IS NULL OR queued = $5) ORDER BY revision LIMIT $4`,
  countFailures: `SELECT COUNT(*)::bigint AS n FROM webhook_failures WHERE ${WHERE}`,
  queueAll: `UPDATE webhook_failures SET queued = true WHERE ${WHERE} RETURNING revision`,
  queueSome: `UPDATE webhook_failures SET queued = true WHERE ${WHERE} AND revision = ANY($4::bigint[]) RETURNING revision`,
  removeFailure: 'DELETE FROM webhook_failures WHERE name = $1 AND revision = $2',
} as const;

/** Entries of the rows of WEBHOOK_SQL.historyAfter. */
export const entriesOf = (rows: readonly HistoryRow[]): HistoryEntry[] => rows.map(entryOf);

/** The webhook methods of the store but historyAfter (which reads in the store's snapshot), over `query`. */
export function webhookTables(query: RunQuery) {
  return {
    async webhookCursor(name: string): Promise<WebhookCursor | undefined> {
      const [row] = await rowsAs<WebhookCursorRow>(query(WEBHOOK_SQL.cursor, [name]));
      return row && cursorOfRow(row);
    },
    async advanceWebhookCursor(name: string, revision: number, deliveredAt?: number): Promise<void> {
      await query(WEBHOOK_SQL.advance, [name, revision, deliveredAt ?? null]);
    },
    async noteWebhookError(name: string, error: string, at: number): Promise<void> {
      await query(WEBHOOK_SQL.noteError, [name, error, at]);
    },
    async addWebhookFailure(f: WebhookFailure): Promise<void> {
      const a = f.entry.alarm;
      await query(WEBHOOK_SQL.addFailure, [f.webhook, f.entry.revision, entryJson(f.entry), f.attempts, f.error, f.failedAt, a.domain, a.project]);
    },
    async webhookFailures(name: string, { limit, scope, queued }: WebhookFailureQuery): Promise<{ failures: WebhookFailure[]; total: number }> {
      const which = [name, scope?.domain ?? null, scope?.project ?? null];
      const [rows, counted] = await Promise.all([
        rowsAs<WebhookFailureRow>(query(WEBHOOK_SQL.failures, [...which, limit, queued ?? null])),
        rowsAs<{ n: number }>(query(WEBHOOK_SQL.countFailures, which)),
      ]);
      return { failures: rows.map(failureOfRow), total: counted[0]?.n ?? 0 };
    },
    async queueWebhookFailures(name: string, revisions?: readonly number[], scope?: Scope): Promise<number> {
      const which = [name, scope?.domain ?? null, scope?.project ?? null];
      const rows = revisions === undefined ? await query(WEBHOOK_SQL.queueAll, which) : await query(WEBHOOK_SQL.queueSome, [...which, revisions]);
      return rows.length;
    },
    async removeWebhookFailure(name: string, revision: number): Promise<void> {
      await query(WEBHOOK_SQL.removeFailure, [name, revision]);
    },
  };
}
