/**
 * What only the PostgreSQL store does: migrations shared by replicas, a server that goes away and
 * comes back, the commit listener's and the leases' own connections, and URLs shown without their
 * password. The AlarmStore contract itself is store-contract.test.ts.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import pg from 'pg';
import type { Alarm, AlarmChange } from '../../../src/alarm/model.js';
import { DEFAULT_POSTGRES_MIGRATIONS_DIR, PostgresStore, redactUrl, type PostgresStoreOptions } from '../../../src/alarm/postgres-store.js';
import { commitValues } from '../../../src/alarm/postgres-sql.js';
import { readMigrations } from '../../../src/alarm/sqlite-migrations.js';
import { StoreError, type ExpiryExtension, type Lease } from '../../../src/alarm/store.js';
import { createLogger } from '../../../src/logger.js';
import { waitFor } from '../../helpers/integration.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { rejection } from '../../helpers/promises.js';
import { storedAlarm as alarm } from '../../helpers/store.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

function change(a: Alarm, action: AlarmChange['action'] = 'raise', removed = false): AlarmChange {
  return { action, alarm: a, removed, at: a.updatedAt };
}

/** The extension moving the expiry of `a`, as it is at its revision, to `expiresAt`. */
function extension(a: Alarm, expiresAt: number): ExpiryExtension {
  return { domain: a.domain, project: a.project, id: a.id, source: a.source, revision: a.revision, expiresAt };
}

/** A TCP proxy in front of the server, to take it away and bring it back. */
class Outage {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;

  private constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  static async before(target: number): Promise<Outage> {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const outage = new Outage(port, target);
    await outage.end();
    return outage;
  }

  /** The server is away: connections are cut and new ones refused. */
  async begin(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** The server is back. */
  async end(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }
}

describe('PostgresStore', () => {
  const opened: { close(): Promise<void> }[] = [];
  let url: string;
  let admin: pg.Client;

  async function open(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    const store = await PostgresStore.open({ url, leaseRetryMs: 50, reconnectMaxMs: 200, ...options });
    opened.push(store);
    return store;
  }

  /** The server's sessions of the test's database opened under `name` (application_name). */
  async function backends(name: string): Promise<{ pid: number; query: string }[]> {
    const { rows } = await admin.query<{ pid: number; query: string }>(
      'SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [new URL(url).pathname.slice(1), name],
    );
    return rows;
  }

  /** Ends the sessions opened under `name`, as a lost connection or a dead replica would. */
  async function kill(name: string): Promise<void> {
    const pids = (await backends(name)).map((b) => b.pid);
    expect(pids, `sessions of ${name}`).to.not.deep.equal([]);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  }

  beforeEach(async function () {
    url = await freshDatabase(this);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });

  afterEach(async () => {
    for (const s of opened.splice(0).reverse()) await s.close().catch(() => undefined);
    await admin?.end();
  });

  describe('.open', () => {
    const known = readMigrations(DEFAULT_POSTGRES_MIGRATIONS_DIR);

    const recorded = async () =>
      (await admin.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows.map((r) => [
        r.version,
        r.name,
      ]);

    it('applies the migrations and records each in schema_migrations', async () => {
      await open();

      expect(await recorded()).to.deep.equal(known.map((m) => [m.version, m.name]));
      const { rows } = await admin.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
      expect(rows.map((r) => r.tablename)).to.include.members(['alarms', 'history', 'meta', 'schema_migrations']);
    });

    it('applies each migration once when several replicas open the database together', async () => {
      const stores = await Promise.all([open(), open(), open(), open(), open()]);

      expect(await recorded()).to.deep.equal(known.map((m) => [m.version, m.name]));
      await (stores[0] as PostgresStore).commit([change(alarm('A', 1))]);
      for (const s of stores) expect((await s.load()).alarms.map((a) => a.id)).to.deep.equal(['A']);
    });

    it('applies only the migrations the database lacks, in order, and none again', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-pg-migrations-'));
      try {
        for (const m of known) fs.writeFileSync(path.join(dir, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), m.sql);
        await (await open({ migrationsDir: dir })).close();
        const next = known.length + 1;
        fs.writeFileSync(path.join(dir, `${String(next).padStart(3, '0')}_notes.sql`), 'CREATE TABLE notes (text text NOT NULL);');

        await open({ migrationsDir: dir });
        await open({ migrationsDir: dir });

        expect(await recorded()).to.deep.equal([...known.map((m) => [m.version, m.name]), [next, 'notes']]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a database whose schema is newer, naming both versions, and changes nothing', async () => {
      const first = await open();
      await first.commit([change(alarm('A', 1))]);
      await admin.query("INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')", [known.length + 1]);
      const before = await recorded();

      const err = await rejection(open());

      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).message).to.equal(
        `the database schema is at version ${known.length + 1}, newer than this Alarm Center (${known.length}); upgrade Alarm Center`,
      );
      expect((err as StoreError).backendCode).to.equal('SCHEMA_TOO_NEW');
      expect(await recorded()).to.deep.equal(before);
      expect((await first.load()).alarms.map((a) => a.id)).to.deep.equal(['A']);
    });

    it('names the cause when the server cannot be reached, and never the password', async () => {
      const outage = await Outage.before(Number(new URL(url).port));
      await outage.begin();
      const unreachable = `postgres://alarms:Hunter2%2Fsecret@127.0.0.1:${outage.port}/alarms`;

      const err = await rejection(PostgresStore.open({ url: unreachable, connectTimeoutMs: 2000 }));

      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).backendCode).to.equal('ECONNREFUSED');
      expect((err as StoreError).message).to.equal(
        `cannot open the PostgreSQL database postgres://alarms:***@127.0.0.1:${outage.port}/alarms: connect ECONNREFUSED 127.0.0.1:${outage.port}`,
      );
      expect(JSON.stringify(err) + String((err as Error).stack)).to.not.match(/Hunter2/i);
    });
  });

