import type Database from 'better-sqlite3';
import type { DataLock } from './data-lock.js';
import { FileIdentity } from './file-identity.js';
import type { AlarmSelection } from './filter.js';
import { REMOVING_ACTIONS, makeAlarm, type Alarm, type AlarmChange, type Scope } from './model.js';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations, refuseNewerSchema, schemaVersion } from './sqlite-migrations.js';
import { openDatabase, openFailure } from './sqlite-open.js';
import { StoreError, type AlarmStore, type ExpiryExtension, type HistoryEntry, type HistoryPage, type HistoryQuery, type StoreSnapshot, type WebhookCursor, type WebhookFailure, type WebhookFailureQuery } from './store.js';
import { DEFAULT_WAL_LIMIT_BYTES, WalCheckpointer } from './wal-checkpointer.js';
import { WalFlusher } from './wal-flusher.js';
import { entryOf, fromRow, type AlarmRow, type HistoryRow } from './store-rows.js';
import { SqliteWebhooks } from './sqlite-webhooks.js';
import { SqliteHeartbeats, type HeartbeatBeatRequest } from './sqlite-heartbeats.js';
import type { HeartbeatBeat, HeartbeatKey, HeartbeatSettings, StoredHeartbeat } from './store.js';

export { DEFAULT_MIGRATIONS_DIR, readMigrations } from './sqlite-migrations.js';

/** `full`: an answered change survives a power cut; `process`: it survives a crash of the process. */
export type Durability = 'full' | 'process';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  file: string;
  durability?: Durability;
  /** How the WAL is synced for durability `full`; defaults to fs.fdatasync (tests hold it). */
  walSync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** Folder of `NNN_name.sql` files; defaults to the package's `migrations/`. */
  migrationsDir?: string;
  /** History rows past the checkpoint that start the next checkpoint (default 20,000). */
  checkpointEvery?: number;
  /**
   * Most bytes the WAL file keeps (default 64 MiB): past it the next commit waits for a checkpoint
   * and the WAL starts over, cut back to this size. Room for a few of the largest group commits
   * (1,024 alarms of 16 KiB) without growing the file again after each restart of the WAL.
   */
  walLimitBytes?: number;
  /** Milliseconds without a write after which the WAL file is truncated to nothing (default 1,000). */
  walIdleMs?: number;
  /** How often the database file is checked to still be the one at `file` (default 5,000 ms). */
  fileCheckMs?: number;
}

function storeError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(message, { cause: err, backendCode: typeof code === 'string' ? code : undefined });
}

/** The WHERE clause taking a scope's history entries up to a revision that a selection takes, and its values. */
function historyWhere(scope: Scope, s: AlarmSelection, upTo: number): { sql: string; values: unknown[] } {
  let sql = 'domain = ? AND project = ? AND revision <= ?';
  const values: unknown[] = [scope.domain, scope.project, upTo];
  if (s.ids !== undefined) {
    sql += ' AND id IN (SELECT value FROM json_each(?))';
    values.push(JSON.stringify([...s.ids]));
  }
  if (s.source !== undefined) {
    sql += ' AND source = ?';
    values.push(s.source);
  }
  if (s.severities !== undefined) {
    sql += ' AND severity IN (SELECT value FROM json_each(?))';
    values.push(JSON.stringify([...s.severities]));
  }
  if (s.status !== undefined) {
    sql += ' AND status = ?';
    values.push(s.status);
  }
  if (s.acknowledged !== undefined) sql += s.acknowledged ? ' AND acked_at IS NOT NULL' : ' AND acked_at IS NULL';
  if (s.updatedSince !== undefined) {
    sql += ' AND updated_at >= ?';
    values.push(s.updatedSince);
  }
  return { sql, values };
}

/** What a history row costs in the WAL besides its fields, roughly: its columns and index entries. */
const ROW_BYTES = 256;

const KEY = 'domain, project, id, source';
const STATE = 'status, severity, fields, count, raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, ack_expires_at, expires_at';

