import pg from 'pg';
import type { Logger } from 'winston';
import { createSilentLogger } from '../logger.js';
import { REMOVING_ACTIONS, makeAlarm, type Alarm, type AlarmChange, type Scope } from './model.js';
import { clientConfig, connectionBroken, redactor, storeErrorOf, type ConnectionSettings } from './postgres-connection.js';
import { AdvisoryLease } from './postgres-lease.js';
import { CommitListener } from './postgres-listener.js';
import { DEFAULT_POSTGRES_MIGRATIONS_DIR, migrate, readMigrations } from './postgres-migrations.js';
import { SQL, commitValues, extensionOfRow, extensionValues, historyWhere, type ExtensionRow } from './postgres-sql.js';
import { WEBHOOK_SQL, entriesOf, webhookTables } from './postgres-webhooks.js';
import { heartbeatTables } from './postgres-heartbeats.js';
import { changeOf, entryOf, fromRow, type AlarmRow, type HistoryRow } from './store-rows.js';
import {
  StoreConflict,
  StoreError,
  type AlarmStore,
  type HistoryEntry,
  type HistoryPage,
  type HistoryQuery,
  type AlarmKey,
  type ExpiryExtension,
  type HeartbeatBeat,
  type HeartbeatKey,
  type HeartbeatSettings,
  type StoredHeartbeat,
  type Lease,
  type StoreSnapshot,
  type WebhookCursor,
  type WebhookFailure,
  type WebhookFailureQuery,
} from './store.js';

export { redactUrl } from './postgres-connection.js';
export { DEFAULT_POSTGRES_MIGRATIONS_DIR } from './postgres-migrations.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; its password is never shown in a message or a log. */
  url: string;
  logger?: Logger;
  /** Most pooled connections (default 10); the commit listener and each lease hold one more of their own. */
  poolSize?: number;
  /** Folder of `NNN_name.sql` files; defaults to the package's `migrations/postgres/`. */
  migrationsDir?: string;
  /** How often a lease not held is tried for, and a held one checked (default 1,000 ms). */
  leaseRetryMs?: number;
  /** Longest wait between two attempts to listen again once the connection is lost (default 5,000 ms). */
  reconnectMaxMs?: number;
  /** Most milliseconds to wait for a connection to be made (default 5,000). */
  connectTimeoutMs?: number;
  /**
   * Most milliseconds a statement of the pool may take before it fails as a lost connection
   * would (default 10,000): a network that drops packets instead of refusing them fails the
   * writes with 503001 instead of holding them until the kernel gives up on the connection.
   */
  queryTimeoutMs?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows them (default `alarm-center`). */
  applicationName?: string;
  /** History rows past the checkpoint that start the next checkpoint after a commit (default 20,000). */
  checkpointEvery?: number;
}

/** Most history rows one checkpoint transaction takes: a long backlog goes in several. */
const CHECKPOINT_STEP_ROWS = 20_000;
const REMOVING = [...REMOVING_ACTIONS];

/**
 * The PostgreSQL store, which several replicas share.
 *
 * - Commit order is revision order: a commit, one statement (one round trip) calling
 *   alarm_center_commit (migrations/postgres/002, 003, 004), locks the row of meta 'revision'
 *   (`FOR UPDATE`), so writers take turns; it is refused with StoreConflict, nothing stored,
 *   unless its first revision is the store's plus one. In the same transaction it appends the
 *   history, sets the revision and notifies `alarm_center` with it, which PostgreSQL delivers only
 *   once the commit is.
 * - Checkpoints, as SQLite's: the alarms table is brought up to date from the history in bulk,
 *   once `checkpointEvery` rows accumulated after a commit, by alarm_center_checkpoint
 *   (migrations/postgres/003) on a connection of the pool, outside the commits' turn; replicas take
 *   turns on it. A load reads the table and replays the history after its checkpoint; retention
 *   never removes history past the checkpoint.
 * - Reads of several statements (`load`, `changesAfter`) run in one REPEATABLE READ transaction,
 *   a consistent snapshot.
 * - Connections: a pool for everything a caller awaits, which makes new connections by itself
 *   once the server is back; the commit listener and each lease on connections of their own.
 * - Failures: every backend failure is a StoreError with the backend's message and code (SQLSTATE
 *   or `ECONNREFUSED`, …), never showing the URL's password. A commit whose connection is lost
 *   while it commits may have been stored all the same; the next commit then meets a StoreConflict
 *   and `changesAfter` shows the changes.
 * - Schema: `migrations/postgres/`, applied at open by whichever replica gets there first.
 */