  describe('#checkpoint', () => {
    const tableRows = async () =>
      (await admin.query<{ id: string; revision: number; count: number; status: string }>('SELECT id, revision::integer, count::integer, status FROM alarms ORDER BY id')).rows;
    const checkpointOf = async () => Number((await admin.query<{ value: string }>("SELECT value FROM meta WHERE key = 'checkpoint'")).rows[0]?.value);
    const loaded = async (store: PostgresStore) => {
      const snapshot = await store.load();
      return { revision: snapshot.revision, alarms: Object.fromEntries(snapshot.alarms.map((a) => [a.id, [a.revision, a.count, a.status]])) };
    };

    it('leaves the alarms table alone on commit: the history is the record until a checkpoint', async () => {
      const store = await open();
      await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);

      expect(await tableRows()).to.deep.equal([]);
      expect(await checkpointOf()).to.equal(0);
      expect(await loaded(store)).to.deep.equal({ revision: 2, alarms: { A: [1, 1, 'ACTIVATED'], B: [2, 1, 'ACTIVATED'] } });
    });

    it('brings the alarms table to the last state of each alarm: removed, raised again, raised and removed', async () => {
      const store = await open();
      await store.commit([change(alarm('A', 1)), change(alarm('C', 2)), change(alarm('D', 3))]);
      await store.checkpoint();
      expect((await tableRows()).map((r) => r.id)).to.deep.equal(['A', 'C', 'D']);
      await store.commit([change(alarm('A', 4), 'clear-all', true), change(alarm('C', 5), 'clear-all', true)]);
      await store.commit([change(alarm('A', 6, { raisedAt: 3000, updatedAt: 3000 })), change(alarm('B', 7))]);
      await store.commit([change(alarm('B', 8, { status: 'CLEARED', clearedAt: 3500 }), 'purge', true)]);
      await store.commit([change(alarm('D', 9, { count: 2 }), 'reraise'), change(alarm('D', 10, { count: 3 }), 'reraise')]);

      await store.checkpoint();

      expect(await tableRows()).to.deep.equal([
        { id: 'A', revision: 6, count: 1, status: 'ACTIVATED' },
        { id: 'D', revision: 10, count: 3, status: 'ACTIVATED' },
      ]);
      expect(await checkpointOf()).to.equal(10);
    });

    it('serves the same state from a checkpoint plus the history after it to a replica starting while the writer runs', async () => {
      const writer = await open();
      await writer.commit([change(alarm('A', 1)), change(alarm('B', 2)), change(alarm('C', 3))]);
      await writer.checkpoint();
      await writer.commit([change(alarm('A', 4), 'clear-all', true), change(alarm('C', 5, { count: 2 }), 'reraise')]);
      await writer.commit([change(alarm('A', 6, { raisedAt: 3000, updatedAt: 3000 }))]);
      expect(await checkpointOf()).to.equal(3);

      const other = await open();

      expect(await loaded(other)).to.deep.equal({ revision: 6, alarms: { A: [6, 1, 'ACTIVATED'], B: [2, 1, 'ACTIVATED'], C: [5, 2, 'ACTIVATED'] } });
    });

    describe('of expiry extensions', () => {
      const extensionRows = async () =>
        (await admin.query<{ id: string; revision: number; expires_at: number }>('SELECT id, revision::integer, expires_at::bigint::float8 AS expires_at FROM expiry_extensions ORDER BY id')).rows;

      it('deletes the extensions a later change or a removal made stale, and keeps those still applying', async () => {
        const store = await open({ checkpointEvery: 1_000_000 });
        const [a, b, c] = ['A', 'B', 'C'].map((id, i) => alarm(id, i + 1, { expiresAt: 5000 })) as [Alarm, Alarm, Alarm];
        await store.commit([change(a), change(b), change(c)], [extension(a, 9000), extension(b, 9000), extension(c, 9000)]);
        await store.commit([change(alarm('A', 4, { count: 2, expiresAt: 7000 }), 'reraise'), change(alarm('B', 5), 'clear-all', true)]);
        expect((await extensionRows()).map((r) => r.id), 'all kept until a checkpoint').to.deep.equal(['A', 'B', 'C']);

        await store.checkpoint();

        expect(await checkpointOf()).to.equal(5);
        expect(await extensionRows()).to.deep.equal([{ id: 'C', revision: 3, expires_at: 9000 }]);
        const snapshot = await (await open()).load();
        expect(Object.fromEntries(snapshot.alarms.map((x) => [x.id, [x.revision, x.expiresAt]]))).to.deep.equal({ A: [4, 7000], C: [3, 9000] });
      });

      it('keeps an extension of a revision past the checkpoint, which the alarms table cannot show yet', async () => {
        const behind = await open({ checkpointEvery: 1_000_000 });
        const ahead = await open({ checkpointEvery: 1_000_000 });
        await behind.commit([change(alarm('A', 1)), change(alarm('B', 2, { expiresAt: 5000 }))]);
        await ahead.load();
        const reraised = alarm('B', 3, { count: 2, expiresAt: 6000 });
        await ahead.commit([change(reraised, 'reraise')], [extension(reraised, 9000)]);

        // The checkpoint goes as far as the store that runs it has seen: revision 2.
        await behind.checkpoint();

        expect(await checkpointOf()).to.equal(2);
        expect(await extensionRows()).to.deep.equal([{ id: 'B', revision: 3, expires_at: 9000 }]);
        expect((await behind.load()).alarms.find((x) => x.id === 'B')).to.deep.include({ revision: 3, expiresAt: 9000 });
        await ahead.checkpoint();
        expect(await extensionRows(), 'and once the checkpoint passes it').to.deep.equal([{ id: 'B', revision: 3, expires_at: 9000 }]);
      });
    });

    it('starts by itself once checkpointEvery rows accumulated, after a commit', async () => {
      const store = await open({ checkpointEvery: 3 });
      await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);
      expect(await checkpointOf()).to.equal(0);

      await store.commit([change(alarm('C', 3))]);

      await waitFor('the checkpoint at revision 3', async () => (await checkpointOf()) === 3 || undefined);
      expect((await tableRows()).map((r) => r.id)).to.deep.equal(['A', 'B', 'C']);
    });

