import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import Database from 'better-sqlite3';
import { DataLock, LOCK_FILE } from './data-lock.js';
import { StoreError } from './store.js';

/** SQLite's codes for a database it cannot open or write at all, as opposed to one that failed while in use. */
const UNOPENABLE = /^SQLITE_(CANTOPEN|NOTADB|READONLY|PERM)/;

/** The operating system's words for an errno code ("not a directory", "permission denied"). */
function reasonOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return undefined;
  // libuv says "illegal operation on a directory", which reads as if something had been attempted.
  if (code === 'EISDIR') return 'is a directory';
  for (const [name, text] of util.getSystemErrorMap().values()) if (name === code) return text;
  return undefined;
}

/**
 * Why SQLite could not open the database, found by trying what it needs with the file system,
 * whose errors say what SQLite's "unable to open database file" does not: the folder is a file,
 * the database is a folder, the file or the folder (where the WAL is created) may not be written.
 */
function diagnose(file: string): string | undefined {
  const dir = path.dirname(file);
  try {
    if (!fs.statSync(dir).isDirectory()) return reasonOf({ code: 'ENOTDIR' });
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return reasonOf({ code: 'EISDIR' });
    if (stat) fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    return reasonOf(err);
  }
  return undefined;
}

/**
 * The error for a database that cannot be opened: `cannot open the database <full path>: <reason>`,
 * the reason in the file system's words when it has some; undefined for any other failure.
 */
export function openFailure(file: string, err: unknown): StoreError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  const errno = typeof code === 'string' && !code.startsWith('SQLITE_');
  if (!errno && !(typeof code === 'string' && UNOPENABLE.test(code))) return undefined;
  const full = path.resolve(file);
  const reason = diagnose(full) ?? reasonOf(err) ?? (err instanceof Error ? err.message : String(err));
  return new StoreError(`cannot open the database ${full}: ${reason}`, { cause: err, backendCode: code });
}

/**
 * The error for a folder lock that cannot be taken for a reason other than its holder: it names
 * the database when the folder is at fault, the lock file otherwise.
 */
function lockFailure(file: string, err: unknown): StoreError | undefined {
  if (diagnose(path.resolve(file)) !== undefined) return openFailure(file, err);
  return openFailure(path.join(path.dirname(file), LOCK_FILE), err);
}

/** An open database, and for a file the lock of its folder, which its closer releases after it. */
export interface OpenedDatabase {
  db: Database.Database;
  lock: DataLock | undefined;
}

/**
 * Opens (creating when missing) the database file and its folder, once it holds the folder's lock
 * (see DataLock) so that nothing touches a database another Alarm Center uses. A failure names
 * the path and the reason, or the folder and its holder, and leaves the folder unlocked.
 */
export function openDatabase(file: string): OpenedDatabase {
  const inFolder = file !== ':memory:';
  try {
    if (inFolder) fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    throw openFailure(file, err) ?? err;
  }
  let lock: DataLock | undefined;
  try {
    if (inFolder) lock = DataLock.acquire(path.dirname(file));
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw lockFailure(file, err) ?? err;
  }
  try {
    return { db: new Database(file), lock };
  } catch (err) {
    lock?.release();
    throw openFailure(file, err) ?? err;
  }
}
