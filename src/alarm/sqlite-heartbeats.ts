/**
 * The SQLite store's heartbeats table (migrations/007_heartbeats.sql): each call runs at once on
 * the store's one connection, so a beat and the judge's mark never interleave.
 * SqliteStore delegates its heartbeat methods here.
 *
 * Most beats are plain: a heartbeat this store knows, not marked raised, beaten without settings.
 * A transaction costs such a beat several times the rest of its work (a dozen system calls: the
 * WAL's locks and three pages), so plain beats are not written to the table at once but appended
 * to the beat journal (the database's file name plus `-beats`): one append to a file the
 * operating system holds, so that an answered beat survives a crash of the process as a commit
 * with `synchronous=NORMAL` does. The journal's beats are folded into the table in one transaction
 * before anything else reads or writes heartbeats (the judge does every tick) and when the store
 * closes, and replayed at the next open after a crash; folding a beat again changes nothing. An
 * in-memory database keeps its journal in memory. The answer to a plain beat is the heartbeat as
 * stored, from what the table and the journal hold together.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { DEFAULT_HEARTBEAT_SEVERITY, heartbeatOfRow, type HeartbeatRow } from './heartbeat-rows.js';
import type { Scope } from './model.js';
import type { HeartbeatBeat, HeartbeatKey, HeartbeatSettings, StoredHeartbeat } from './store.js';

const KEY = 'domain = @domain AND project = @project AND name = @name';

/** Most heartbeats with beats in the journal; the next beat past it folds them first. */
const MAX_JOURNALED = 4096;

/** One beat to write: which heartbeat, when, and the settings it brings. */
export interface HeartbeatBeatRequest {
  key: HeartbeatKey;
  at: number;
  settings: Partial<HeartbeatSettings>;
}

const keyText = (k: HeartbeatKey): string => `${k.domain}\u0000${k.project}\u0000${k.name}`;

const isPlain = (s: Partial<HeartbeatSettings>): boolean => s.timeoutMs === undefined && s.severity === undefined && s.fieldsJson === undefined;

/** A journaled beat: which heartbeat, and when. */
type Journaled = HeartbeatKey & { lastBeat: number };

/** A journal line's beat, or undefined for a line that is not one (a torn end). */
function journaled(line: string): Journaled | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (!Array.isArray(v) || v.length !== 4 || !v.slice(0, 3).every((x) => typeof x === 'string') || typeof v[3] !== 'number') return undefined;
    return { domain: v[0] as string, project: v[1] as string, name: v[2] as string, lastBeat: v[3] };
  } catch {
    return undefined;
  }
}