/** Expiry extensions written by one statement. */
const EXTEND_CHUNK = 64;

/**
 * The SQLite store.
 *
 * - Durability: WAL journal with `synchronous=NORMAL`; for durability `full` each commit's WAL
 *   frames are then flushed with fdatasync off the main thread before the commit counts as
 *   durable (see WalFlusher): the guarantee of `synchronous=FULL` without blocking the event
 *   loop on the disk.
 * - Layout: a commit appends one history row per change and nothing else. The alarms table is
 *   brought up to date from the history in bulk once `checkpointEvery` rows have accumulated,
 *   at start-up and at close; the state is the alarms table plus the history after the
 *   checkpoint. Small commits thus write a few pages instead of one page per alarm touched.
 * - Schema: migrations are applied in order at open; a database whose schema is newer than the
 *   code's migrations is refused before anything in it is changed.
 * - WAL size: bounded near `walLimitBytes` while writes go on and truncated to nothing once they
 *   stop (see WalCheckpointer); scheduled checkpoints of the alarms table go in steps for the same
 *   reason.
 * - The file: SQLite keeps writing to the file it opened even once that is deleted or replaced at
 *   its path, and a restart would not find those writes. Each commit (one stat, about a
 *   microsecond), each ping and a timer every `fileCheckMs` check that the path still leads to
 *   it; once it does not, the store refuses writes until a restart.
 * - The folder: the store holds its folder's lock (see DataLock) from before it opens the file
 *   until it is closed, so a second store on the folder, in this process or another, is refused
 *   at once instead of writing revisions the first one also writes.
 */
export class SqliteStore implements AlarmStore {
  /** The open database; exposed for tests and tooling, not for other components. */
  readonly db: Database.Database;
  /** The data folder's lock, held from before the file is opened until it is closed; none for an in-memory database. */
  private readonly lock: DataLock | undefined;
  /** Flushes the WAL for durability `full`; none for `process` or an in-memory database. */
  readonly flusher: WalFlusher | undefined;
  /** The database file; undefined for an in-memory database. */
  readonly databaseFile: string | undefined;
  /** Checkpoints the WAL off the event loop; none for an in-memory database. */
  readonly walCheckpointer: WalCheckpointer | undefined;
  private readonly checkpointEvery: number;
  private readonly appendTx: (changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[]) => void;
  private readonly checkpointTx: (from: number, upTo: number) => void;
  private readonly historyPage: Database.Statement;
  /** Prepared filtered history reads, by SQL text (one per combination of criteria). */
  private readonly historyReads = new Map<string, Database.Statement>();
  private checkpointed = 0;
  private lastRevision = 0;
  private checkpointScheduled = false;
  /** Revisions at which a scheduled checkpoint ends a step: one per `stepBytes` of history committed. */
  private stepEnds: number[] = [];
  private stepFill = 0;
  private readonly stepBytes: number;
  private pruned = 0;
  private pruneStatements: { oldest: Database.Statement; remove: (upTo: number) => number } | undefined;
  /** The file opened, to notice it deleted or replaced; none for an in-memory database. */
  private readonly identity: FileIdentity | undefined;
  private readonly fileCheck: NodeJS.Timeout | undefined;
  /** Set once the file is found gone from its path; the store refuses writes from then on. */
  private lost: StoreError | undefined;
  private readonly failureListeners: ((error: Error) => void)[] = [];
  private webhooks: SqliteWebhooks | undefined;
  private heartbeatRows: SqliteHeartbeats | undefined;

  /** The schema version recorded in the database (0 when none). */
  static schemaVersion(db: Database.Database): number {
    return schemaVersion(db);
  }

