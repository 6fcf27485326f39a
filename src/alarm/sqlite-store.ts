import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { makeAlarm, type Alarm, type AlarmChange, type AlarmStatus, type Scope, type Severity } from './model.js';
import { StoreError, type AlarmStore, type HistoryEntry, type StoreSnapshot } from './store.js';

/** `full`: an answered change survives a power cut; `process`: it survives a crash of the process. */
export type Durability = 'full' | 'process';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  file: string;
  durability?: Durability;
  /** Folder of `NNN_name.sql` files; defaults to the package's `migrations/`. */
  migrationsDir?: string;
}

/** The package's migrations folder, found from this module whether it runs from src/ or dist/. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNN_name.sql` files in version order; refuses gaps and duplicates. */
export function readMigrations(dir: string): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .map((file) => /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2] as string, sql: fs.readFileSync(path.join(dir, m[0]), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError(`migrations must be numbered 001, 002, … without gaps; found ${m.version}`);
  });
  return migrations;
}

interface AlarmRow {
  domain: string;
  project: string;
  id: string;
  source: string;
  status: AlarmStatus;
  severity: Severity;
  fields: string;
  count: number;
  raised_at: number;
  updated_at: number;
  cleared_at: number | null;
  revision: number;
}

interface HistoryRow {
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
  at: number;
}

function fromRow(r: AlarmRow): Alarm {
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
  });
}

function storeError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(message, { cause: err, backendCode: typeof code === 'string' ? code : undefined });
}

/**
 * The SQLite store: WAL journal, `synchronous=FULL` (or NORMAL for durability `process`),
 * migrations applied in order at open. A database whose schema is newer than the code's
 * migrations is refused before anything in it is changed.
 */
export class SqliteStore implements AlarmStore {
  /** The open database; exposed for tests and tooling, not for other components. */
  readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly record: Database.Statement;
  private readonly setRevision: Database.Statement;
  private readonly commitTx: (changes: readonly AlarmChange[]) => void;

  constructor(options: SqliteStoreOptions) {
    const migrations = readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
    if (options.file !== ':memory:') fs.mkdirSync(path.dirname(options.file), { recursive: true });
    try {
      this.db = new Database(options.file);
    } catch (err) {
      throw storeError(err);
    }
    try {
      SqliteStore.refuseNewerSchema(this.db, migrations.length);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.durability === 'process' ? 'NORMAL' : 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      SqliteStore.migrate(this.db, migrations);
    } catch (err) {
      this.db.close();
      throw storeError(err);
    }
    this.upsert = this.db.prepare(
      `INSERT INTO alarms (domain, project, id, source, status, severity, fields, count, raised_at, updated_at, cleared_at, revision)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (domain, project, id, source) DO UPDATE SET
         status = excluded.status, severity = excluded.severity, fields = excluded.fields, count = excluded.count,
         raised_at = excluded.raised_at, updated_at = excluded.updated_at, cleared_at = excluded.cleared_at,
         revision = excluded.revision`,
    );
    this.remove = this.db.prepare('DELETE FROM alarms WHERE domain = ? AND project = ? AND id = ? AND source = ?');
    this.record = this.db.prepare(
      `INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.setRevision = this.db.prepare("UPDATE meta SET value = ? WHERE key = 'revision'");
    this.commitTx = this.db.transaction((changes: readonly AlarmChange[]) => {
      let last = 0;
      for (const c of changes) {
        const a = c.alarm;
        if (c.removed) this.remove.run(a.domain, a.project, a.id, a.source);
        else {
          this.upsert.run(a.domain, a.project, a.id, a.source, a.status, a.severity, a.fieldsJson, a.count,
            a.raisedAt, a.updatedAt, a.clearedAt ?? null, a.revision);
        }
        this.record.run(a.revision, a.domain, a.project, a.id, a.source, c.action, a.status, a.severity, a.fieldsJson, a.count, c.at);
        last = a.revision;
      }
      if (last > 0) this.setRevision.run(last);
    });
  }

  /** The schema version recorded in the database (0 when none). */
  static schemaVersion(db: Database.Database): number {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) return 0;
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  private static refuseNewerSchema(db: Database.Database, known: number): void {
    const version = SqliteStore.schemaVersion(db);
    if (version > known) {
      throw new StoreError(
        `database schema version ${version} is newer than this Alarm Center knows (${known}); refusing to open it, nothing was changed`,
        { backendCode: 'SCHEMA_TOO_NEW' },
      );
    }
  }

  private static migrate(db: Database.Database, migrations: Migration[]): void {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    const current = SqliteStore.schemaVersion(db);
    const mark = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.transaction(() => {
        db.exec(m.sql);
        mark.run(m.version, m.name, new Date().toISOString());
      })();
    }
  }

  async load(): Promise<StoreSnapshot> {
    try {
      const rows = this.db.prepare('SELECT * FROM alarms ORDER BY raised_at, revision').all() as AlarmRow[];
      const rev = this.db.prepare("SELECT value FROM meta WHERE key = 'revision'").get() as { value: number };
      return { alarms: rows.map(fromRow), revision: rev.value };
    } catch (err) {
      throw storeError(err);
    }
  }

  async commit(changes: readonly AlarmChange[]): Promise<void> {
    if (changes.length === 0) return;
    try {
      this.commitTx(changes);
    } catch (err) {
      throw storeError(err);
    }
  }

  async history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]> {
    try {
      const rows = this.db
        .prepare('SELECT * FROM history WHERE domain = ? AND project = ? AND revision > ? ORDER BY revision LIMIT ?')
        .all(scope.domain, scope.project, since, limit) as HistoryRow[];
      return rows.map((r) => ({
        revision: r.revision,
        action: r.action,
        at: r.at,
        alarm: makeAlarm({
          domain: r.domain,
          project: r.project,
          id: r.id,
          source: r.source,
          status: r.status,
          severity: r.severity,
          fieldsJson: r.fields,
          count: r.count,
          raisedAt: r.at,
          updatedAt: r.at,
          revision: r.revision,
        }),
      }));
    } catch (err) {
      throw storeError(err);
    }
  }

  async ping(): Promise<void> {
    try {
      if (!this.db.open) throw new StoreError('database is closed');
      this.db.exec('BEGIN IMMEDIATE; ROLLBACK');
    } catch (err) {
      throw storeError(err);
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