/** The heartbeat statements of one SQLite database, and its beat journal. */
export class SqliteHeartbeats {
  private readonly all: Database.Statement;
  private readonly ofScope: Database.Statement;
  private readonly due: Database.Statement;
  private readonly mark: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly beatMany: (beats: readonly HeartbeatBeatRequest[]) => (HeartbeatBeat | undefined)[];
  private readonly foldMany: (beats: Iterable<Journaled>) => void;
  /** The journal's file; none for an in-memory database. */
  private readonly journalFile: string | undefined;
  /**
   * Heartbeats as the table and the journal hold them, for those written here since they were
   * last marked. Updated in place, never handed out: a beat allocates nothing that outlives it.
   */
  private readonly known = new Map<string, StoredHeartbeat>();
  /** The heartbeats whose last beat is in the journal, not in the table yet (entries of `known`). */
  private readonly journal = new Map<string, Journaled>();
  /** Grows at each write to the table: the store counts them as commits for the WAL's checkpoints. */
  writes = 0;

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
    // A plain beat, by position (named values cost an object and a lookup each); a journaled one
    // folded again, or after a later beat, changes nothing.
    const plain = db.prepare('UPDATE heartbeats SET last_beat = ?, deadline = ? + timeout_ms WHERE domain = ? AND project = ? AND name = ? AND raised = 0 AND last_beat <= ? RETURNING *');
    const raisedOf = db.prepare(`SELECT raised FROM heartbeats WHERE ${KEY}`);
    const beat = (key: HeartbeatKey, at: number, s: Partial<HeartbeatSettings>): HeartbeatBeat | undefined => {
      if (isPlain(s)) {
        const row = plain.get(at, at, key.domain, key.project, key.name, at) as HeartbeatRow | undefined;
        if (row) return { heartbeat: heartbeatOfRow(row), wasRaised: false, created: false };
      }
      const k = { domain: key.domain, project: key.project, name: key.name };
      const before = raisedOf.get(k) as { raised: number } | undefined;
      const values = { ...k, at, timeoutMs: s.timeoutMs ?? null, severity: s.severity ?? null, fields: s.fieldsJson ?? null };
      let after: HeartbeatRow;
      if (before) after = update.get(values) as HeartbeatRow;
      else if (s.timeoutMs !== undefined) after = insert.get({ ...values, severity: s.severity ?? DEFAULT_HEARTBEAT_SEVERITY, fields: s.fieldsJson ?? '{}' }) as HeartbeatRow;
      else return undefined;
      return { heartbeat: heartbeatOfRow(after), wasRaised: before?.raised === 1, created: before === undefined };
    };
    this.beatMany = db.transaction((beats: readonly HeartbeatBeatRequest[]) => beats.map((b) => beat(b.key, b.at, b.settings)));
    this.foldMany = db.transaction((beats: Iterable<Journaled>) => {
      for (const b of beats) plain.run(b.lastBeat, b.lastBeat, b.domain, b.project, b.name, b.lastBeat);
    });
    this.journalFile = db.memory ? undefined : `${db.name}-beats`;
    this.replay();
  }

  beatHeartbeat(key: HeartbeatKey, at: number, settings: Partial<HeartbeatSettings>): HeartbeatBeat | undefined {
    return this.beatAll([{ key, at, settings }])[0];
  }

  /**
   * Several beats, in order; what each came to. When every one is plain they are journaled in
   * one write; otherwise the journal is folded and they are written in one transaction.
   */
  beatAll(beats: readonly HeartbeatBeatRequest[]): (HeartbeatBeat | undefined)[] {
    if (this.journal.size >= MAX_JOURNALED) this.fold();
    const last = new Map<string, number>();
    const out: HeartbeatBeat[] = [];
    for (const b of beats) {
      const k = keyText(b.key);
      const h = this.known.get(k);
      if (!h || h.raised || b.at < (last.get(k) ?? h.lastBeat) || !isPlain(b.settings)) return this.beatInTable(beats);
      last.set(k, b.at);
      out.push({ heartbeat: { ...h, lastBeat: b.at, deadline: b.at + h.timeoutMs }, wasRaised: false, created: false });
    }
    this.append(beats);
    for (const [k, at] of last) {
      const h = this.known.get(k) as StoredHeartbeat;
      h.lastBeat = at;
      h.deadline = at + h.timeoutMs;
      this.journal.set(k, h);
    }
    return out;
  }

  heartbeats(scope?: Scope): StoredHeartbeat[] {
    this.fold();
    const rows = (scope ? this.ofScope.all(scope.domain, scope.project) : this.all.all()) as HeartbeatRow[];
    return rows.map(heartbeatOfRow);
  }

  dueHeartbeats(now: number, graceFrom: number, limit: number): StoredHeartbeat[] {
    this.fold();
    return (this.due.all({ now, graceFrom, limit }) as HeartbeatRow[]).map(heartbeatOfRow);
  }

  markHeartbeatRaised(key: HeartbeatKey, lastBeat: number): boolean {
    this.fold();
    const marked = this.mark.run({ domain: key.domain, project: key.project, name: key.name, lastBeat }).changes === 1;
    if (marked) {
      this.writes += 1;
      this.known.delete(keyText(key));
    }
    return marked;
  }

  deleteHeartbeat(key: HeartbeatKey): StoredHeartbeat | undefined {
    this.fold();
    const row = this.remove.get({ domain: key.domain, project: key.project, name: key.name }) as HeartbeatRow | undefined;
    this.known.delete(keyText(key));
    if (!row) return undefined;
    this.writes += 1;
    return heartbeatOfRow(row);
  }

  /** Beats written to the table in one transaction, the journal folded first; what each came to. */
  private beatInTable(beats: readonly HeartbeatBeatRequest[]): (HeartbeatBeat | undefined)[] {
    this.fold();
    let beaten: (HeartbeatBeat | undefined)[];
    try {
      beaten = this.beatMany(beats);
    } catch (err) {
      this.known.clear();
      throw err;
    }
    for (const b of beaten) if (b) this.known.set(keyText(b.heartbeat), { ...b.heartbeat });
    if (beaten.some((b) => b !== undefined)) this.writes += 1;
    return beaten;
  }

  /**
   * Appends plain beats to the journal file in one write; an in-memory database has none to write.
   * Each line starts with its newline, so the end of a write that failed halfway is a line of its own.
   */
  private append(beats: readonly HeartbeatBeatRequest[]): void {
    if (this.journalFile === undefined) return;
    let text = '';
    for (const b of beats) text += `\n${JSON.stringify([b.key.domain, b.key.project, b.key.name, b.at])}`;
    fs.appendFileSync(this.journalFile, text);
  }

  /** Writes the journal's beats to the table (the store closes): nothing is left for the next open. */
  flush(): void {
    this.fold();
  }

  /** Writes the journal's beats to the table in one transaction, then empties the journal. */
  private fold(): void {
    if (this.journal.size === 0) return;
    this.foldMany(this.journal.values());
    this.writes += 1;
    this.journal.clear();
    if (this.journalFile !== undefined) fs.rmSync(this.journalFile, { force: true });
  }

  /** Folds the beats a journal file left by a crash holds, then removes it. */
  private replay(): void {
    if (this.journalFile === undefined) return;
    let text: string;
    try {
      text = fs.readFileSync(this.journalFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const line of text.split('\n')) {
      const b = journaled(line);
      if (b) this.journal.set(keyText(b), b);
    }
    this.fold();
    fs.rmSync(this.journalFile, { force: true });
  }
}