    it('takes a checkpoint under way on to the revision of a later call, which resolves only once it is reached', async () => {
      const store = await open();
      await store.commit([change(alarm('A', 1))]);
      const first = store.checkpoint();
      await store.commit([change(alarm('B', 2)), change(alarm('C', 3))]);

      await store.checkpoint();

      expect(await checkpointOf()).to.equal(3);
      await first;
      expect((await tableRows()).map((r) => r.id)).to.deep.equal(['A', 'B', 'C']);
    });

    it('lets replicas checkpoint at once: each alarm written once, the checkpoint at the last revision', async () => {
      const stores = await Promise.all([open(), open(), open()]);
      const changes = Array.from({ length: 3000 }, (_, i) => change(alarm(`A${i % 1000}`, i + 1, { count: Math.floor(i / 1000) + 1 }), i < 1000 ? 'raise' : 'reraise'));
      await (stores[0] as PostgresStore).commit(changes);
      for (const s of stores) await s.load();

      await Promise.all(stores.map((s) => s.checkpoint()));
      await stores[0]?.checkpoint();

      expect(await checkpointOf()).to.equal(3000);
      const rows = await tableRows();
      expect(rows).to.have.length(1000);
      expect(rows.every((r) => r.count === 3 && r.revision > 2000)).to.equal(true);
    });

