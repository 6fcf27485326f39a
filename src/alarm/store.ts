import type { AlarmSelection } from './filter.js';
import type { Alarm, AlarmChange, Scope, Severity } from './model.js';

/** Which alarm: its scope, id and source. */
export type AlarmKey = Pick<Alarm, 'domain' | 'project' | 'id' | 'source'>;

/** What a store holds at start-up. */
export interface StoreSnapshot {
  alarms: Alarm[];
  /** Revision of the last committed change (0 for an empty store). */
  revision: number;
}

/**
 * An expiry moved without a change (a re-send that changed nothing else): the alarm as it is at
 * `revision` now expires at `expiresAt`. It takes no revision and leaves no history entry; once
 * the alarm changes again (a later revision), it no longer applies.
 */
export interface ExpiryExtension {
  domain: string;
  project: string;
  id: string;
  source: string;
  revision: number;
  expiresAt: number;
}

/** One entry of the history log. */
export interface HistoryEntry {
  revision: number;
  action: string;
  alarm: Alarm;
  at: number;
  /** Who made an acknowledgement's change (AlarmChange `by`); absent otherwise. */
  by?: string;
}

/** A filtered read of a scope's history. */
export interface HistoryQuery {
  /** Only entries whose alarm state (after the change) the selection takes. */
  selection: AlarmSelection;
  /** Entries with revision > `since` and ≤ `upTo`, oldest first, at most `limit`. */
  since: number;
  upTo: number;
  limit: number;
  /** Also count every selected entry with revision ≤ `upTo`, whatever `since`. */
  count: boolean;
}

/** The entries of a HistoryQuery, and their count when it asked for one. */
export interface HistoryPage {
  entries: HistoryEntry[];
  total?: number;
}

/**
 * Durable home of alarms and their history. Implementations: SQLite (one process) and
 * PostgreSQL (several replicas share it).
 *
 * Contract: calls are made by one writer per process at a time (the ALARM subscriber), never
 * concurrently. `commit` is all or nothing: when its promise resolves the changes are durable;
 * when it rejects nothing of them is stored. Revisions in `changes` are strictly increasing, the
 * first one above the store's revision as the writer last saw it. A store several writers share
 * refuses, with `StoreConflict` and nothing stored, a commit whose first revision is not exactly
 * one above its own (another writer committed first); so the revision is one total order over
 * every writer's changes, equal to their commit order, and a reader that saw revision R never
 * later finds a change at or below R.
 */
