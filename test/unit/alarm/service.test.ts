import { expect } from 'chai';
import type { AlarmChange } from '../../../src/alarm/model.js';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import type { AlarmStore } from '../../../src/alarm/store.js';
import { type AlarmCenter, type AlarmCenterOptions } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { AlarmCenterError } from '../../../src/errors.js';
import { rejection } from '../../helpers/promises.js';

/** A time as the API writes it. */
const iso = (ms: number): string => new Date(ms).toISOString();

const SCOPE = { domain: 'default', project: 'p1' };
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** The error a promise rejects with; fails the test when it resolves. */
describe('AlarmService', () => {
  let now: number;
  let center: AlarmCenter;

  async function open(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
    center = await openCore({ dataDir: ':memory:', clock: () => now, ...options });
    return center;
  }

  beforeEach(async () => {
    now = T0;
    await open();
  });

  afterEach(async () => {
    await center.close();
  });

  describe('#raise', () => {
    it('creates an ACTIVATED alarm with count 1 and raisedAt equal to updatedAt', async () => {
      const alarm = await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'refused' } });

      expect(alarm).to.include({ id: 'BackendConnectionRefuse', source: '', status: 'ACTIVATED', count: 1 });
      expect(alarm.raisedAt).to.equal(iso(T0));
      expect(alarm.updatedAt).to.equal(iso(T0));
      expect(alarm.clearedAt).to.equal(undefined);
      expect(alarm.fields).to.deep.equal({ detail: 'refused' });
      expect(center.list(SCOPE).alarms).to.deep.equal([alarm]);
    });

    it('increments count, updates fields and updatedAt, and keeps raisedAt when an active alarm is raised again', async () => {
      await center.raise(SCOPE, { id: 'A', fields: { detail: 'first' } });
      now = T0 + 60_000;

      const again = await center.raise(SCOPE, { id: 'A', fields: { detail: 'second' } });

      expect(again).to.include({ status: 'ACTIVATED', count: 2, raisedAt: iso(T0), updatedAt: iso(T0 + 60_000) });
      expect(again.fields).to.deep.equal({ detail: 'second' });
      expect(center.list(SCOPE).alarms).to.deep.equal([again]);
    });

    it('keeps two alarms apart when two sources raise the same id', async () => {
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'registry-1' });
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'registry-2' });
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'registry-1' });

      const listed = center.list(SCOPE).alarms.map((a) => [a.source, a.count]);

      expect(listed).to.have.deep.members([
        ['registry-1', 2],
        ['registry-2', 1],
      ]);
    });

    it('re-activates a CLEARED alarm with count 1 and a new raisedAt', async () => {
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'A' });
      now = T0 + 1000;
      await center.clear(SCOPE, 'A');
      now = T0 + 2000;

      const again = await center.raise(SCOPE, { id: 'A', fields: { detail: 'back' } });

      expect(again).to.include({ status: 'ACTIVATED', count: 1, raisedAt: iso(T0 + 2000), updatedAt: iso(T0 + 2000) });
      expect(again.clearedAt).to.equal(undefined);
      expect(center.list(SCOPE).alarms).to.deep.equal([again]);
    });

    it("defaults severity to 'indeterminate' and keeps a given severity when re-raised without one", async () => {
      const plain = await center.raise(SCOPE, { id: 'Plain' });
      await center.raise(SCOPE, { id: 'Major', severity: 'major' });

      const again = await center.raise(SCOPE, { id: 'Major' });

      expect(plain.severity).to.equal('indeterminate');
      expect(again).to.include({ severity: 'major', count: 2 });
    });

    it('changes the severity when a re-raise gives a new one', async () => {
      await center.raise(SCOPE, { id: 'A', severity: 'minor' });

      const again = await center.raise(SCOPE, { id: 'A', severity: 'critical' });

      expect(again.severity).to.equal('critical');
    });

    it('grows the revision with every change and reports it in list()', async () => {
      const start = center.list(SCOPE).revision;

      const a = await center.raise(SCOPE, { id: 'A' });
      const b = await center.raise(SCOPE, { id: 'B' });
      const a2 = await center.raise(SCOPE, { id: 'A' });
      const cleared = await center.clear(SCOPE, 'B');

      const revisions = [a, b, a2, cleared].map((x) => x.revision);
      expect(revisions).to.deep.equal([start + 1, start + 2, start + 3, start + 4]);
      expect(center.list(SCOPE).revision).to.equal(start + 4);
      expect(center.list({ domain: 'default', project: 'other' }).revision).to.equal(start + 4);
    });

    for (const [what, input, field] of [
      ['an id with a space', { id: 'bad id' }, 'id'],
      ['an id with a slash', { id: 'a/b' }, 'id'],
      ['an empty id', { id: '' }, 'id'],
      ['an id of 129 characters', { id: 'a'.repeat(129) }, 'id'],
      ['a source of 257 characters', { id: 'A', source: 's'.repeat(257) }, 'source'],
      ['fields over 16 KiB', { id: 'A', fields: { detail: 'x'.repeat(16 * 1024) } }, 'fields'],
      ['an unknown severity', { id: 'A', severity: 'fatal' }, 'severity'],
      ['fields that are not an object', { id: 'A', fields: 'down' }, 'fields'],
      ['an unknown key', { id: 'A', colour: 'red' }, 'colour'],
    ] as const) {
      it(`refuses ${what} with 400001 naming the field, and stores nothing`, async () => {
        const before = center.list(SCOPE);

        const err = await rejection(center.raise(SCOPE, input as never));

        expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '400001');
        expect((err as AlarmCenterError).detail).to.contain(field);
        expect(center.list(SCOPE)).to.deep.equal(before);
        expect(await partsOf(center).service.history(SCOPE, 0, 10)).to.deep.equal([]);
      });
    }

    it('accepts an id of exactly 128 characters and fields of exactly 16 KiB', async () => {
      const id = 'a'.repeat(128);
      const detail = 'x'.repeat(16 * 1024 - JSON.stringify({ detail: '' }).length);

      const alarm = await center.raise(SCOPE, { id, fields: { detail } });

      expect(alarm.id).to.equal(id);
      expect(Buffer.byteLength(JSON.stringify(alarm.fields))).to.equal(16 * 1024);
    });

    it('refuses a scope with an invalid project with 400001', async () => {
      const err = await rejection(center.raise({ domain: 'default', project: 'no/slash' }, { id: 'A' }));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '400001');
      expect((err as AlarmCenterError).detail).to.contain('scope.project');
    });
  });

  describe('#clear', () => {
    it('keeps the alarm listed as CLEARED with clearedAt', async () => {
      await center.raise(SCOPE, { id: 'A', fields: { detail: 'down' } });
      now = T0 + 5000;

      const cleared = await center.clear(SCOPE, 'A');

      expect(cleared).to.include({ status: 'CLEARED', clearedAt: iso(T0 + 5000), updatedAt: iso(T0 + 5000), raisedAt: iso(T0), count: 1 });
      expect(cleared.fields).to.deep.equal({ detail: 'down' });
      expect(center.list(SCOPE).alarms).to.deep.equal([cleared]);
    });

    it('clears only the alarm of the given source', async () => {
      await center.raise(SCOPE, { id: 'A', source: 'one' });
      await center.raise(SCOPE, { id: 'A', source: 'two' });

      await center.clear(SCOPE, 'A', 'two');

      const statuses = center.list(SCOPE).alarms.map((a) => [a.source, a.status]);
      expect(statuses).to.have.deep.members([
        ['one', 'ACTIVATED'],
        ['two', 'CLEARED'],
      ]);
    });

    it('rejects an unknown alarm with 404001 and changes nothing', async () => {
      await center.raise(SCOPE, { id: 'A' });
      const before = center.list(SCOPE);

      const err = await rejection(center.clear(SCOPE, 'Missing'));
      const otherSource = await rejection(center.clear(SCOPE, 'A', 'someone-else'));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '404001');
      expect(otherSource).to.be.instanceOf(AlarmCenterError).with.property('code', '404001');
      expect(center.list(SCOPE)).to.deep.equal(before);
    });

    it('leaves an already CLEARED alarm and the revision as they are', async () => {
      await center.raise(SCOPE, { id: 'A' });
      const first = await center.clear(SCOPE, 'A');
      now = T0 + 9000;

      const second = await center.clear(SCOPE, 'A');

      expect(second).to.deep.equal(first);
      expect(center.list(SCOPE).revision).to.equal(first.revision);
    });
  });

  describe('#clearAll', () => {
    it('removes every alarm of the domain and project, and nothing else', async () => {
      const otherProject = { domain: 'default', project: 'p2' };
      const otherDomain = { domain: 'tenant-b', project: 'p1' };
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'B', source: 'x' });
      await center.clear(SCOPE, 'B', 'x');
      const keptProject = await center.raise(otherProject, { id: 'A' });
      const keptDomain = await center.raise(otherDomain, { id: 'A' });

      await center.clearAll(SCOPE);

      expect(center.list(SCOPE).alarms).to.deep.equal([]);
      expect(center.list(otherProject).alarms).to.deep.equal([keptProject]);
      expect(center.list(otherDomain).alarms).to.deep.equal([keptDomain]);
    });

    it('reports the revision that includes the removals', async () => {
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'B' });

      const { revision } = await center.clearAll(SCOPE);

      expect(revision).to.equal(4);
      expect(center.list(SCOPE).revision).to.equal(4);
    });

    it('lets a removed alarm be raised again from count 1', async () => {
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'A' });
      await center.clearAll(SCOPE);

      const again = await center.raise(SCOPE, { id: 'A' });

      expect(again.count).to.equal(1);
    });
  });

  describe('#list', () => {
    async function seed(): Promise<void> {
      await center.raise(SCOPE, { id: 'A', source: 'one', severity: 'major' });
      await center.raise(SCOPE, { id: 'A', source: 'two', severity: 'minor' });
      await center.raise(SCOPE, { id: 'B', source: 'one' });
      await center.clear(SCOPE, 'B', 'one');
    }

    const keys = (c: AlarmCenter, filter: Parameters<AlarmCenter['list']>[1]) =>
      c
        .list(SCOPE, filter)
        .alarms.map((a) => `${a.id}/${a.source}`)
        .sort();

    it('filters by status', async () => {
      await seed();

      expect(keys(center, { status: 'ACTIVATED' })).to.deep.equal(['A/one', 'A/two']);
      expect(keys(center, { status: 'CLEARED' })).to.deep.equal(['B/one']);
    });

    it('filters by id', async () => {
      await seed();

      expect(keys(center, { id: 'A' })).to.deep.equal(['A/one', 'A/two']);
    });

    it('filters by source', async () => {
      await seed();

      expect(keys(center, { source: 'one' })).to.deep.equal(['A/one', 'B/one']);
    });

    it('filters by severity', async () => {
      await seed();

      expect(keys(center, { severity: 'minor' })).to.deep.equal(['A/two']);
      expect(keys(center, { severity: 'indeterminate' })).to.deep.equal(['B/one']);
    });

    it('combines filters', async () => {
      await seed();

      expect(keys(center, { id: 'A', source: 'one', status: 'ACTIVATED' })).to.deep.equal(['A/one']);
      expect(keys(center, { id: 'B', status: 'ACTIVATED' })).to.deep.equal([]);
    });

    it('lists the oldest raise first, then by id and source', async () => {
      now = T0 + 2000;
      await center.raise(SCOPE, { id: 'Late' });
      now = T0 + 1000;
      await center.raise(SCOPE, { id: 'B', source: 'y' });
      await center.raise(SCOPE, { id: 'B', source: 'x' });
      await center.raise(SCOPE, { id: 'A', source: 'z' });
      now = T0 + 3000;
      await center.raise(SCOPE, { id: 'A', source: 'z' });

      const order = center.list(SCOPE).alarms.map((a) => `${a.id}/${a.source}`);

      expect(order).to.deep.equal(['A/z', 'B/x', 'B/y', 'Late/']);
    });

    it('refuses an unknown filter with 400001', async () => {
      expect(() => center.list(SCOPE, { colour: 'red' } as never))
        .to.throw(AlarmCenterError)
        .with.property('code', '400001');
    });
  });

  describe('#apply', () => {
    it('raises and clears a batch with consecutive revisions', async () => {
      await center.raise(SCOPE, { id: 'Old' });

      const result = await center.apply(SCOPE, [
        { id: 'A', fields: { detail: 'a' } },
        { id: 'Old', status: 'CLEARED' },
        { id: 'B', severity: 'warning' },
      ]);

      expect(result.alarms.map((a) => [a.id, a.status, a.revision])).to.deep.equal([
        ['A', 'ACTIVATED', 2],
        ['Old', 'CLEARED', 3],
        ['B', 'ACTIVATED', 4],
      ]);
      expect(result.revision).to.equal(4);
    });

    it('stores nothing of a batch when one of its inputs is invalid', async () => {
      await center.raise(SCOPE, { id: 'Old' });
      const before = center.list(SCOPE);

      const err = await rejection(center.apply(SCOPE, [{ id: 'A' }, { id: 'Old', status: 'CLEARED' }, { id: 'bad id' }]));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '400001');
      expect((err as AlarmCenterError).detail).to.contain('alarms.2.id');
      expect(center.list(SCOPE)).to.deep.equal(before);
    });

    it('stores nothing of a batch whose commit fails', async () => {
      const inner = new SqliteStore({ file: ':memory:' });
      let failNext = false;
      const store: AlarmStore = {
        load: () => inner.load(),
        commit: (changes) => (failNext ? Promise.reject(new Error('disk on fire')) : inner.commit(changes)),
        history: (scope, since, limit) => inner.history(scope, since, limit),
        ping: () => inner.ping(),
        close: () => inner.close(),
      };
      await center.close();
      await open({ store });
      await center.raise(SCOPE, { id: 'Old' });
      const before = center.list(SCOPE);
      failNext = true;

      const err = await rejection(center.apply(SCOPE, [{ id: 'A' }, { id: 'Old', status: 'CLEARED' }]));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
      expect(center.list(SCOPE, { id: 'Old' }).alarms).to.deep.equal(before.alarms);
      expect(center.list(SCOPE, { id: 'A' }).alarms).to.deep.equal([]);
      expect(center.list(SCOPE).revision).to.equal(before.revision);
      expect((await inner.load()).alarms.map((a) => [a.id, a.status])).to.deep.equal([['Old', 'ACTIVATED']]);
    });
  });

  describe('#history', () => {
    it('keeps one entry per change, clear-all included', async () => {
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'B' });
      await center.clear(SCOPE, 'B');
      await center.raise({ domain: 'default', project: 'elsewhere' }, { id: 'X' });
      await center.clearAll(SCOPE);

      const history = await partsOf(center).service.history(SCOPE, 0, 100);

      const entries = history.map((h) => [h.revision, h.action, h.alarm.id, h.alarm.status, h.alarm.count]);
      expect(entries.slice(0, 4)).to.deep.equal([
        [1, 'raise', 'A', 'ACTIVATED', 1],
        [2, 'reraise', 'A', 'ACTIVATED', 2],
        [3, 'raise', 'B', 'ACTIVATED', 1],
        [4, 'clear', 'B', 'CLEARED', 1],
      ]);
      expect(entries.slice(4).map(([, action, id, status, count]) => [action, id, status, count])).to.have.deep.members([
        ['clear-all', 'A', 'ACTIVATED', 2],
        ['clear-all', 'B', 'CLEARED', 1],
      ]);
      expect(entries.slice(4).map(([revision]) => revision)).to.deep.equal([6, 7]);
    });

    it('returns the entries after a revision, at most limit', async () => {
      for (const id of ['A', 'B', 'C', 'D']) await center.raise(SCOPE, { id });

      const page = await partsOf(center).service.history(SCOPE, 1, 2);

      expect(page.map((h) => h.alarm.id)).to.deep.equal(['B', 'C']);
    });
  });

  describe('group commit', () => {
    it('commits 1,000 concurrent raises in far fewer transactions, and keeps every one', async () => {
      const inner = new SqliteStore({ file: ':memory:' });
      const commits: number[] = [];
      const store: AlarmStore = {
        load: () => inner.load(),
        commit: (changes: readonly AlarmChange[]) => {
          commits.push(changes.length);
          return inner.commit(changes);
        },
        history: (scope, since, limit) => inner.history(scope, since, limit),
        ping: () => inner.ping(),
        close: () => inner.close(),
      };
      await center.close();
      await open({ store });
      const ids = Array.from({ length: 1000 }, (_, i) => `alarm-${i}`);

      const raised = await Promise.all(ids.map((id) => center.raise(SCOPE, { id })));

      expect(commits.length).to.be.at.least(1).and.below(100);
      expect(commits.reduce((a, b) => a + b, 0)).to.equal(1000);
      expect(raised.map((a) => a.id)).to.deep.equal(ids);
      expect(new Set(raised.map((a) => a.revision)).size).to.equal(1000);
      const listed = center.list(SCOPE);
      expect(listed.alarms.map((a) => a.id).sort()).to.deep.equal([...ids].sort());
      expect(listed.revision).to.equal(1000);
      expect((await inner.load()).alarms).to.have.length(1000);
    });
  });
});
