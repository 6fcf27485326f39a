/**
 * The SQLite store's webhook tables (migrations/005_webhooks.sql): cursors and dead letters,
 * each call one statement or one transaction on the store's connection. SqliteStore delegates
 * its webhook methods here.
 */
import type Database from 'better-sqlite3';
import type { Scope } from './model.js';
import { entryOf, type HistoryRow } from './store-rows.js';
import type { HistoryEntry, WebhookCursor, WebhookFailure, WebhookFailureQuery } from './store.js';
import { cursorOfRow, entryJson, failureOfRow, type WebhookCursorRow, type WebhookFailureRow } from './webhook-rows.js';

/** The webhook statements of one SQLite database, prepared on first use. */
export class SqliteWebhooks {
  private readonly after: Database.Statement;
  private readonly cursor: Database.Statement;
  private readonly advance: Database.Statement;
  private readonly noteError: Database.Statement;
  private readonly addFailure: (failure: WebhookFailure) => void;
  private readonly failures: Database.Statement;
  private readonly countFailures: Database.Statement;
  private readonly queueAll: Database.Statement;
  private readonly queueSome: Database.Statement;
  private readonly removeFailure: Database.Statement;
  private readonly pruned: Database.Statement;

  constructor(db: Database.Database) {
    this.after = db.prepare('SELECT * FROM history WHERE revision > ? ORDER BY revision LIMIT ?');
    this.cursor = db.prepare('SELECT * FROM webhook_cursors WHERE name = ?');
    this.advance = db.prepare(
      `INSERT INTO webhook_cursors (name, revision, delivered_at) VALUES (@name, @revision, @at)
       ON CONFLICT (name) DO UPDATE SET revision = MAX(revision, excluded.revision),
         delivered_at = COALESCE(excluded.delivered_at, delivered_at),
         error = CASE WHEN excluded.delivered_at IS NULL THEN error END,
         error_at = CASE WHEN excluded.delivered_at IS NULL THEN error_at END`,
    );
    this.noteError = db.prepare('UPDATE webhook_cursors SET error = ?, error_at = ? WHERE name = ?');
    const upsert = db.prepare(
      `INSERT INTO webhook_failures (name, revision, domain, project, entry, attempts, error, failed_at, queued) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (name, revision) DO UPDATE SET entry = excluded.entry, attempts = excluded.attempts,
         error = excluded.error, failed_at = excluded.failed_at, queued = 0`,
    );
    this.addFailure = db.transaction((f: WebhookFailure) => {
      const a = f.entry.alarm;
      upsert.run(f.webhook, f.entry.revision, a.domain, a.project, entryJson(f.entry), f.attempts, f.error, f.failedAt);
      this.advance.run({ name: f.webhook, revision: f.entry.revision, at: null });
    });
    // A null domain and project take every scope.
    const where = 'name = @name AND (@domain IS NULL OR (domain = @domain AND project = @project))';
    this.failures = db.prepare(`SELECT * FROM webhook_failures WHERE ${where} AND (@queued IS NULL OR queued = @queued) ORDER BY revision LIMIT @limit`);
    this.countFailures = db.prepare(`SELECT COUNT(*) AS n FROM webhook_failures WHERE ${where}`);
    this.queueAll = db.prepare(`UPDATE webhook_failures SET queued = 1 WHERE ${where}`);
    this.queueSome = db.prepare(`UPDATE webhook_failures SET queued = 1 WHERE ${where} AND revision IN (SELECT value FROM json_each(@revisions))`);
    this.removeFailure = db.prepare('DELETE FROM webhook_failures WHERE name = ? AND revision = ?');
    this.pruned = db.prepare("SELECT value FROM meta WHERE key = 'pruned'").pluck();
  }

  historyAfter(revision: number, limit: number): HistoryEntry[] {
    return (this.after.all(revision, limit) as HistoryRow[]).map(entryOf);
  }

  webhookCursor(name: string): WebhookCursor | undefined {
    const row = this.cursor.get(name) as WebhookCursorRow | undefined;
    return row && cursorOfRow(row);
  }

  advanceWebhookCursor(name: string, revision: number, deliveredAt?: number): void {
    this.advance.run({ name, revision, at: deliveredAt ?? null });
  }

  noteWebhookError(name: string, error: string, at: number): void {
    this.noteError.run(error, at, name);
  }

  addWebhookFailure(failure: WebhookFailure): void {
    this.addFailure(failure);
  }

  webhookFailures(name: string, { limit, scope, queued }: WebhookFailureQuery): { failures: WebhookFailure[]; total: number } {
    const which = { name, domain: scope?.domain ?? null, project: scope?.project ?? null };
    const rows = this.failures.all({ ...which, limit, queued: queued === undefined ? null : Number(queued) }) as WebhookFailureRow[];
    return { failures: rows.map(failureOfRow), total: (this.countFailures.get(which) as { n: number }).n };
  }

  queueWebhookFailures(name: string, revisions?: readonly number[], scope?: Scope): number {
    const which = { name, domain: scope?.domain ?? null, project: scope?.project ?? null };
    const result = revisions === undefined ? this.queueAll.run(which) : this.queueSome.run({ ...which, revisions: JSON.stringify(revisions) });
    return result.changes;
  }

  removeWebhookFailure(name: string, revision: number): void {
    this.removeFailure.run(name, revision);
  }

  /** The last revision retention removed, as stored (for a connection other than the store's, which keeps it in memory). */
  prunedRevision(): number {
    return Number(this.pruned.get() ?? 0);
  }
}
