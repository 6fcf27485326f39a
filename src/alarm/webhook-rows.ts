/**
 * The rows of the webhook tables (migrations 005), as SQLite and PostgreSQL both read them: a
 * dead letter keeps its history entry whole, as JSON of the alarm's state, so it can be sent again
 * after retention removed the entry from the history.
 */
import { makeAlarm, type AlarmState } from './model.js';
import type { HistoryEntry, WebhookCursor, WebhookFailure } from './store.js';

/** A row of webhook_cursors. */
export interface WebhookCursorRow {
  name: string;
  revision: number;
  delivered_at: number | null;
  error: string | null;
  error_at: number | null;
}

/** A row of webhook_failures; `queued` is 0/1 in SQLite, a boolean in PostgreSQL. */
export interface WebhookFailureRow {
  name: string;
  revision: number;
  entry: string;
  attempts: number;
  error: string;
  failed_at: number;
  queued: number | boolean;
}

/** A history entry as the JSON text a dead letter keeps. */
export function entryJson(e: HistoryEntry): string {
  // The alarm's own properties are its whole state; `fields` is derived from `fieldsJson`.
  const state: Record<string, unknown> = { ...e.alarm };
  delete state.fields;
  return JSON.stringify({ revision: e.revision, action: e.action, at: e.at, alarm: state });
}

/** The history entry a dead letter's JSON text holds. */
export function entryOfJson(text: string): HistoryEntry {
  const e = JSON.parse(text) as { revision: number; action: string; at: number; alarm: AlarmState };
  return { revision: e.revision, action: e.action, at: e.at, alarm: makeAlarm(e.alarm) };
}

export const cursorOfRow = (r: WebhookCursorRow): WebhookCursor => ({
  name: r.name,
  revision: r.revision,
  ...(r.delivered_at !== null && { deliveredAt: r.delivered_at }),
  ...(r.error !== null && { error: r.error }),
  ...(r.error_at !== null && { errorAt: r.error_at }),
});

export const failureOfRow = (r: WebhookFailureRow): WebhookFailure => ({
  webhook: r.name,
  entry: entryOfJson(r.entry),
  attempts: r.attempts,
  error: r.error,
  failedAt: r.failed_at,
  queued: r.queued === true || r.queued === 1,
});
