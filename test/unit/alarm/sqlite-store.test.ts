import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import type { Alarm, AlarmChange } from '../../../src/alarm/model.js';
import { DEFAULT_MIGRATIONS_DIR, SqliteStore, readMigrations } from '../../../src/alarm/sqlite-store.js';
import { migrate } from '../../../src/alarm/sqlite-migrations.js';
import { StoreError, type ExpiryExtension } from '../../../src/alarm/store.js';
import { rejection } from '../../helpers/promises.js';
import { storedAlarm as alarm } from '../../helpers/store.js';

/** An alarm as plain data, whatever class the store builds it with. */
function plain(a: Alarm): Record<string, unknown> {
  return { ...a, fields: a.fields };
}

function change(a: Alarm, action: AlarmChange['action'] = 'raise', removed = false): AlarmChange {
  return { action, alarm: a, removed, at: a.updatedAt };
}

/** The extension moving the expiry of `a`, as it is at its revision, to `expiresAt`. */
function extension(a: Alarm, expiresAt: number): ExpiryExtension {
  return { domain: a.domain, project: a.project, id: a.id, source: a.source, revision: a.revision, expiresAt };
}

function migrationsOf(db: Database.Database): { version: number; name: string; applied_at: string }[] {
  return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
    applied_at: string;
  }[];
}