  constructor(options: SqliteStoreOptions) {
    const migrations = readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
    try {
      ({ db: this.db, lock: this.lock } = openDatabase(options.file));
    } catch (err) {
      throw storeError(err);
    }
    const walLimitBytes = options.walLimitBytes ?? DEFAULT_WAL_LIMIT_BYTES;
    this.stepBytes = walLimitBytes / 4;
    try {
      refuseNewerSchema(this.db, migrations.length);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma(`journal_size_limit = ${walLimitBytes}`);
      migrate(this.db, migrations);
      if (options.file !== ':memory:') this.identity = new FileIdentity(options.file);
    } catch (err) {
      this.db.close();
      this.lock?.release();
      throw openFailure(options.file, err) ?? storeError(err);
    }
    this.databaseFile = options.file === ':memory:' ? undefined : options.file;
    this.checkpointEvery = options.checkpointEvery ?? 20_000;
    this.flusher =
      options.file !== ':memory:' && options.durability !== 'process'
        ? new WalFlusher(`${options.file}-wal`, options.walSync)
        : undefined;
    if (options.file !== ':memory:') {
      // SQLite's own checkpoints would run inside commits, on the event loop.
      this.db.pragma('wal_autocheckpoint = 0');
      this.walCheckpointer = new WalCheckpointer(options.file, { limitBytes: walLimitBytes, idleMs: options.walIdleMs });
      this.fileCheck = setInterval(() => this.checkFile(true), options.fileCheckMs ?? 5000).unref();
    }
    this.appendTx = this.prepareAppend();
    this.checkpointTx = this.prepareCheckpoint();
    this.historyPage = this.db.prepare(
      'SELECT * FROM history WHERE domain = ? AND project = ? AND revision > ? ORDER BY revision LIMIT ?',
    );
  }

  private prepareAppend(): (changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[]) => void {
    const record = this.db.prepare(
      `INSERT INTO history (revision, ${KEY}, action, ${STATE}, at, changed_by) VALUES (${Array(20).fill('?').join(', ')})`,
    );
    // Re-sends come by the hundred: one statement a chunk, not a call into SQLite a row. An
    // extension is keyed by the revision of the alarm state it moves (one revision, one state).
    const extendRows = (rows: number) =>
      this.db.prepare(
        `INSERT INTO expiry_extensions (revision, expires_at) VALUES ${Array(rows).fill('(?, ?)').join(', ')}
         ON CONFLICT (revision) DO UPDATE SET expires_at = excluded.expires_at`,
      );
    const extendChunk = extendRows(EXTEND_CHUNK);
    const extendOne = extendRows(1);
    const values = (es: readonly ExpiryExtension[]) => {
      const out: number[] = new Array(es.length * 2);
      for (let i = 0; i < es.length; i += 1) {
        const e = es[i] as ExpiryExtension;
        out[2 * i] = e.revision;
        out[2 * i + 1] = e.expiresAt;
      }
      return out;
    };
    return this.db.transaction((changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[]) => {
      let i = 0;
      for (; i + EXTEND_CHUNK <= extensions.length; i += EXTEND_CHUNK) extendChunk.run(values(extensions.slice(i, i + EXTEND_CHUNK)));
      for (; i < extensions.length; i += 1) extendOne.run(values(extensions.slice(i, i + 1)));
      for (const c of changes) {
        const a = c.alarm;
        record.run(a.revision, a.domain, a.project, a.id, a.source, c.action, a.status, a.severity, a.fieldsJson,
          a.count, a.raisedAt, a.updatedAt, a.clearedAt ?? null, a.ackedBy ?? null, a.ackedAt ?? null,
          a.ackComment ?? null, a.ackExpiresAt ?? null, a.expiresAt ?? null, c.at, c.by ?? null);
      }
    });
  }