export interface AlarmStore {
  /** The alarms, each with its expiry extension when one applies to its revision. */
  load(): Promise<StoreSnapshot>;
  /**
   * Commits the changes and, in the same commit where the store can, the expiry extensions (an
   * extension of an alarm whose stored one is of a later revision is not stored). A store
   * without extensions ignores them: they then last until a restart.
   */
  commit(changes: readonly AlarmChange[], extensions?: readonly ExpiryExtension[]): Promise<void>;
  /**
   * Optional pipelined commit: resolves once the changes are committed and visible to later
   * commits, with `durable` settling once they survive what the store's durability promises
   * (a power cut, for SQLite's `full`). A writer may start the next commit before `durable`
   * settles; it must not acknowledge these changes before. When either rejects, the changes
   * must be reported as not stored.
   */
  commitPipelined?(changes: readonly AlarmChange[], extensions?: readonly ExpiryExtension[]): Promise<{ durable: Promise<void> }>;
  /**
   * Optional, for a store several replicas share: the stored expiry extensions of these alarms,
   * which another replica may have made; read before an alarm is expired.
   */
  expiryExtensions?(keys: readonly AlarmKey[]): Promise<ExpiryExtension[]>;
  /** History entries of the scope with revision > `since`, oldest first, at most `limit`. */
  history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]>;
  /**
   * Optional filtered history, answered by the backend (SQL for SQLite). Without it the service
   * pages through `history` and filters the entries itself.
   */
  findHistory?(scope: Scope, query: HistoryQuery): Promise<HistoryPage>;
  /**
   * Optional retention: removes one batch (at most `batch` entries) of the oldest history,
   * entries older than `olderThan` (clock milliseconds) or beyond the newest `keepLast`; answers
   * how many it removed. Never removes what a restart still needs.
   */
  pruneHistory?(olderThan: number, keepLast: number, batch: number): number | Promise<number>;
  /** The last revision retention removed from the history (0 when none). */
  prunedRevision?(): number;
  /** Resolves when the store can take a write now; rejects with the reason otherwise. */
  ping(): Promise<void>;
  /**
   * Optional: calls `listener` when the store finds by itself, outside a commit, that it can take
   * no more writes (SQLite: its file deleted or replaced); a failed commit reports it by rejecting.
   */
  onFailure?(listener: (error: Error) => void): void;
  /**
   * Optional, for a store several replicas share: the changes committed after `revision` by any
   * writer, oldest first, at most `limit`, each with the alarm's state after it and `removed`
   * set for the changes that took the alarm out of the list (clear-all, purge).
   */
  changesAfter?(revision: number, limit: number): Promise<AlarmChange[]>;
  /**
   * Optional, for a store several replicas share: calls `listener` whenever another writer may
   * have committed: on a notification, with the revision it carries, and after a reconnect,
   * with none (a notification may have been missed).
   */
  onRemoteCommit?(listener: (revision?: number) => void): void;
  /**
   * Optional, for a store several replicas share: a lease on `name` that at most one replica
   * holds at a time, for the jobs that must run once (expiry, retention). Without it the process
   * is alone and always holds it.
   */
  lease?(name: string): Lease;
  /**
   * Optional, for durable webhooks: the history entries of every scope with revision >
   * `revision`, oldest first, at most `limit`; a caller that finds `prunedRevision()` above
   * `revision` once this resolves knows that retention removed the changes in between.
   */
  historyAfter?(revision: number, limit: number): Promise<HistoryEntry[]>;
  /** Optional, for durable webhooks: the webhook's cursor, or undefined when it has none yet. */
  webhookCursor?(name: string): Promise<WebhookCursor | undefined>;
  /**
   * Optional, for durable webhooks: moves the webhook's cursor to `revision` (creating it), never
   * back. With `deliveredAt` (a change was delivered then) it also records that time and forgets
   * the last error.
   */
  advanceWebhookCursor?(name: string, revision: number, deliveredAt?: number): Promise<void>;
  /** Optional, for durable webhooks: records the webhook's last failed attempt on its existing cursor. */
  noteWebhookError?(name: string, error: string, at: number): Promise<void>;
  /**
   * Optional, for durable webhooks: records a dead letter (replacing the one of the same webhook
   * and revision) not queued, and moves the webhook's cursor to at least its revision, in one
   * transaction.
   */
  addWebhookFailure?(failure: WebhookFailure): Promise<void>;
  /** Optional, for durable webhooks: the webhook's dead letters the query selects, oldest revision first, and how many it selects. */
  webhookFailures?(name: string, query: WebhookFailureQuery): Promise<{ failures: WebhookFailure[]; total: number }>;
  /**
   * Optional, for durable webhooks: queues the webhook's dead letters of these revisions (all of
   * them without), of alarms in `scope` only when given, for another round of delivery; answers
   * how many it queued.
   */
  queueWebhookFailures?(name: string, revisions?: readonly number[], scope?: Scope): Promise<number>;
  /** Optional, for durable webhooks: removes a dead letter (delivered at last). */
  removeWebhookFailure?(name: string, revision: number): Promise<void>;
  /**
   * Optional, for heartbeats: beats the heartbeat at `at` (its deadline becomes `at` plus its
   * timeout, its `raised` mark is reset) and answers it with whether it was marked raised before.
   * With `timeoutMs` among the settings it registers the heartbeat when unknown; otherwise an
   * unknown heartbeat is answered undefined and nothing is stored. Settings left out are kept.
   */
  beatHeartbeat?(key: HeartbeatKey, at: number, settings: Partial<HeartbeatSettings>): Promise<HeartbeatBeat | undefined>;
  /** Optional, for heartbeats: the heartbeats of the scope (of every scope without one), by scope and name. */
  heartbeats?(scope?: Scope): Promise<StoredHeartbeat[]>;
  /**
   * Optional, for heartbeats: at most `limit` heartbeats not marked raised whose deadline is at or
   * before `now`, earliest deadline first; a deadline before `graceFrom` (start-up) counts only
   * once the heartbeat's timeout since `graceFrom` has run out too.
   */
  dueHeartbeats?(now: number, graceFrom: number, limit: number): Promise<StoredHeartbeat[]>;
  /**
   * Optional, for heartbeats: marks the heartbeat raised for the lapse since `lastBeat`; answers
   * false, marking nothing, when it was beaten since or removed.
   */
  markHeartbeatRaised?(key: HeartbeatKey, lastBeat: number): Promise<boolean>;
  /** Optional, for heartbeats: removes the heartbeat; answers it, or undefined when unknown. */
  deleteHeartbeat?(key: HeartbeatKey): Promise<StoredHeartbeat | undefined>;
  close(): Promise<void>;
}

/** Where a webhook is: the last revision it delivered or gave up on, its last delivery and its last error. */
export interface WebhookCursor {
  name: string;
  revision: number;
  /** When the last change was delivered (clock milliseconds). */
  deliveredAt?: number;
  /** The last failed attempt's reason and time, until the next delivery. */
  error?: string;
  errorAt?: number;
}

