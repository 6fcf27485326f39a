/**
 * The data folder's lock: one Alarm Center at a time uses a data folder.
 *
 * - The lock is SQLite's own lock on a small database in the folder, `alarm-center.lock`, that
 *   holds nothing: the holder keeps a write transaction open on it for as long as it holds the
 *   folder (a RESERVED lock). No other connection can take that lock, in another process or in
 *   this one (SQLite's unix VFS arbitrates between the connections of one process itself), and
 *   an opener fails at once rather than wait. The kernel drops the lock with the process, so a
 *   crash or a SIGKILL leaves no stale lock behind.
 * - Who holds it is published once the lock is taken, in `alarm-center.lock.owner` (JSON,
 *   replaced whole by a rename), and removed just before it is released. A refused opener reads
 *   it on a best-effort basis: it may be missing, or, for the instant between a new holder
 *   taking the lock and publishing itself, still name a holder that crashed.
 * - Nothing in the process may open the lock file but SQLite: closing any other descriptor of it
 *   would drop the process's POSIX locks on it, and with them the lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './store.js';

/** The lock database's name in the data folder. */
export const LOCK_FILE = 'alarm-center.lock';
/** The name of the file saying who holds the lock. */
export const OWNER_FILE = `${LOCK_FILE}.owner`;
/** The `backendCode` of the error refusing a data folder another Alarm Center holds. */
export const DATA_DIR_IN_USE = 'DATA_DIR_IN_USE';

/** The holder of a data folder, as it published itself. */
export interface DataLockOwner {
  pid: number;
  host: string;
  /** When it took the lock (ISO 8601). */
  since: string;
  /** The folder's full path. */
  dir: string;
}

/** The holder published in the folder, or undefined when there is none that can be read. */
function readOwner(dir: string): DataLockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Partial<DataLockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string' || typeof owner.since !== 'string') return undefined;
    return owner as DataLockOwner;
  } catch {
    return undefined;
  }
}

/** The error refusing a folder in use, in one sentence naming the folder and its holder. */
function inUse(dir: string, cause: unknown): StoreError {
  const owner = readOwner(dir);
  const holder = owner ? `process ${owner.pid} on host ${owner.host}, since ${owner.since}` : 'process unknown';
  return new StoreError(
    `the data folder ${dir} is in use by another Alarm Center (${holder}); stop it or choose another --data-dir`,
    { cause, backendCode: DATA_DIR_IN_USE },
  );
}

/** A data folder held by this process until `release()` or the process's end. */
export class DataLock {
  /** Who holds the folder: this process. */
  readonly owner: DataLockOwner;
  private readonly db: Database.Database;

  private constructor(db: Database.Database, owner: DataLockOwner) {
    this.db = db;
    this.owner = owner;
  }

  /**
   * Takes the lock of `dir`, an existing folder, without waiting. Throws a StoreError with
   * `backendCode` DATA_DIR_IN_USE when another holds it, and SQLite's or the file system's error
   * when the lock file cannot be opened.
   */
  static acquire(dir: string): DataLock {
    const full = path.resolve(dir);
    const db = new Database(path.join(full, LOCK_FILE));
    try {
      db.pragma('busy_timeout = 0');
      db.pragma('journal_mode = DELETE');
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      db.close();
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) throw inUse(full, err);
      throw err;
    }
    const owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), dir: full };
    try {
      const file = path.join(full, OWNER_FILE);
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(owner)}\n`);
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // Only the message of a refused opener loses by it: it says "process unknown".
    }
    return new DataLock(db, owner);
  }

  /** Releases the folder; a second call does nothing. */
  release(): void {
    if (!this.db.open) return;
    try {
      // Removed while still held: once released, the file may be the next holder's.
      fs.rmSync(path.join(this.owner.dir, OWNER_FILE), { force: true });
    } finally {
      this.db.close();
    }
  }
}