  /**
   * One transaction bringing the alarms table from one checkpoint to a later revision, from the
   * history rows between them: every change that keeps its alarm is upserted in revision order
   * (the last one wins), then each removal deletes its alarm unless a later change brought it
   * back. SQLite reads the rows itself, so no row crosses into JavaScript but the removals.
   */
  private prepareCheckpoint(): (from: number, upTo: number) => void {
    const removing = [...REMOVING_ACTIONS].map((a) => `'${a}'`).join(', ');
    const upsert = this.db.prepare(
      `INSERT INTO alarms (${KEY}, ${STATE}, revision)
       SELECT ${KEY}, ${STATE}, revision FROM history
       WHERE revision > ? AND revision <= ? AND action NOT IN (${removing}) ORDER BY revision
       ON CONFLICT (${KEY}) DO UPDATE SET status = excluded.status, severity = excluded.severity,
         fields = excluded.fields, count = excluded.count, raised_at = excluded.raised_at,
         updated_at = excluded.updated_at, cleared_at = excluded.cleared_at, acked_by = excluded.acked_by,
         acked_at = excluded.acked_at, ack_comment = excluded.ack_comment, ack_expires_at = excluded.ack_expires_at,
         expires_at = excluded.expires_at, revision = excluded.revision`,
    );
    const removals = this.db.prepare(
      `SELECT revision, ${KEY} FROM history WHERE revision > ? AND revision <= ? AND action IN (${removing}) ORDER BY revision`,
    );
    const remove = this.db.prepare('DELETE FROM alarms WHERE domain = ? AND project = ? AND id = ? AND source = ? AND revision < ?');
    const mark = this.db.prepare("UPDATE meta SET value = ? WHERE key IN ('checkpoint', 'revision')");
    // Extensions whose alarm changed or went at or before the checkpoint no longer apply.
    const stale = this.db.prepare('DELETE FROM expiry_extensions WHERE revision <= ? AND revision NOT IN (SELECT revision FROM alarms)');
    return this.db.transaction((from: number, upTo: number) => {
      upsert.run(from, upTo);
      for (const r of removals.all(from, upTo) as Pick<HistoryRow, 'revision' | 'domain' | 'project' | 'id' | 'source'>[]) {
        remove.run(r.domain, r.project, r.id, r.source, r.revision);
      }
      stale.run(upTo);
      mark.run(upTo);
    });
  }

  /**
   * The store's failure once its file is no longer at its path, checked now. It lasts: the data
   * written since went to a file no restart opens, so only a restart (which opens whatever is at
   * the path then) may take writes again. `notify` tells the failure listeners when it is new.
   */
  private checkFile(notify: boolean): StoreError | undefined {
    if (this.lost || !this.identity) return this.lost;
    const how = this.identity.lost();
    if (how === undefined) return undefined;
    clearInterval(this.fileCheck);
    this.lost = new StoreError(
      `the database ${this.identity.file} was ${how} while in use; writes are refused until Alarm Center is restarted`,
      { backendCode: 'DATABASE_FILE_LOST' },
    );
    for (const listener of notify ? this.failureListeners : []) {
      try {
        listener(this.lost);
      } catch {
        // A listener's failure is its own; this runs from a timer, where it would end the process.
      }
    }
    return this.lost;
  }

  /** Hears of the file found deleted or replaced outside a commit (a commit reports it by rejecting). */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** Brings the alarms table up to the last committed revision. A failure only delays it. */
  checkpoint(): void {
    this.checkpointTo(this.lastRevision);
  }

  private checkpointTo(upTo: number): void {
    if (upTo <= this.checkpointed || !this.db.open) return;
    this.checkpointTx(this.checkpointed, upTo);
    this.checkpointed = upTo;
  }

