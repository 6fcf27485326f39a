/**
 * The SQLite store's heartbeats table (migrations/007_heartbeats.sql): each call runs at once on
 * the store's one connection, so a beat and the judge's mark never interleave.
 * SqliteStore delegates its heartbeat methods here.
 */
import type Database from 'better-sqlite3';
import { DEFAULT_HEARTBEAT_SEVERITY, heartbeatOfRow, type HeartbeatRow } from './heartbeat-rows.js';
import type { Scope } from './model.js';
import type { HeartbeatBeat, HeartbeatKey, HeartbeatSettings, StoredHeartbeat } from './store.js';

const KEY = 'domain = @domain AND project = @project AND name = @name';

/** One beat to write: which heartbeat, when, and the settings it brings. */
export interface HeartbeatBeatRequest {
  key: HeartbeatKey;
  at: number;
  settings: Partial<HeartbeatSettings>;
}

/** The heartbeat statements of one SQLite database. */
export class SqliteHeartbeats {
  private readonly all: Database.Statement;
  private readonly ofScope: Database.Statement;
  private readonly due: Database.Statement;
  private readonly mark: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly beat: (key: HeartbeatKey, at: number, s: Partial<HeartbeatSettings>) => HeartbeatBeat | undefined;
  private readonly beatMany: (beats: readonly HeartbeatBeatRequest[]) => (HeartbeatBeat | undefined)[];

  constructor(db: Database.Database) {
    this.all = db.prepare('SELECT * FROM heartbeats ORDER BY domain, project, name');
    this.ofScope = db.prepare('SELECT * FROM heartbeats WHERE domain = ? AND project = ? ORDER BY name');
    this.due = db.prepare('SELECT * FROM heartbeats WHERE raised = 0 AND deadline <= @now AND (deadline >= @graceFrom OR @graceFrom + timeout_ms <= @now) ORDER BY deadline LIMIT @limit');
    this.mark = db.prepare(`UPDATE heartbeats SET raised = 1 WHERE ${KEY} AND last_beat = @lastBeat`);
    this.remove = db.prepare(`DELETE FROM heartbeats WHERE ${KEY} RETURNING *`);
    const insert = db.prepare(
      `INSERT INTO heartbeats (domain, project, name, timeout_ms, severity, fields, last_beat, deadline, raised, created_at)
       VALUES (@domain, @project, @name, @timeoutMs, @severity, @fields, @at, @at + @timeoutMs, 0, @at) RETURNING *`,
    );
    const update = db.prepare(
      `UPDATE heartbeats SET timeout_ms = COALESCE(@timeoutMs, timeout_ms), severity = COALESCE(@severity, severity),
         fields = COALESCE(@fields, fields), last_beat = @at, deadline = @at + COALESCE(@timeoutMs, timeout_ms), raised = 0
       WHERE ${KEY} RETURNING *`,
    );
    const raisedOf = db.prepare(`SELECT raised FROM heartbeats WHERE ${KEY}`);
    // Two statements and no transaction: they run at once on the store's one connection, so
    // nothing (the judge's mark included) comes between them; a transaction only cost a beat more.
    this.beat = (key: HeartbeatKey, at: number, s: Partial<HeartbeatSettings>) => {
      const before = raisedOf.get(key) as { raised: number } | undefined;
      const values = { ...key, at, timeoutMs: s.timeoutMs ?? null, severity: s.severity ?? null, fields: s.fieldsJson ?? null };
      let after: HeartbeatRow;
      if (before) after = update.get(values) as HeartbeatRow;
      else if (s.timeoutMs !== undefined) after = insert.get({ ...values, severity: s.severity ?? DEFAULT_HEARTBEAT_SEVERITY, fields: s.fieldsJson ?? '{}' }) as HeartbeatRow;
      else return undefined;
      return { heartbeat: heartbeatOfRow(after), wasRaised: before?.raised === 1, created: before === undefined };
    };
    this.beatMany = db.transaction((beats: readonly HeartbeatBeatRequest[]) => beats.map((b) => this.beat(keyOf(b.key), b.at, b.settings)));
  }

  beatHeartbeat(key: HeartbeatKey, at: number, settings: Partial<HeartbeatSettings>): HeartbeatBeat | undefined {
    return this.beat(keyOf(key), at, settings);
  }

  /** Several beats in one transaction, in order; what each came to. */
  beatAll(beats: readonly HeartbeatBeatRequest[]): (HeartbeatBeat | undefined)[] {
    return this.beatMany(beats);
  }

  heartbeats(scope?: Scope): StoredHeartbeat[] {
    const rows = (scope ? this.ofScope.all(scope.domain, scope.project) : this.all.all()) as HeartbeatRow[];
    return rows.map(heartbeatOfRow);
  }

  dueHeartbeats(now: number, graceFrom: number, limit: number): StoredHeartbeat[] {
    return (this.due.all({ now, graceFrom, limit }) as HeartbeatRow[]).map(heartbeatOfRow);
  }

  markHeartbeatRaised(key: HeartbeatKey, lastBeat: number): boolean {
    return this.mark.run({ ...keyOf(key), lastBeat }).changes === 1;
  }

  deleteHeartbeat(key: HeartbeatKey): StoredHeartbeat | undefined {
    const row = this.remove.get(keyOf(key)) as HeartbeatRow | undefined;
    return row && heartbeatOfRow(row);
  }
}

/** Only the key's own properties: better-sqlite3 refuses named parameters a statement lacks. */
function keyOf(k: HeartbeatKey): HeartbeatKey {
  return { domain: k.domain, project: k.project, name: k.name };
}