    it('takes over a database of the previous schema, whose alarms table was kept current by each commit', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-pg-migrations-'));
      try {
        for (const m of readMigrations(DEFAULT_POSTGRES_MIGRATIONS_DIR).filter((m) => m.version <= 2)) {
          fs.writeFileSync(path.join(dir, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), m.sql);
        }
        const before = await open({ migrationsDir: dir });
        await before.close();
        // Committed as the previous version commits: through migration 002's function, without the columns of later ones.
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        for (const [changes, expected] of [[[change(alarm('A', 1)), change(alarm('B', 2))], 0], [[change(alarm('A', 3), 'clear-all', true)], 2]] as const) {
          const values = commitValues(changes, expected, expected + changes.length).slice(0, 22);
          await client.query(`SELECT alarm_center_commit(${values.map((_, i) => `$${i + 1}`).join(', ')})`, values);
        }
        await client.end();
        expect((await tableRows()).map((r) => r.id)).to.deep.equal(['B']);

        const after = await open();
        expect(await checkpointOf()).to.equal(3);
        await after.commit([change(alarm('C', 4))]);

        expect(await loaded(after)).to.deep.equal({ revision: 4, alarms: { B: [2, 1, 'ACTIVATED'], C: [4, 1, 'ACTIVATED'] } });
        expect(await loaded(await open())).to.deep.equal(await loaded(after));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('when the server goes away', () => {
    it('rejects commits and pings with a StoreError naming the cause, and works again once it is back', async () => {
      const outage = await Outage.before(Number(new URL(url).port));
      const logs: string[] = [];
      const logger = createLogger({ level: 'debug', out: new Writable({ write: (chunk, _enc, done) => done(void logs.push(String(chunk))) }) });
      const password = decodeURIComponent(new URL(url).password);
      const store = await open({ url: url.replace(`:${new URL(url).port}/`, `:${outage.port}/`), logger });
      await store.commit([change(alarm('A', 1))]);

      await outage.begin();
      const failed = await rejection(store.commit([change(alarm('B', 2))]));
      expect(failed).to.be.instanceOf(StoreError);
      const refused = await waitFor('a ping refused by the server', async () => {
        const err = (await rejection(store.ping())) as StoreError;
        return err.backendCode === 'ECONNREFUSED' ? err : undefined;
      });
      expect(refused.message).to.equal(`connect ECONNREFUSED 127.0.0.1:${outage.port}`);

      await outage.end();
      await waitFor('the store to answer again', () => store.ping().then(() => true, () => false));
      await store.commit([change(alarm('C', 2))]);

      expect((await store.load()).alarms.map((a) => a.id).sort()).to.deep.equal(['A', 'C']);
      expect(logs.join('')).to.not.include(password);
    });
  });

  describe('when the network drops packets instead of refusing them', () => {
    it('fails a commit after the query timeout instead of holding it, and commits again once the network is back', async () => {
      const target = new URL(url);
      const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
      try {
        const store = await open({ url: proxy.url(url), queryTimeoutMs: 300 });
        await store.commit([change(alarm('A', 1))]);

        proxy.stall();
        const failed = await rejection(store.commit([change(alarm('B', 2))]));
        expect(failed).to.be.instanceOf(StoreError);
        expect((failed as StoreError).message).to.match(/timeout/i);

        await proxy.restore();
        await waitFor('the store to answer again', () => store.ping().then(() => true, () => false));
        // The timed-out commit was not acknowledged; whether the server kept it or not, the next one follows it.
        const { revision } = await store.load();
        await store.commit([change(alarm('C', revision + 1))]);
        expect((await store.load()).alarms.map((a) => a.id)).to.include.members(['A', 'C']);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('#onRemoteCommit', () => {
    it('listens again once its connection is lost, calling the listener without a revision, then hears commits again', async () => {
      const store = await open({ applicationName: 'replica-a' });
      const other = await open({ applicationName: 'replica-b' });
      const heard: (number | undefined)[] = [];
      store.onRemoteCommit((revision) => heard.push(revision));
      await waitFor('listening', () => heard.length === 1);

      await kill('replica-a:listen');
      await waitFor('listening again', () => heard.length === 2);
      await other.commit([change(alarm('A', 1))]);
      await waitFor('the commit heard', () => heard.length === 3);

      expect(heard).to.deep.equal([undefined, undefined, 1]);
    });
  });

  describe('#lease', () => {
    /** Every change of both leases, as the listeners hear them. */
    function watch(a: Lease, b: Lease): string[] {
      const seen: string[] = [];
      a.onChange((held) => seen.push(`a ${held}`));
      b.onChange((held) => seen.push(`b ${held}`));
      return seen;
    }

    /** True once the session of `name` has tried for the lock since it last did anything else. */
    const tried = async (name: string) => (await backends(name)).some((b) => b.query.includes('pg_try_advisory_lock'));

    it('is held by one store at a time, and taken over within a few tries once the holder dies', async () => {
      // The holder tries again only in ten minutes: once its session ends, it is as good as dead.
      const a = (await open({ applicationName: 'replica-a', leaseRetryMs: 600_000 })).lease('expiry');
      await waitFor('a to hold it', () => a.held);
      const b = (await open({ applicationName: 'replica-b' })).lease('expiry');
      const seen = watch(a, b);
      await waitFor('b to try for it', () => tried('replica-b:lease:expiry'));
      expect(b.held).to.equal(false);

      await kill('replica-a:lease:expiry');
      await waitFor('b to take it over', () => b.held);

      expect(a.held).to.equal(false);
      expect(seen).to.have.members(['a false', 'b true']);
    });

    it('is given up by a holder the network cut off before the server frees it, then taken over once the server ends its session', async () => {
      const target = new URL(url);
      const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
      try {
        const a = (await open({ url: proxy.url(url), applicationName: 'replica-a' })).lease('expiry');
        await waitFor('a to hold it', () => a.held);
        const b = (await open({ applicationName: 'replica-b' })).lease('expiry');
        const seen = watch(a, b);
        await waitFor('b to try for it', () => tried('replica-b:lease:expiry'));

        // Every packet dropped: the server still sees a's session, so its lock stays taken.
        proxy.stall();
        await waitFor('a to give it up once its check goes unanswered', () => !a.held, 15_000);
        expect(b.held).to.equal(false);
        expect(await backends('replica-a:lease:expiry')).to.have.length(1);

        // What the server's keep-alive probes do to a session whose client is gone: end it.
        await kill('replica-a:lease:expiry');
        await waitFor('b to take it over', () => b.held);

        expect(seen).to.deep.equal(['a false', 'b true']);
      } finally {
        await proxy.close();
      }
    });

    it('is tried for again on a new connection once its own is lost', async () => {
      const a = (await open({ applicationName: 'replica-a' })).lease('expiry');
      await waitFor('a to hold it', () => a.held);
      const seen: boolean[] = [];
      a.onChange((held) => seen.push(held));

      await kill('replica-a:lease:expiry');
      await waitFor('a to hold it again', () => seen.length === 2);

      expect(seen).to.deep.equal([false, true]);
      expect(a.held).to.equal(true);
    });

    it('is given up on close, for the other store to take', async () => {
      const a = (await open({ applicationName: 'replica-a' })).lease('retention');
      await waitFor('a to hold it', () => a.held);
      const b = (await open({ applicationName: 'replica-b' })).lease('retention');
      await waitFor('b to try for it', () => tried('replica-b:lease:retention'));

      await a.close();

      await waitFor('b to take it', () => b.held);
      expect(a.held).to.equal(false);
    });

    it('keeps leases of different names apart', async () => {
      const store = await open();
      const expiry = store.lease('expiry');
      const retention = store.lease('retention');

      await waitFor('both held', () => expiry.held && retention.held);
    });

    it('is given up when its store closes', async () => {
      const a = await open({ applicationName: 'replica-a' });
      const lease = a.lease('expiry');
      await waitFor('a to hold it', () => lease.held);
      const b = (await open({ applicationName: 'replica-b' })).lease('expiry');

      await a.close();

      await waitFor('b to take it', () => b.held);
      expect(await backends('replica-a:lease:expiry')).to.deep.equal([]);
    });
  });
});

describe('redactUrl', () => {
  it('hides the password of a URL, keeping everything else', () => {
    expect(redactUrl('postgres://alarms:s3cr%40t@db.example:5432/alarms?sslmode=require')).to.equal(
      'postgres://alarms:***@db.example:5432/alarms?sslmode=require',
    );
  });

  it('hides a password given as a query parameter', () => {
    expect(redactUrl('postgresql://alarms@db/alarms?password=s3cret&application_name=x')).to.equal(
      'postgresql://alarms@db/alarms?password=***&application_name=x',
    );
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrl('postgres://alarms@db.example/alarms')).to.equal('postgres://alarms@db.example/alarms');
  });

  it('hides what looks like a password in text that is no URL', () => {
    expect(redactUrl('host=/run/postgresql password=s3cret dbname=alarms')).to.equal('host=/run/postgresql password=*** dbname=alarms');
    expect(redactUrl('postgres://alarms:s3cret@[not a host/alarms')).to.equal('postgres://alarms:***@[not a host/alarms');
  });
});