  async load(): Promise<StoreSnapshot> {
    try {
      const meta = this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: number }[];
      const value = (key: string) => meta.find((m) => m.key === key)?.value ?? 0;
      this.checkpointed = value('checkpoint');
      this.pruned = value('pruned');
      const state = new Map<string, Alarm>();
      const keyOf = (r: AlarmRow) => `${r.domain}\u0000${r.project}\u0000${r.id}\u0000${r.source}`;
      for (const r of this.db.prepare('SELECT * FROM alarms').iterate() as Iterable<AlarmRow>) {
        state.set(keyOf(r), fromRow(r));
      }
      let last = Math.max(value('revision'), this.checkpointed);
      const tail = this.db.prepare('SELECT * FROM history WHERE revision > ? ORDER BY revision');
      for (const r of tail.iterate(this.checkpointed) as Iterable<HistoryRow>) {
        const alarm = fromRow(r);
        const removed = REMOVING_ACTIONS.has(r.action);
        if (removed) state.delete(keyOf(r));
        else state.set(keyOf(r), alarm);
        last = r.revision;
      }
      const keyAt = new Map<number, string>();
      for (const [key, alarm] of state) keyAt.set(alarm.revision, key);
      for (const e of this.db.prepare('SELECT revision, expires_at FROM expiry_extensions').iterate() as Iterable<{ revision: number; expires_at: number }>) {
        const key = keyAt.get(e.revision);
        const alarm = key === undefined ? undefined : state.get(key);
        if (key !== undefined && alarm?.status === 'ACTIVATED') state.set(key, makeAlarm({ ...alarm, expiresAt: e.expires_at }));
      }
      this.lastRevision = last;
      try {
        this.checkpoint();
      } catch {
        // A full disk at start-up must not stop it: the history still holds the tail.
      }
      return { alarms: [...state.values()], revision: last };
    } catch (err) {
      throw storeError(err);
    }
  }

  async commit(changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[] = []): Promise<void> {
    const { durable } = await this.commitPipelined(changes, extensions);
    await durable;
  }

  async commitPipelined(changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[] = []): Promise<{ durable: Promise<void> }> {
    if (changes.length === 0 && extensions.length === 0) return { durable: Promise.resolve() };
    const room = this.walCheckpointer?.room();
    if (room) await room;
    const lost = this.checkFile(false);
    if (lost) throw lost;
    try {
      this.appendTx(changes, extensions);
    } catch (err) {
      throw storeError(err);
    }
    this.walCheckpointer?.committed();
    for (const c of changes) {
      this.stepFill += c.alarm.fieldsJson.length + ROW_BYTES;
      if (this.stepFill < this.stepBytes) continue;
      this.stepEnds.push(c.alarm.revision);
      this.stepFill = 0;
    }
    this.lastRevision = changes.at(-1)?.alarm.revision ?? this.lastRevision;
    if (this.lastRevision - this.checkpointed >= this.checkpointEvery) this.scheduleCheckpoint();
    if (!this.flusher) return { durable: Promise.resolve() };
    return {
      durable: this.flusher.flush().catch((err: unknown) => {
        throw storeError(err);
      }),
    };
  }

  /**
   * Checkpoints between commits rather than inside one, so no commit waits for it, and in steps of
   * about a quarter of the WAL's limit of history, each its own transaction, with room for the WAL
   * between them: one transaction of 20,000 alarms of 16 KiB would grow the WAL by 330 MiB at once.
   */
  private scheduleCheckpoint(): void {
    if (this.checkpointScheduled) return;
    this.checkpointScheduled = true;
    setImmediate(() => {
      void this.checkpointInSteps(this.lastRevision).finally(() => {
        this.checkpointScheduled = false;
      });
    });
  }

  private async checkpointInSteps(upTo: number): Promise<void> {
    while (this.checkpointed < upTo && this.db.open && !this.lost) {
      while ((this.stepEnds[0] ?? Infinity) <= this.checkpointed) this.stepEnds.shift();
      try {
        this.checkpointTo(Math.min(upTo, this.stepEnds[0] ?? upTo));
      } catch {
        // The history still holds every change; the next commit schedules another attempt.
        return;
      }
      this.walCheckpointer?.committed();
      await this.walCheckpointer?.room();
    }
  }

  async history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]> {
    try {
      const rows = this.historyPage.all(scope.domain, scope.project, since, limit) as HistoryRow[];
      return rows.map(entryOf);
    } catch (err) {
      throw storeError(err);
    }
  }

  async findHistory(scope: Scope, query: HistoryQuery): Promise<HistoryPage> {
    try {
      const where = historyWhere(scope, query.selection, query.upTo);
      const page = this.historyRead(`SELECT * FROM history WHERE ${where.sql} AND revision > ? ORDER BY revision LIMIT ?`);
      const rows = page.all(...where.values, query.since, query.limit) as HistoryRow[];
      const entries = rows.map(entryOf);
      if (!query.count) return { entries };
      const count = this.historyRead(`SELECT COUNT(*) AS n FROM history WHERE ${where.sql}`);
      return { entries, total: (count.get(...where.values) as { n: number }).n };
    } catch (err) {
      throw storeError(err);
    }
  }

  private historyRead(sql: string): Database.Statement {
    let statement = this.historyReads.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.historyReads.set(sql, statement);
    }
    return statement;
  }

  pruneHistory(olderThan: number, keepLast: number, batch: number): number {
    const lost = this.checkFile(true);
    if (lost) throw lost;
    try {
      this.pruneStatements ??= this.preparePrune();
      const { oldest, remove } = this.pruneStatements;
      const rows = oldest.all(batch) as { revision: number; at: number }[];
      const first = rows[0];
      if (!first) return 0;
      let upTo = 0;
      if (olderThan > 0) for (const r of rows) if (r.at < olderThan) upTo = r.revision;
      if (keepLast > 0) {
        const excess = this.lastRevision - first.revision + 1 - keepLast;
        if (excess > 0) upTo = Math.max(upTo, Math.min(first.revision + excess - 1, (rows[rows.length - 1] as { revision: number }).revision));
      }
      if (upTo === 0) return 0;
      // The history after the checkpoint is what a restart replays: bring the checkpoint past it first.
      if (upTo > this.checkpointed) this.checkpoint();
      upTo = Math.min(upTo, this.checkpointed);
      if (upTo < first.revision) return 0;
      const removed = remove(upTo);
      this.walCheckpointer?.committed();
      this.pruned = upTo;
      return removed;
    } catch (err) {
      throw storeError(err);
    }
  }

  prunedRevision(): number {
    return this.pruned;
  }

  private preparePrune(): { oldest: Database.Statement; remove: (upTo: number) => number } {
    const oldest = this.db.prepare('SELECT revision, at FROM history ORDER BY revision LIMIT ?');
    const remove = this.db.prepare('DELETE FROM history WHERE revision <= ?');
    const mark = this.db.prepare("UPDATE meta SET value = ? WHERE key = 'pruned'");
    const tx = this.db.transaction((upTo: number) => {
      const n = remove.run(upTo).changes;
      mark.run(upTo);
      return n;
    });
    return { oldest, remove: (upTo: number) => tx(upTo) };
  }

  /** The webhook tables' statements, prepared on first use. */
  private get webhookTables(): SqliteWebhooks {
    this.webhooks ??= new SqliteWebhooks(this.db);
    return this.webhooks;
  }

  /** Runs a webhook call; its failure is a StoreError, as a commit's is. */
  private async onWebhooks<T>(call: (tables: SqliteWebhooks) => T): Promise<T> {
    try {
      return call(this.webhookTables);
    } catch (err) {
      throw storeError(err);
    }
  }

  historyAfter(revision: number, limit: number): Promise<HistoryEntry[]> {
    return this.onWebhooks((t) => t.historyAfter(revision, limit));
  }

  webhookCursor(name: string): Promise<WebhookCursor | undefined> {
    return this.onWebhooks((t) => t.webhookCursor(name));
  }

  advanceWebhookCursor(name: string, revision: number, deliveredAt?: number): Promise<void> {
    return this.onWebhooks((t) => t.advanceWebhookCursor(name, revision, deliveredAt));
  }

  noteWebhookError(name: string, error: string, at: number): Promise<void> {
    return this.onWebhooks((t) => t.noteWebhookError(name, error, at));
  }

  addWebhookFailure(failure: WebhookFailure): Promise<void> {
    return this.onWebhooks((t) => t.addWebhookFailure(failure));
  }

  webhookFailures(name: string, query: WebhookFailureQuery): Promise<{ failures: WebhookFailure[]; total: number }> {
    return this.onWebhooks((t) => t.webhookFailures(name, query));
  }

  queueWebhookFailures(name: string, revisions?: readonly number[], scope?: Scope): Promise<number> {
    return this.onWebhooks((t) => t.queueWebhookFailures(name, revisions, scope));
  }

  removeWebhookFailure(name: string, revision: number): Promise<void> {
    return this.onWebhooks((t) => t.removeWebhookFailure(name, revision));
  }

  /** Beats waiting for the next turn of the event loop (beatHeartbeat). */
  private beats: (HeartbeatBeatRequest & { resolve(beat: HeartbeatBeat | undefined): void; reject(err: unknown): void })[] = [];

  /**
   * Runs a heartbeat call on the heartbeat statements (prepared on first use); its failure is a
   * StoreError. A call that wrote to the heartbeats table counts as a commit for the WAL's
   * checkpoints, as an alarm commit does: heartbeats alone would otherwise grow the WAL without end.
   */
  private async onHeartbeats<T>(call: (rows: SqliteHeartbeats) => T): Promise<T> {
    try {
      const lost = this.checkFile(true);
      if (lost) throw lost;
      const wrote = this.heartbeatRows?.writes ?? 0;
      this.heartbeatRows ??= new SqliteHeartbeats(this.db);
      try {
        return call(this.heartbeatRows);
      } finally {
        if (this.heartbeatRows.writes !== wrote) this.walCheckpointer?.committed();
      }
    } catch (err) {
      throw storeError(err);
    }
  }

  /**
   * Beats taken in one turn of the event loop are written together on the next (a journal write
   * or a transaction each cost more than the rest of a beat; see SqliteHeartbeats); under load a
   * turn brings many. Past the WAL's limit they wait for room first, as a commit does.
   */
  beatHeartbeat(key: HeartbeatKey, at: number, settings: Partial<HeartbeatSettings>): Promise<HeartbeatBeat | undefined> {
    return new Promise((resolve, reject) => {
      this.beats.push({ key, at, settings, resolve, reject });
      if (this.beats.length === 1) setImmediate(() => void this.writeBeats());
    });
  }

  private async writeBeats(): Promise<void> {
    const room = this.walCheckpointer?.room();
    if (room) await room;
    const batch = this.beats;
    this.beats = [];
    try {
      const beaten = await this.onHeartbeats((r) => r.beatAll(batch));
      batch.forEach((b, i) => b.resolve(beaten[i]));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  heartbeats(scope?: Scope): Promise<StoredHeartbeat[]> {
    return this.onHeartbeats((r) => r.heartbeats(scope));
  }

  dueHeartbeats(now: number, graceFrom: number, limit: number): Promise<StoredHeartbeat[]> {
    return this.onHeartbeats((r) => r.dueHeartbeats(now, graceFrom, limit));
  }

  markHeartbeatRaised(key: HeartbeatKey, lastBeat: number): Promise<boolean> {
    return this.onHeartbeats((r) => r.markHeartbeatRaised(key, lastBeat));
  }

  deleteHeartbeat(key: HeartbeatKey): Promise<StoredHeartbeat | undefined> {
    return this.onHeartbeats((r) => r.deleteHeartbeat(key));
  }

  async ping(): Promise<void> {
    try {
      if (!this.db.open) throw new StoreError('database is closed');
      const lost = this.checkFile(true);
      if (lost) throw lost;
      this.db.exec('BEGIN IMMEDIATE; ROLLBACK');
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Waits for pending syncs, checkpoints so the next start replays nothing, closes, and releases the folder. */
  async close(): Promise<void> {
    clearInterval(this.fileCheck);
    if (this.flusher) {
      await this.flusher.idle();
      this.flusher.close();
    }
    await this.walCheckpointer?.close();
    try {
      // A lost file is no one's to bring up to date.
      if (this.db.open && !this.lost) {
        this.heartbeatRows?.flush();
        this.checkpoint();
      }
    } finally {
      this.db.close();
      // Last: the next Alarm Center may open the folder once nothing here writes it.
      this.lock?.release();
    }
  }
}