export class PostgresStore implements AlarmStore {
  private readonly pool: pg.Pool;
  private readonly settings: ConnectionSettings;
  private readonly logger: Logger;
  private readonly redact: (text: string) => string;
  private readonly leaseRetryMs: number;
  private readonly listener: CommitListener;
  private readonly leases = new Set<AdvisoryLease>();
  private readonly checkpointEvery: number;
  private pruned = 0;
  /** The checkpoint and the revision, as this store last saw them. */
  private checkpointed = 0;
  private lastRevision = 0;
  /** The checkpoint this store runs, while it runs, and the revision it runs to (raised by later calls). */
  private checkpointing: Promise<void> | undefined;
  private checkpointTarget = 0;
  private closed = false;
  /** The webhook tables' statements (postgres-webhooks.ts), on the pool. */
  private readonly webhookRows = webhookTables((text, values) => this.query(text, values));
  /** The heartbeats table's statements (postgres-heartbeats.ts), on the pool. */
  private readonly heartbeatRows = heartbeatTables((text, values) => this.query(text, values));

  private constructor(options: PostgresStoreOptions) {
    this.settings = {
      url: options.url,
      applicationName: options.applicationName ?? 'alarm-center',
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    };
    this.logger = options.logger ?? createSilentLogger();
    this.redact = redactor(options.url);
    this.leaseRetryMs = options.leaseRetryMs ?? 1000;
    this.checkpointEvery = options.checkpointEvery ?? 20_000;
    this.pool = new pg.Pool({ ...clientConfig(this.settings), max: options.poolSize ?? 10, query_timeout: options.queryTimeoutMs ?? 10_000 });
    // An idle connection the server ended: the pool drops it and makes another when needed.
    this.pool.on('error', (err) => this.logger.warn('idle database connection lost', { error: this.redact(err.message) }));
    this.listener = new CommitListener({
      settings: this.settings,
      logger: this.logger,
      redact: this.redact,
      maxBackoffMs: options.reconnectMaxMs ?? 5000,
    });
  }

  /** Connects, applies the missing migrations, and resolves with the store ready; rejects with a StoreError. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const migrations = readMigrations(options.migrationsDir ?? DEFAULT_POSTGRES_MIGRATIONS_DIR);
    const store = new PostgresStore(options);
    try {
      await store.withClient((client) => migrate(client, migrations));
    } catch (err) {
      await store.pool.end().catch(() => undefined);
      if (err instanceof StoreError && err.backendCode === 'SCHEMA_TOO_NEW') throw err;
      throw storeErrorOf(err, store.redact, `cannot open the PostgreSQL database ${store.redact(options.url)}`);
    }
    return store;
  }

  /** The URL the store was opened with, its password hidden. */
  get url(): string {
    return this.redact(this.settings.url);
  }

