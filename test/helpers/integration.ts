/**
 * Shared by the HTTP integration tests: the error-body contract, polling with a deadline,
 * temporary data folders, and ways to make the store fail or wait on purpose.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn, setTimeout as pause } from 'node:timers/promises';
import { expect } from 'chai';
import type { Response } from 'supertest';
import type { AlarmChange } from '../../src/alarm/model.js';
import type { SqliteStore } from '../../src/alarm/sqlite-store.js';
import { ERROR_CATALOG, type ErrorCode } from '../../src/errors.js';
import { startServer, type Core, type RunningServer } from '../../src/root.js';

/**
 * Asserts service-center's error form: the status is the code divided by 1000, `errorCode` is a
 * JSON string of six digits, `errorMessage` is the catalog's, and `detail` (left out when empty)
 * matches `detail` when given.
 */
export function expectError(res: Response, code: ErrorCode, detail?: RegExp | string): void {
  expect(res.status, `status of ${res.text}`).to.equal(Math.floor(Number(code) / 1000));
  expect(res.headers['content-type']).to.match(/^application\/json/);
  expect(res.text, 'errorCode is a JSON string of six digits').to.match(/"errorCode":"\d{6}"/);
  expect(res.body.errorCode).to.equal(code);
  expect(res.body.errorMessage).to.equal(ERROR_CATALOG[code]);
  expect(Object.keys(res.body).filter((k) => !['errorCode', 'errorMessage', 'detail'].includes(k))).to.deep.equal([]);
  if ('detail' in res.body) expect(res.body.detail, 'an empty detail is left out').to.be.a('string').with.length.above(0);
  if (detail === undefined) return;
  expect(res.body).to.have.property('detail');
  if (typeof detail === 'string') expect(res.body.detail).to.equal(detail);
  else expect(res.body.detail).to.match(detail);
}

/**
 * Calls `probe` until it returns a truthy value, and returns it; fails after `timeoutMs`. Between
 * two calls it waits a turn of the event loop, or `pauseMs` for a probe that waits on another
 * process for seconds (a poll every turn would take a core from it).
 */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 5000, pauseMs = 0): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await (pauseMs > 0 ? pause(pauseMs) : nextTurn());
  }
}

/** A fresh, empty folder under the system's temporary folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `alarm-center-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs the enclosing describe's tests on a server whose store is a file in a fresh folder (what
 * `fillStore` needs), in place of the file's own server: `server` reads and replaces that one.
 */
export function onFileStore(name: string, server: { get(): RunningServer; set(next: RunningServer): void }): void {
  let dir: string;

  beforeEach(async () => {
    await server.get().close();
    dir = tempDir(name);
    server.set(await startServer({ port: 0, dataDir: dir }));
  });

  afterEach(async () => {
    await server.get().close();
    removeDir(dir);
  });
}

/**
 * Fills a file-backed store as a full disk would: the database may not grow past its current
 * size, and its tables' free bytes are used up by the smallest possible alarms (scope f/f), so
 * every later commit fails with SQLITE_FULL. Returns a function that lets the database grow again.
 */
export async function fillStore({ center, parts }: Core): Promise<() => void> {
  const db = (parts.store as SqliteStore).db;
  const limit = db.pragma('max_page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const scope = { domain: 'f', project: 'f' };
  const raiseUntilFull = async (next: (i: number) => string) => {
    for (let i = 0; i < 10_000; i += 1) {
      try {
        await center.raise(scope, { id: next(i) });
      } catch {
        return;
      }
    }
    throw new Error('the store never filled up');
  };
  // New alarms fill the alarms table (or the history), re-raises fill what is left of the history.
  await raiseUntilFull((i) => `f${i}`);
  await raiseUntilFull(() => 'f0');
  expect(parts.subscriber.storeFailure?.error.message).to.equal('database or disk is full');
  return () => {
    db.pragma(`max_page_count = ${limit}`);
  };
}

/** The store's commits, held until `release()`: lets a test fill the bus queue deterministically. */
export interface HeldCommits {
  /** Resolves once the dispatcher is inside a held commit. */
  readonly entered: Promise<void>;
  /** Lets held and later commits through. */
  release(): void;
}

export function holdCommits({ parts }: Core): HeldCommits {
  const store = parts.store;
  const commit = store.commit.bind(store);
  const pipelined = store.commitPipelined?.bind(store);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let signal!: () => void;
  const entered = new Promise<void>((resolve) => {
    signal = resolve;
  });
  store.commit = async (changes: readonly AlarmChange[]) => {
    signal();
    await gate;
    return commit(changes);
  };
  if (pipelined) {
    store.commitPipelined = async (changes: readonly AlarmChange[]) => {
      signal();
      await gate;
      return pipelined(changes);
    };
  }
  return {
    entered,
    release() {
      store.commit = commit;
      if (pipelined) store.commitPipelined = pipelined;
      open();
    },
  };
}