describe('SqliteStore', () => {
  let dir: string;
  let file: string;
  const opened: SqliteStore[] = [];

  function openStore(options: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}): SqliteStore {
    const store = new SqliteStore({ file, ...options });
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-store-'));
    file = path.join(dir, 'alarms.db');
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('constructor', () => {
    it('applies the migrations and records each in schema_migrations', () => {
      const known = readMigrations(DEFAULT_MIGRATIONS_DIR);

      const store = openStore();

      const recorded = migrationsOf(store.db);
      expect(recorded.map((m) => [m.version, m.name])).to.deep.equal(known.map((m) => [m.version, m.name]));
      expect(SqliteStore.schemaVersion(store.db)).to.equal(known.length);
      const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
      expect(tables.map((t) => (t as { name: string }).name)).to.include.members(['alarms', 'history', 'meta']);
    });

    it('does not apply a migration again when the database is reopened', async () => {
      const first = openStore();
      await first.commit([change(alarm('A', 1))]);
      const recorded = migrationsOf(first.db);
      await first.close();

      const second = openStore();

      expect(migrationsOf(second.db)).to.deep.equal(recorded);
      expect((await second.load()).alarms.map((a) => a.id)).to.deep.equal(['A']);
    });

    it('applies only the migrations the database lacks, in order', async () => {
      const migrations = path.join(dir, 'migrations');
      fs.mkdirSync(migrations);
      const known = readMigrations(DEFAULT_MIGRATIONS_DIR);
      for (const m of known) fs.writeFileSync(path.join(migrations, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), m.sql);
      await openStore({ migrationsDir: migrations }).close();
      const next = String(known.length + 1).padStart(3, '0');
      fs.writeFileSync(path.join(migrations, `${next}_notes.sql`), 'CREATE TABLE notes (text TEXT NOT NULL);');

      const store = openStore({ migrationsDir: migrations });

      expect(migrationsOf(store.db).map((m) => [m.version, m.name])).to.deep.equal([
        ...known.map((m) => [m.version, m.name]),
        [known.length + 1, 'notes'],
      ]);
    });

    it('refuses a database with a newer schema with a StoreError naming both versions, and leaves the file untouched', async () => {
      const migrations = path.join(dir, 'migrations');
      fs.mkdirSync(migrations);
      const current = readMigrations(DEFAULT_MIGRATIONS_DIR);
      for (const m of current) fs.writeFileSync(path.join(migrations, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), m.sql);
      const newest = current.length + 2;
      fs.writeFileSync(path.join(migrations, `${String(newest - 1).padStart(3, '0')}_future.sql`), 'CREATE TABLE future (x INTEGER);');
      fs.writeFileSync(path.join(migrations, `${String(newest).padStart(3, '0')}_later.sql`), 'CREATE TABLE later (x INTEGER);');
      const newer = openStore({ migrationsDir: migrations });
      await newer.commit([change(alarm('A', 1))]);
      await newer.close();
      // A rollback-journal file: turning WAL on before the version check would rewrite its header.
      const raw = new Database(file);
      raw.pragma('journal_mode = DELETE');
      raw.close();
      const known = readMigrations(DEFAULT_MIGRATIONS_DIR).length;
      const before = fs.readFileSync(file);

      let err: unknown;
      try {
        openStore();
      } catch (e) {
        err = e;
      }

      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).message).to.match(new RegExp(`\\b${newest}\\b.*\\b${known}\\b`));
      expect((err as StoreError).message).to.contain('newer');
      expect((err as StoreError).backendCode).to.equal('SCHEMA_TOO_NEW');
      expect(fs.readFileSync(file).equals(before)).to.equal(true);
    });

    it('runs in WAL mode and flushes the WAL itself by default (durability full)', () => {
      const store = openStore();

      expect(store.db.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(store.db.pragma('synchronous', { simple: true })).to.equal(1);
      expect(store.flusher).to.not.equal(undefined);
    });

    it("leaves the WAL to the operating system when durability is 'process'", () => {
      const store = openStore({ durability: 'process' });

      expect(store.db.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(store.db.pragma('synchronous', { simple: true })).to.equal(1);
      expect(store.flusher).to.equal(undefined);
    });
  });

  describe('#commit', () => {
    it('stores the alarms, the history and the revision', async () => {
      const store = openStore();
      const a = alarm('A', 1);
      const b = alarm('B', 2, { status: 'CLEARED', clearedAt: 2000, updatedAt: 2000 });

      await store.commit([change(a), change(b, 'clear')]);

      const snapshot = await store.load();
      expect(snapshot.revision).to.equal(2);
      expect(snapshot.alarms.map(plain)).to.deep.equal([a, b].map(plain));
      const history = await store.history({ domain: 'default', project: 'p1' }, 0, 10);
      expect(history.map((h) => [h.revision, h.action, h.alarm.id])).to.deep.equal([
        [1, 'raise', 'A'],
        [2, 'clear', 'B'],
      ]);
    });

    it('removes an alarm whose change says removed, keeping its history', async () => {
      const store = openStore();
      await store.commit([change(alarm('A', 1))]);

      await store.commit([change(alarm('A', 2), 'clear-all', true)]);

      const snapshot = await store.load();
      expect(snapshot.alarms).to.deep.equal([]);
      expect(snapshot.revision).to.equal(2);
      expect((await store.history({ domain: 'default', project: 'p1' }, 0, 10)).map((h) => h.action)).to.deep.equal([
        'raise',
        'clear-all',
      ]);
    });

    it('stores nothing of a commit when one of its changes fails', async () => {
      const store = openStore();
      await store.commit([change(alarm('A', 1))]);
      const before = await store.load();

      const err = await rejection(
        store.commit([change(alarm('B', 2)), change(alarm('A', 3, { count: 2 }), 'reraise'), change(alarm('C', 3))]),
      );

      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).backendCode).to.match(/^SQLITE_CONSTRAINT/);
      expect(await store.load()).to.deep.equal(before);
      expect(await store.history({ domain: 'default', project: 'p1' }, 0, 10)).to.have.length(1);
    });

    it('keeps working after a failed commit', async () => {
      const store = openStore();
      await rejection(store.commit([change(alarm('A', 1)), change(alarm('B', 1))]));

      await store.commit([change(alarm('C', 1))]);

      expect((await store.load()).alarms.map((a) => a.id)).to.deep.equal(['C']);
    });
  });

  describe('#checkpoint', () => {
    function tableRows(store: SqliteStore): { id: string; count: number; status: string }[] {
      return store.db.prepare('SELECT id, count, status FROM alarms ORDER BY id').all() as {
        id: string;
        count: number;
        status: string;
      }[];
    }

    function checkpointOf(store: SqliteStore): number {
      return (store.db.prepare("SELECT value FROM meta WHERE key = 'checkpoint'").get() as { value: number }).value;
    }

    it('leaves the alarms table alone on commit: the history is the record until a checkpoint', async () => {
      const store = openStore();
      await store.load();

      await store.commit([change(alarm('A', 1))]);

      expect(tableRows(store)).to.deep.equal([]);
      expect(checkpointOf(store)).to.equal(0);
    });

    it('brings the alarms table to the last state of each alarm, removals included', async () => {
      const store = openStore();
      await store.load();
      await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);
      await store.commit([change(alarm('A', 3), 'clear-all', true), change(alarm('B', 4, { count: 2 }), 'reraise')]);
      await store.commit([change(alarm('C', 5, { status: 'CLEARED', clearedAt: 1500 }), 'clear')]);

      store.checkpoint();

      expect(tableRows(store)).to.deep.equal([
        { id: 'B', count: 2, status: 'ACTIVATED' },
        { id: 'C', count: 1, status: 'CLEARED' },
      ]);
      expect(checkpointOf(store)).to.equal(5);
    });

    it('keeps an alarm removed and raised again between two checkpoints, and drops one raised and removed', async () => {
      const store = openStore({ checkpointEvery: 1_000_000 });
      await store.load();
      await store.commit([change(alarm('A', 1)), change(alarm('C', 2))]);
      store.checkpoint();
      await store.commit([change(alarm('A', 3), 'clear-all', true), change(alarm('C', 4), 'clear-all', true)]);
      await store.commit([change(alarm('A', 5, { raisedAt: 3000, updatedAt: 3000 })), change(alarm('B', 6))]);
      await store.commit([change(alarm('B', 7, { status: 'CLEARED', clearedAt: 3500 }), 'purge', true)]);

      store.checkpoint();

      const rows = store.db.prepare('SELECT id, revision, raised_at FROM alarms ORDER BY id').all();
      expect(rows).to.deep.equal([{ id: 'A', revision: 5, raised_at: 3000 }]);
      expect(checkpointOf(store)).to.equal(7);
    });

    it('serves the same state from a checkpoint plus the history after it, as after a crash', async () => {
      const first = openStore({ checkpointEvery: 1_000_000 });
      await first.load();
      await first.commit([change(alarm('A', 1)), change(alarm('B', 2)), change(alarm('C', 3))]);
      first.checkpoint();
      await first.commit([change(alarm('A', 4), 'clear-all', true), change(alarm('C', 5, { count: 2 }), 'reraise')]);
      await first.commit([change(alarm('A', 6, { raisedAt: 3000, updatedAt: 3000 }))]);

      // The files as kill -9 leaves them, copied while the first store never closed (it holds its
      // folder): nothing after the checkpoint was written to the alarms table.
      const crashed = path.join(dir, 'crashed');
      fs.mkdirSync(crashed);
      for (const name of ['alarms.db', 'alarms.db-wal']) fs.copyFileSync(path.join(dir, name), path.join(crashed, name));
      const second = openStore({ file: path.join(crashed, 'alarms.db') });
      const snapshot = await second.load();

      expect(snapshot.revision).to.equal(6);
      const byId = Object.fromEntries(snapshot.alarms.map((a) => [a.id, [a.revision, a.count, a.raisedAt]]));
      expect(byId).to.deep.equal({ A: [6, 1, 3000], B: [2, 1, 1000], C: [5, 2, 1000] });
    });

    describe('of expiry extensions', () => {
      const extensionRows = (store: SqliteStore) =>
        store.db.prepare('SELECT h.id, e.revision, e.expires_at FROM expiry_extensions e JOIN history h USING (revision) ORDER BY h.id').all() as { id: string; revision: number; expires_at: number }[];

      it('keeps the extensions of a database from before they were keyed by revision', async () => {
        const raw = new Database(file);
        migrate(raw, readMigrations(DEFAULT_MIGRATIONS_DIR).filter((m) => m.version <= 3));
        const raise = raw.prepare(
          `INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count, raised_at, updated_at, expires_at, at)
           VALUES (?, 'default', 'default', ?, 'host-1', 'raise', 'ACTIVATED', 'major', '{}', 1, 1000, 1000, 5000, 1000)`,
        );
        raise.run(1, 'A');
        raise.run(2, 'B');
        raw.prepare("INSERT INTO expiry_extensions (domain, project, id, source, revision, expires_at) VALUES ('default', 'default', 'A', 'host-1', 1, 9000)").run();
        raw.close();

        const store = openStore();
        const loaded = Object.fromEntries((await store.load()).alarms.map((x) => [x.id, x.expiresAt]));

        expect(loaded).to.deep.equal({ A: 9000, B: 5000 });
        expect(extensionRows(store)).to.deep.equal([{ id: 'A', revision: 1, expires_at: 9000 }]);
      });

      it('deletes the extensions a later change or a removal made stale, and keeps those still applying', async () => {
        const store = openStore({ checkpointEvery: 1_000_000 });
        await store.load();
        const [a, b, c] = ['A', 'B', 'C'].map((id, i) => alarm(id, i + 1, { expiresAt: 5000 })) as [Alarm, Alarm, Alarm];
        await store.commit([change(a), change(b), change(c)], [extension(a, 9000), extension(b, 9000), extension(c, 9000)]);
        await store.commit([change(alarm('A', 4, { count: 2, expiresAt: 7000 }), 'reraise'), change(alarm('B', 5), 'clear-all', true)]);
        expect(extensionRows(store).map((r) => r.id), 'all kept until a checkpoint').to.deep.equal(['A', 'B', 'C']);

        store.checkpoint();

        expect(extensionRows(store)).to.deep.equal([{ id: 'C', revision: 3, expires_at: 9000 }]);
        const loaded = Object.fromEntries((await store.load()).alarms.map((x) => [x.id, [x.revision, x.expiresAt]]));
        expect(loaded).to.deep.equal({ A: [4, 7000], C: [3, 9000] });
      });

      it('keeps an extension committed after a checkpoint over the next ones while its alarm stays at its revision', async () => {
        const store = openStore({ checkpointEvery: 1_000_000 });
        await store.load();
        const a = alarm('A', 1, { expiresAt: 5000 });
        await store.commit([change(a)]);
        store.checkpoint();

        await store.commit([], [extension(a, 9000)]);
        await store.commit([change(alarm('B', 2))]);
        store.checkpoint();

        expect(extensionRows(store)).to.deep.equal([{ id: 'A', revision: 1, expires_at: 9000 }]);
        await store.close();
        expect((await openStore().load()).alarms.find((x) => x.id === 'A')?.expiresAt).to.equal(9000);
      });
    });

    it('starts by itself once checkpointEvery rows have accumulated, between commits', async () => {
      const store = openStore({ checkpointEvery: 3 });
      await store.load();

      await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);
      await new Promise<void>((r) => setImmediate(r));
      expect(checkpointOf(store)).to.equal(0);

      await store.commit([change(alarm('C', 3))]);
      await new Promise<void>((r) => setImmediate(r));
      expect(checkpointOf(store)).to.equal(3);
      expect(tableRows(store).map((r) => r.id)).to.deep.equal(['A', 'B', 'C']);
    });

    it('runs at close, so the next start has no history to replay', async () => {
      const store = new SqliteStore({ file });
      await store.load();
      await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);

      await store.close();

      const db = new Database(file, { readonly: true });
      try {
        expect((db.prepare("SELECT value FROM meta WHERE key = 'checkpoint'").get() as { value: number }).value).to.equal(2);
        expect(db.prepare('SELECT COUNT(*) AS n FROM alarms').get()).to.deep.equal({ n: 2 });
      } finally {
        db.close();
      }
    });
  });

  describe('#ping', () => {
    it('resolves on an open store and rejects once it is closed', async () => {
      const store = openStore();
      await store.ping();

      await store.close();

      expect(await rejection(store.ping())).to.be.instanceOf(StoreError);
    });
  });
});

describe('readMigrations', () => {
  it('refuses a gap in the numbering', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-migrations-'));
    try {
      fs.writeFileSync(path.join(dir, '001_init.sql'), 'SELECT 1;');
      fs.writeFileSync(path.join(dir, '003_skip.sql'), 'SELECT 1;');

      expect(() => readMigrations(dir)).to.throw(StoreError, /without gaps/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
