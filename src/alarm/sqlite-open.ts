import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import Database from 'better-sqlite3';
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

/** Opens (creating when missing) the database file and its folder; a failure names the path and the reason. */
export function openDatabase(file: string): Database.Database {
  try {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    return new Database(file);
  } catch (err) {
    throw openFailure(file, err) ?? err;
  }
}
