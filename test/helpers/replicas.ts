/**
 * Replicas of Alarm Center on one PostgreSQL database, for the integration tests: in-process
 * servers and child processes of the built command, all stopped after each test, and what the
 * database says about them (which session holds a lease).
 */
import pg from 'pg';
import { startServer, type RunningServer } from '../../src/root.js';
import type { Config } from '../../src/config.js';
import { binGroup, type Bin, type LogLine } from './bin.js';

/** The first key of every lease's advisory lock, as src/alarm/postgres-lease.ts takes them ('AL'). */
const LEASE_SPACE = 0x414c;

/** What a test group running replicas has; everything it starts is stopped after each test. */
export interface ReplicaGroup {
  /** An in-process replica on the database of `postgresUrl`, on a free loopback port. */
  start(postgresUrl: string, settings?: Partial<Config>): Promise<RunningServer>;
  /** A replica as a child process of the built command, on a free loopback port, set up from the environment as the README shows. */
  spawn(postgresUrl: string): Bin;
}

/**
 * Mocha hooks for the enclosing describe: the command is built once; after each test the
 * in-process replicas are closed and the child processes still running are killed.
 */
export function replicaGroup(): ReplicaGroup {
  const bins = binGroup('replicas');
  const servers: RunningServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close().catch(() => undefined)));
  });
  return {
    async start(postgresUrl, settings = {}) {
      const server = await startServer({ port: 0, store: 'postgres', postgresUrl, ...settings });
      servers.push(server);
      return server;
    },
    spawn(postgresUrl) {
      return bins.run(['--port', '0', '--log-format', 'json'], { ALARM_CENTER_STORE: 'postgres', ALARM_CENTER_POSTGRES_URL: postgresUrl });
    },
  };
}

/** The log line of a replica that took the lease `name`. */
export const tookLease = (name: string) => (line: LogLine) => line.message === 'lease taken' && line.lease === name;

/**
 * The server process ids (`pg_backend_pid`) of the sessions holding the lease `name` on the
 * database of `url`, as `pg_locks` shows them: at most one while the lease works.
 */
export async function leaseHolders(url: string, name: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = $1::int::oid AND objid = hashtext($2)::oid`,
      [LEASE_SPACE, name],
    );
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}