  /** Runs `work` on a pooled connection; a connection that failed under it is discarded, not reused. */
  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('the store is closed');
    const client = await this.pool.connect();
    let broken = false;
    // Checked out, a connection's errors are no longer the pool's: a loss between two queries lands here.
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      return await work(client);
    } catch (err) {
      broken ||= connectionBroken(err);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Runs `work` in a transaction begun with `begin`: committed when it resolves, rolled back when it rejects. */
  private transaction<T>(begin: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query(begin);
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Runs a store operation; its failures become StoreErrors (a StoreConflict stays one). */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof StoreConflict) throw err;
      throw storeErrorOf(err, this.redact);
    }
  }

  private snapshot<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  /** The alarms table at its checkpoint, then the history after it replayed, in one snapshot. */
  load(): Promise<StoreSnapshot> {
    return this.run(() =>
      this.snapshot(async (client) => {
        const meta = await this.readMeta(client);
        const state = new Map<string, Alarm>();
        const keyOf = (r: Pick<AlarmRow, 'domain' | 'project' | 'id' | 'source'>) => `${r.domain}\u0000${r.project}\u0000${r.id}\u0000${r.source}`;
        for (const r of (await client.query<AlarmRow>('SELECT * FROM alarms')).rows) state.set(keyOf(r), fromRow(r));
        const tail = await client.query<HistoryRow>('SELECT * FROM history WHERE revision > $1 ORDER BY revision', [meta.checkpoint]);
        for (const r of tail.rows) {
          if (REMOVING_ACTIONS.has(r.action)) state.delete(keyOf(r));
          else state.set(keyOf(r), fromRow(r));
        }
        for (const e of (await client.query<ExtensionRow>('SELECT * FROM expiry_extensions')).rows) {
          const alarm = state.get(keyOf(e));
          if (alarm?.revision === e.revision && alarm.status === 'ACTIVATED') state.set(keyOf(e), makeAlarm({ ...alarm, expiresAt: e.expires_at }));
        }
        return { alarms: [...state.values()], revision: meta.revision };
      }),
    );
  }

  private async readMeta(client: pg.ClientBase): Promise<{ revision: number; pruned: number; checkpoint: number }> {
    const { rows } = await client.query<{ key: string; value: number }>(SQL.meta);
    const value = (k: string) => rows.find((r) => r.key === k)?.value ?? 0;
    const meta = { revision: value('revision'), pruned: value('pruned'), checkpoint: value('checkpoint') };
    this.pruned = Math.max(this.pruned, meta.pruned);
    this.checkpointed = Math.max(this.checkpointed, meta.checkpoint);
    this.lastRevision = Math.max(this.lastRevision, meta.revision);
    return meta;
  }

  /**
   * The changes under the revision lock, then the extensions, which need no lock (an extension of
   * an older revision never replaces a newer one): a batch of re-sends alone takes one statement
   * and waits for no other replica's commit.
   */
  commit(changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[] = []): Promise<void> {
    const first = changes[0];
    const last = changes.at(-1);
    if ((!first || !last) && extensions.length === 0) return Promise.resolve();
    return this.run(async () => {
      if (first && last) {
        const expected = first.alarm.revision - 1;
        const values = commitValues(changes, expected, last.alarm.revision);
        const { rows } = await this.withClient((client) => client.query<{ found: number }>({ name: 'ac-commit', text: SQL.commit, values }));
        const found = rows[0]?.found ?? 0;
        if (found !== expected) throw new StoreConflict(found, expected);
        this.lastRevision = Math.max(this.lastRevision, last.alarm.revision);
        if (this.lastRevision - this.checkpointed >= this.checkpointEvery) void this.checkpoint();
      }
      if (extensions.length > 0) await this.query(SQL.extend, extensionValues(extensions));
    });
  }

  /** The stored extensions of these alarms, whichever replica made them. */
  expiryExtensions(keys: readonly AlarmKey[]): Promise<ExpiryExtension[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      const rows = await this.query<ExtensionRow>(SQL.extensionsOf, [keys.map((k) => k.domain), keys.map((k) => k.project), keys.map((k) => k.id), keys.map((k) => k.source)]);
      return rows.map(extensionOfRow);
    });
  }

  /**
   * Brings the alarms table up to the last revision this store saw, in steps of at most
   * CHECKPOINT_STEP_ROWS, unless another replica's checkpoint is running (it does the work). A
   * failure only delays it: the history still holds every change, and the next commit tries
   * again. Resolves once done or given up; never rejects.
   */
  checkpoint(): Promise<void> {
    // A call while one runs takes it further: it resolves once the table reaches this call's revision too.
    this.checkpointTarget = Math.max(this.checkpointTarget, this.lastRevision);
    this.checkpointing ??= this.checkpointSteps().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async checkpointSteps(): Promise<void> {
    try {
      while (this.checkpointed < this.checkpointTarget && !this.closed) {
        const upTo = this.checkpointTarget;
        const [row] = await this.query<{ done: number | null }>(SQL.checkpoint, [upTo, CHECKPOINT_STEP_ROWS, REMOVING]);
        const done = row?.done ?? null;
        if (done === null || done <= this.checkpointed) return;
        this.checkpointed = done;
      }
    } catch (err) {
      this.logger.warn('checkpoint of the alarms table failed; the next commit tries again', {
        error: this.redact(err instanceof Error ? err.message : String(err)),
      });
    }
  }

  history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]> {
    return this.run(async () => {
      const rows = await this.query<HistoryRow>(SQL.historyPage, [scope.domain, scope.project, since, limit]);
      return rows.map(entryOf);
    });
  }

  findHistory(scope: Scope, query: HistoryQuery): Promise<HistoryPage> {
    return this.run(async () => {
      const where = historyWhere(scope, query.selection, query.upTo);
      const n = where.values.length;
      const page = this.query<HistoryRow>(
        `SELECT * FROM history WHERE ${where.sql} AND revision > $${n + 1} ORDER BY revision LIMIT $${n + 2}`,
        [...where.values, query.since, query.limit],
      );
      const count = query.count ? this.query<{ n: number }>(`SELECT COUNT(*) AS n FROM history WHERE ${where.sql}`, where.values) : undefined;
      const [rows, counted] = await Promise.all([page, count]);
      const entries = rows.map(entryOf);
      return counted ? { entries, total: counted[0]?.n ?? 0 } : { entries };
    });
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    if (this.closed) throw new StoreError('the store is closed');
    return (await this.pool.query<R>(text, values)).rows;
  }

  /**
   * One batch of retention, as SQLite's: among the oldest `batch` entries, those older than
   * `olderThan` or beyond the newest `keepLast`, none past the checkpoint, so a load never needs
   * what it removes; replicas that applied less than what is removed find it in `prunedRevision`.
   */
  pruneHistory(olderThan: number, keepLast: number, batch: number): Promise<number> {
    return this.run(async () => {
      // The history after the checkpoint is what a load replays: bring the checkpoint up first.
      await this.checkpoint();
      const pass = await this.transaction('BEGIN', async (client) => {
        const { rows } = await client.query<{ revision: number; at: number }>('SELECT revision, at FROM history ORDER BY revision LIMIT $1', [batch]);
        const first = rows[0];
        if (!first) return undefined;
        const { revision, checkpoint } = await this.readMeta(client);
        let upTo = 0;
        if (olderThan > 0) for (const r of rows) if (r.at < olderThan) upTo = r.revision;
        if (keepLast > 0) {
          const excess = revision - first.revision + 1 - keepLast;
          if (excess > 0) upTo = Math.max(upTo, Math.min(first.revision + excess - 1, (rows.at(-1) as { revision: number }).revision));
        }
        upTo = Math.min(upTo, checkpoint);
        if (upTo < first.revision) return undefined;
        const removed = await client.query('DELETE FROM history WHERE revision <= $1', [upTo]);
        await client.query("UPDATE meta SET value = GREATEST(value, $1::bigint) WHERE key = 'pruned'", [upTo]);
        return { upTo, removed: removed.rowCount ?? 0 };
      });
      if (!pass) return 0;
      this.pruned = Math.max(this.pruned, pass.upTo);
      return pass.removed;
    });
  }

  /** The last revision retention removed, as of this store's last load, prune or changesAfter. */
  prunedRevision(): number {
    return this.pruned;
  }

  /**
   * The changes after `revision` by any writer, oldest first. When retention removed some of them
   * (`prunedRevision()` above `revision` once this resolves), they do not follow `revision` without
   * a gap: the caller must load the store again instead.
   */
  changesAfter(revision: number, limit: number): Promise<AlarmChange[]> {
    return this.run(() =>
      this.snapshot(async (client) => {
        await this.readMeta(client);
        const { rows } = await client.query<HistoryRow>({ name: 'ac-changes-after', text: SQL.changesAfter, values: [revision, limit] });
        return rows.map(changeOf);
      }),
    );
  }

  /** Every scope's history after `revision`, read as changesAfter reads it: in a snapshot that also reads `prunedRevision`. */
  historyAfter(revision: number, limit: number): Promise<HistoryEntry[]> {
    return this.run(() =>
      this.snapshot(async (client) => {
        await this.readMeta(client);
        const { rows } = await client.query<HistoryRow>({ name: 'ac-history-after', text: WEBHOOK_SQL.historyAfter, values: [revision, limit] });
        return entriesOf(rows);
      }),
    );
  }

  webhookCursor(name: string): Promise<WebhookCursor | undefined> {
    return this.run(() => this.webhookRows.webhookCursor(name));
  }

  advanceWebhookCursor(name: string, revision: number, deliveredAt?: number): Promise<void> {
    return this.run(() => this.webhookRows.advanceWebhookCursor(name, revision, deliveredAt));
  }

  noteWebhookError(name: string, error: string, at: number): Promise<void> {
    return this.run(() => this.webhookRows.noteWebhookError(name, error, at));
  }

  addWebhookFailure(failure: WebhookFailure): Promise<void> {
    return this.run(() => this.webhookRows.addWebhookFailure(failure));
  }

  webhookFailures(name: string, query: WebhookFailureQuery): Promise<{ failures: WebhookFailure[]; total: number }> {
    return this.run(() => this.webhookRows.webhookFailures(name, query));
  }

  queueWebhookFailures(name: string, revisions?: readonly number[], scope?: Scope): Promise<number> {
    return this.run(() => this.webhookRows.queueWebhookFailures(name, revisions, scope));
  }

  removeWebhookFailure(name: string, revision: number): Promise<void> {
    return this.run(() => this.webhookRows.removeWebhookFailure(name, revision));
  }

  beatHeartbeat(key: HeartbeatKey, at: number, settings: Partial<HeartbeatSettings>): Promise<HeartbeatBeat | undefined> {
    return this.run(() => this.heartbeatRows.beatHeartbeat(key, at, settings));
  }

  heartbeats(scope?: Scope): Promise<StoredHeartbeat[]> {
    return this.run(() => this.heartbeatRows.heartbeats(scope));
  }

  dueHeartbeats(now: number, graceFrom: number, limit: number): Promise<StoredHeartbeat[]> {
    return this.run(() => this.heartbeatRows.dueHeartbeats(now, graceFrom, limit));
  }

  markHeartbeatRaised(key: HeartbeatKey, lastBeat: number): Promise<boolean> {
    return this.run(() => this.heartbeatRows.markHeartbeatRaised(key, lastBeat));
  }

  deleteHeartbeat(key: HeartbeatKey): Promise<StoredHeartbeat | undefined> {
    return this.run(() => this.heartbeatRows.deleteHeartbeat(key));
  }

  onRemoteCommit(listener: (revision?: number) => void): void {
    if (!this.closed) this.listener.add(listener);
  }

  lease(name: string): Lease {
    if (this.closed) throw new StoreError('the store is closed');
    const lease: AdvisoryLease = new AdvisoryLease(name, {
      settings: this.settings,
      logger: this.logger,
      redact: this.redact,
      retryMs: this.leaseRetryMs,
      onClose: () => this.leases.delete(lease),
    });
    this.leases.add(lease);
    return lease;
  }

  /** Resolves when the database takes a write now: reachable, and neither a standby nor read-only. */
  ping(): Promise<void> {
    return this.run(async () => {
      const [row] = await this.query<{ read_only: boolean }>(
        "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only",
        [],
      );
      if (row?.read_only) throw new StoreError('the database is read-only (a standby, or default_transaction_read_only)', { backendCode: '25006' });
    });
  }

  /** Gives up the leases, stops listening, and closes the pool once the calls in flight are done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.checkpointing;
    await Promise.all([...this.leases].map((l) => l.close()));
    await this.listener.close();
    await this.pool.end();
  }
}