/** Which dead letters of a webhook: at most `limit`, of alarms in `scope` only and queued only when given. */
export interface WebhookFailureQuery {
  limit: number;
  scope?: Scope;
  queued?: boolean;
}

/** A dead letter: a change a webhook gave up on, kept whole so it can be sent again whatever retention does. */
export interface WebhookFailure {
  webhook: string;
  entry: HistoryEntry;
  /** Attempts made in all, over every round. */
  attempts: number;
  /** The last attempt's reason. */
  error: string;
  failedAt: number;
  /** Queued for another round of delivery. */
  queued: boolean;
}

/** The methods of a store that durable webhooks need. */
export type WebhookStore = Required<
  Pick<
    AlarmStore,
    | 'historyAfter'
    | 'webhookCursor'
    | 'advanceWebhookCursor'
    | 'noteWebhookError'
    | 'addWebhookFailure'
    | 'webhookFailures'
    | 'queueWebhookFailures'
    | 'removeWebhookFailure'
  >
> &
  Pick<AlarmStore, 'prunedRevision'>;

/** Whether a store keeps what durable webhooks need. */
export function keepsWebhooks(store: AlarmStore): store is AlarmStore & WebhookStore {
  return (
    store.historyAfter !== undefined &&
    store.webhookCursor !== undefined &&
    store.advanceWebhookCursor !== undefined &&
    store.noteWebhookError !== undefined &&
    store.addWebhookFailure !== undefined &&
    store.webhookFailures !== undefined &&
    store.queueWebhookFailures !== undefined &&
    store.removeWebhookFailure !== undefined
  );
}

/** Which heartbeat: its scope and name. */
export interface HeartbeatKey {
  domain: string;
  project: string;
  name: string;
}

/** What a heartbeat raises when it lapses, and after how long. */
export interface HeartbeatSettings {
  timeoutMs: number;
  severity: Severity;
  /** The JSON text of the fields its HeartbeatMissing alarm carries besides `detail`. */
  fieldsJson: string;
}

/** A stored heartbeat: its settings, its last beat and deadline, and whether its lapse was raised. */
export interface StoredHeartbeat extends HeartbeatKey, HeartbeatSettings {
  /** Clock milliseconds of the last beat (of the registration, before any). */
  lastBeat: number;
  /** `lastBeat` plus `timeoutMs`. */
  deadline: number;
  /** HeartbeatMissing was raised for the lapse since `lastBeat`. */
  raised: boolean;
  createdAt: number;
}

/** A beat's outcome: the heartbeat after it, and whether it was marked raised before it. */
export interface HeartbeatBeat {
  heartbeat: StoredHeartbeat;
  wasRaised: boolean;
  /** The beat registered the heartbeat. */
  created: boolean;
}

/** The methods of a store that heartbeats need. */
export type HeartbeatStore = Required<Pick<AlarmStore, 'beatHeartbeat' | 'heartbeats' | 'dueHeartbeats' | 'markHeartbeatRaised' | 'deleteHeartbeat'>>;

/** Whether a store keeps heartbeats. */
export function keepsHeartbeats(store: AlarmStore): store is AlarmStore & HeartbeatStore {
  return (
    store.beatHeartbeat !== undefined &&
    store.heartbeats !== undefined &&
    store.dueHeartbeats !== undefined &&
    store.markHeartbeatRaised !== undefined &&
    store.deleteHeartbeat !== undefined
  );
}

/**
 * A lease that at most one replica holds at a time. It is tried for again and again while not
 * held, and lost when the holder's connection to the store is (a dead holder frees it).
 */
export interface Lease {
  readonly held: boolean;
  /** Called whenever `held` changes. */
  onChange(listener: (held: boolean) => void): void;
  /** Gives the lease up and stops trying for it. */
  close(): Promise<void>;
}

/** A commit refused because another writer committed first; nothing of it is stored. */
export class StoreConflict extends Error {
  /** The store's revision when it refused. */
  readonly revision: number;

  constructor(revision: number, expected: number) {
    super(`another writer committed first: the store is at revision ${revision}, the commit expected ${expected}`);
    this.name = 'StoreConflict';
    this.revision = revision;
  }
}

/** A store failure as the writer saw it: the error and when it happened (clock milliseconds). */
export interface StoreFailure {
  error: Error;
  at: number;
}

/** Raised by a store whose backend failed; `message` is the backend's own. */
export class StoreError extends Error {
  readonly backendCode: string | undefined;

  constructor(message: string, options?: { cause?: unknown; backendCode?: string }) {
    super(message, options);
    this.name = 'StoreError';
    this.backendCode = options?.backendCode;
  }
}
