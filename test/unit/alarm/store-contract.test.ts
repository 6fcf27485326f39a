/**
 * The AlarmStore contract (src/alarm/store.ts), one suite run against every store: SQLite and
 * PostgreSQL, each on a fresh place per test. What only a store several replicas share promises
 * (StoreConflict, changesAfter, onRemoteCommit) runs for those, with two stores on one database.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { selects, type AlarmSelection } from '../../../src/alarm/filter.js';
import { SEVERITIES, STATUSES, type Alarm, type AlarmChange } from '../../../src/alarm/model.js';
import { StoreConflict, StoreError, keepsHeartbeats, keepsWebhooks, type AlarmStore, type HeartbeatStore, type ExpiryExtension, type HistoryEntry, type WebhookFailure, type WebhookStore } from '../../../src/alarm/store.js';
import { STORE_KINDS, type StorePlace } from '../../helpers/postgres.js';
import { rejection } from '../../helpers/promises.js';
import { storedAlarm as alarm } from '../../helpers/store.js';

const P1 = { domain: 'default', project: 'p1' };
const P2 = { domain: 'default', project: 'p2' };

/** An alarm as plain data, whatever class the store builds it with. */
function plain(a: Alarm): Record<string, unknown> {
  return { ...a, fields: a.fields };
}

function change(a: Alarm, action: AlarmChange['action'] = 'raise', removed = false): AlarmChange {
  return { action, alarm: a, removed, at: a.updatedAt };
}

/** The extension moving the expiry of `a`, as it is at its revision, to `expiresAt`. */
function extension(a: Alarm, expiresAt: number, revision = a.revision): ExpiryExtension {
  return { domain: a.domain, project: a.project, id: a.id, source: a.source, revision, expiresAt };
}

const byId = (alarms: readonly Alarm[]) => [...alarms].sort((a, b) => a.id.localeCompare(b.id)).map(plain);

/** An alarm with every field set, fields as JSON text no JSON.stringify would write. */
const FULL = alarm('Full', 1, {
  source: 'host-1/disk ✓',
  status: 'ACTIVATED',
  severity: 'critical',
  fields: { detail: 'disk 95 % full', nested: { n: [1, 2.5, null] }, text: 'é "quoted" \\ \u2028' },
  fieldsJson: '{ "detail":"disk 95 % full", "nested": {"n":[1,2.5,null]}, "text":"\\u00e9 \\"quoted\\" \\\\ \\u2028" }',
  count: 7,
  raisedAt: 1_790_000_000_000,
  updatedAt: 1_790_000_123_456,
  ackedBy: 'ops@example — night shift',
  ackedAt: 1_790_000_100_000,
  ackComment: 'looking; "root cause" next',
  ackExpiresAt: 1_790_000_400_000,
  expiresAt: 1_790_003_723_456,
});

/** Brings the alarms table up to the history, where the store has one (what a load then reads first). */
async function checkpoint(store: AlarmStore): Promise<void> {
  await (store as AlarmStore & { checkpoint?: () => unknown }).checkpoint?.();
}

for (const kind of STORE_KINDS) {
  describe(`AlarmStore contract: ${kind.name}`, () => {
    let place: StorePlace;
    let store: AlarmStore;

    beforeEach(async function () {
      place = await kind.place(this);
      store = await place.open();
    });

    afterEach(async () => {
      await place?.dispose();
    });

    /** Closes the store and opens another on the same place, as a restart does. */
    async function reopen(): Promise<AlarmStore> {
      await store.close();
      store = await place.open();
      return store;
    }

    describe('#commit and #load', () => {
      it('answers an empty store at revision 0', async () => {
        expect(await store.load()).to.deep.equal({ alarms: [], revision: 0 });
      });

      it('keeps every field of an alarm, the fields as their exact JSON text', async () => {
        const cleared = alarm('Cleared', 2, { status: 'CLEARED', clearedAt: 2000, updatedAt: 2000, severity: 'warning' });

        await store.commit([change(FULL), change(cleared, 'clear')]);

        const snapshot = await store.load();
        expect(snapshot.revision).to.equal(2);
        expect(byId(snapshot.alarms)).to.deep.equal(byId([cleared, FULL]));
        const again = await reopen();
        expect(byId((await again.load()).alarms)).to.deep.equal(byId([cleared, FULL]));
      });

      it('removes an alarm whose change says removed, keeping its history', async () => {
        await store.commit([change(alarm('A', 1)), change(alarm('B', 2))]);

        await store.commit([change(alarm('A', 3), 'clear-all', true)]);

        const snapshot = await store.load();
        expect(snapshot.alarms.map((a) => a.id)).to.deep.equal(['B']);
        expect(snapshot.revision).to.equal(3);
        expect((await store.history(P1, 0, 10)).map((h) => [h.revision, h.action, h.alarm.id])).to.deep.equal([
          [1, 'raise', 'A'],
          [2, 'raise', 'B'],
          [3, 'clear-all', 'A'],
        ]);
      });

      it('keeps the last state of an alarm changed several times in one commit', async () => {
        await store.commit([
          change(alarm('A', 1)),
          change(alarm('A', 2), 'clear-all', true),
          change(alarm('A', 3, { raisedAt: 3000, updatedAt: 3000 })),
          change(alarm('B', 4)),
          change(alarm('B', 5, { status: 'CLEARED', clearedAt: 5000, updatedAt: 5000 }), 'purge', true),
        ]);

        const snapshot = await (await reopen()).load();
        expect(byId(snapshot.alarms)).to.deep.equal(byId([alarm('A', 3, { raisedAt: 3000, updatedAt: 3000 })]));
        expect(snapshot.revision).to.equal(5);
      });

      it('takes a group commit of the largest writes: 1,000 alarms of 16 KiB fields', async () => {
        const detail = 'x'.repeat(16 * 1024 - 20);
        const changes = Array.from({ length: 1000 }, (_, i) => {
          const fields = { detail, i };
          return change(alarm(`A${i}`, i + 1, { fields, fieldsJson: JSON.stringify(fields) }));
        });

        await store.commit(changes);

        const snapshot = await (await reopen()).load();
        expect(snapshot.revision).to.equal(1000);
        expect(snapshot.alarms).to.have.length(1000);
        expect(snapshot.alarms.every((a) => a.fieldsJson.length >= 16 * 1024 - 20)).to.equal(true);
      });

      it('stores nothing of a commit when one of its changes fails', async () => {
        await store.commit([change(alarm('A', 1))]);
        const before = await store.load();

        const err = await rejection(
          store.commit([change(alarm('B', 2)), change(alarm('A', 3, { count: 2 }), 'reraise'), change(alarm('C', 3))]),
        );

        expect(err).to.be.instanceOf(StoreError);
        expect((err as StoreError).backendCode, 'the backend code of a duplicate revision').to.match(/^(SQLITE_CONSTRAINT|23505$)/);
        expect(byId((await store.load()).alarms)).to.deep.equal(byId(before.alarms));
        expect((await store.load()).revision).to.equal(1);
        expect(await store.history(P1, 0, 10)).to.have.length(1);
      });

      it('keeps working after a failed commit', async () => {
        await rejection(store.commit([change(alarm('A', 1)), change(alarm('B', 1))]));

        await store.commit([change(alarm('C', 1))]);

        expect((await store.load()).alarms.map((a) => a.id)).to.deep.equal(['C']);
      });

      it('serves the same alarms, acknowledgements and expiries after a reopen', async () => {
        await store.commit([change(FULL), change(alarm('Plain', 2))]);
        const acked = alarm('Plain', 3, { ackedBy: 'me', ackedAt: 3000, ackComment: '', updatedAt: 3000 });
        await store.commit([change(acked, 'ack')]);

        const snapshot = await (await reopen()).load();

        expect(snapshot.revision).to.equal(3);
        expect(byId(snapshot.alarms)).to.deep.equal(byId([FULL, acked]));
        const full = snapshot.alarms.find((a) => a.id === 'Full');
        expect(full).to.deep.include({ ackedBy: FULL.ackedBy, ackedAt: FULL.ackedAt, ackComment: FULL.ackComment, ackExpiresAt: FULL.ackExpiresAt, expiresAt: FULL.expiresAt });
      });

      it("keeps an acknowledgement's expiry and who made each acknowledgement's change, from the history and from the alarms table", async () => {
        const acked = alarm('A', 2, { ackedBy: 'ops', ackedAt: 2000, ackComment: 'on it', ackExpiresAt: 62_000, updatedAt: 2000 });
        await store.commit([change(alarm('A', 1)), { ...change(acked, 'ack'), by: 'ops' }]);

        expect(byId((await (await reopen()).load()).alarms), 'from the history').to.deep.equal(byId([acked]));
        await checkpoint(store);
        expect(byId((await (await reopen()).load()).alarms), 'from the alarms table').to.deep.equal(byId([acked]));

        const withdrawn = alarm('A', 3, { updatedAt: 62_000 });
        await store.commit([{ ...change(withdrawn, 'unack'), by: 'ack expired' }]);
        await checkpoint(store);
        const again = await reopen();
        expect(byId((await again.load()).alarms)).to.deep.equal(byId([withdrawn]));
        expect((await again.history(P1, 0, 10)).map((e) => [e.action, e.by, e.alarm.ackExpiresAt])).to.deep.equal([
          ['raise', undefined, undefined],
          ['ack', 'ops', 62_000],
          ['unack', 'ack expired', undefined],
        ]);
        expect((await again.history(P1, 0, 10)).map((e) => 'by' in e), 'no by on a change made by no one').to.deep.equal([false, true, true]);
      });
    });

    describe('expiry extensions', () => {
      const A1 = alarm('A', 1, { expiresAt: 5000 });

      /** The loaded alarm `id`, and the store's revision. */
      async function loaded(s: AlarmStore, id: string): Promise<{ alarm: Record<string, unknown> | undefined; revision: number }> {
        const snapshot = await s.load();
        const found = snapshot.alarms.find((a) => a.id === id);
        return { alarm: found && plain(found), revision: snapshot.revision };
      }

      it('loads an alarm with the expiry an extension committed with the changes moved, and nothing else of it changed', async () => {
        await store.commit([change(A1), change(alarm('B', 2, { expiresAt: 5000 }))], [extension(A1, 9000)]);

        expect(await loaded(store, 'A')).to.deep.equal({ alarm: plain({ ...A1, expiresAt: 9000 }), revision: 2 });
        expect((await loaded(store, 'B')).alarm).to.deep.include({ expiresAt: 5000 });
      });

      it('applies an extension of an alarm raised in the same commit', async () => {
        const raised = alarm('New', 2);

        await store.commit([change(A1), change(raised)], [extension(raised, 9000)]);

        expect((await loaded(store, 'New')).alarm).to.deep.include({ revision: 2, count: 1, expiresAt: 9000 });
      });

      it('stores every extension of a large batch of re-sends', async () => {
        const raised = Array.from({ length: 150 }, (_, i) => alarm(`R${i}`, i + 1, { expiresAt: 5000 }));
        await store.commit(raised.map((a) => change(a)));

        await store.commit([], raised.map((a, i) => extension(a, 9000 + i)));

        const expiries = (await store.load()).alarms.map((a) => [a.id, a.expiresAt]);
        expect(expiries).to.have.deep.members(raised.map((a, i) => [a.id, 9000 + i]));
      });

      it('stores an extension committed alone: no revision taken, no history entry', async () => {
        await store.commit([change(A1)]);

        await store.commit([], [extension(A1, 9000)]);

        expect(await loaded(store, 'A')).to.deep.equal({ alarm: plain({ ...A1, expiresAt: 9000 }), revision: 1 });
        expect((await store.history(P1, 0, 10)).map((e) => e.revision)).to.deep.equal([1]);
        await store.commit([change(alarm('B', 2))]);
        expect((await store.load()).revision, 'the next change takes the next revision').to.equal(2);
      });

      it('keeps the last extension of one revision', async () => {
        await store.commit([change(A1)], [extension(A1, 9000)]);

        await store.commit([], [extension(A1, 12_000)]);

        expect((await loaded(store, 'A')).alarm).to.deep.include({ expiresAt: 12_000 });
      });

      it('no longer applies an extension once a later change of its alarm is stored: the change tells the expiry', async () => {
        await store.commit([change(A1)], [extension(A1, 9000)]);
        await store.commit([change(alarm('B', 2))], [extension(alarm('B', 2), 9000)]);

        await store.commit([
          change(alarm('A', 3, { count: 2, updatedAt: 3000, expiresAt: 7000 }), 'reraise'),
          change(alarm('B', 4, { status: 'CLEARED', clearedAt: 4000, updatedAt: 4000 }), 'clear'),
        ]);

        expect((await loaded(store, 'A')).alarm).to.deep.include({ revision: 3, count: 2, expiresAt: 7000 });
        const b = (await loaded(store, 'B')).alarm;
        expect(b).to.deep.include({ revision: 4, status: 'CLEARED' });
        expect(b?.expiresAt).to.equal(undefined);
        expect((await loaded(await reopen(), 'A')).alarm, 'after a reopen too').to.deep.include({ revision: 3, expiresAt: 7000 });
      });

      it('applies no extension to the alarm raised again after its removal', async () => {
        await store.commit([change(A1)], [extension(A1, 9000)]);

        await store.commit([change(alarm('A', 2), 'clear-all', true), change(alarm('A', 3, { raisedAt: 3000, updatedAt: 3000 }))]);

        const a = (await loaded(store, 'A')).alarm;
        expect(a).to.deep.include({ revision: 3, count: 1, raisedAt: 3000 });
        expect(a?.expiresAt).to.equal(undefined);
      });

      it('never replaces a stored extension with one of an older revision', async () => {
        const A2 = alarm('A', 2, { count: 2, updatedAt: 2000, expiresAt: 6000 });
        await store.commit([change(A1), change(A2, 'reraise')], [extension(A2, 9000)]);

        // A replica that had not seen the re-raise yet moves the expiry of the activation before it.
        await store.commit([], [extension(A1, 12_000)]);

        expect((await loaded(store, 'A')).alarm).to.deep.include({ revision: 2, expiresAt: 9000 });
      });

      it('keeps the moved expiries over a reopen, and over the one after it', async () => {
        await store.commit([change(A1), change(alarm('B', 2))], [extension(A1, 9000)]);

        expect((await loaded(await reopen(), 'A')).alarm).to.deep.equal(plain({ ...A1, expiresAt: 9000 }));
        await store.commit([change(alarm('C', 3))]);
        expect((await loaded(await reopen(), 'A')).alarm).to.deep.equal(plain({ ...A1, expiresAt: 9000 }));
      });
    });

    describe('#history', () => {
      it("answers a scope's entries after since, oldest first, at most limit", async () => {
        const changes: AlarmChange[] = [];
        for (let r = 1; r <= 12; r += 1) {
          const scope = r % 3 === 0 ? P2 : P1;
          changes.push(change(alarm(`A${r % 4}`, r, { ...scope, updatedAt: 1000 + r }), r > 4 ? 'reraise' : 'raise'));
        }
        await store.commit(changes.slice(0, 5));
        await store.commit(changes.slice(5));

        const pages: number[][] = [];
        for (let since = 0; ; ) {
          const page = await store.history(P1, since, 3);
          if (page.length === 0) break;
          pages.push(page.map((e) => e.revision));
          since = (page.at(-1) as HistoryEntry).revision;
        }

        expect(pages).to.deep.equal([[1, 2, 4], [5, 7, 8], [10, 11]]);
        const entry = (await store.history(P2, 5, 1))[0] as HistoryEntry;
        expect({ ...entry, alarm: plain(entry.alarm) }).to.deep.equal({
          revision: 6,
          action: 'reraise',
          at: 1006,
          alarm: plain(alarm('A2', 6, { ...P2, updatedAt: 1006 })),
        });
      });
    });

    describe('#findHistory', () => {
      /** 40 changes of 4 alarms in two scopes, with every status, severity and acknowledgement. */
      async function fill(): Promise<HistoryEntry[]> {
        const changes: AlarmChange[] = [];
        for (let r = 1; r <= 40; r += 1) {
          const acked = r % 4 === 1 ? { ackedBy: 'ops', ackedAt: r, ackComment: '' } : {};
          const cleared = r % 5 === 2 ? { status: 'CLEARED' as const, clearedAt: r } : {};
          const a = alarm(`A${r % 4}`, r, {
            ...(r % 7 === 0 ? P2 : P1),
            source: r % 2 === 0 ? '' : 's1',
            severity: SEVERITIES[r % 5],
            updatedAt: 1000 + r,
            ...acked,
            ...cleared,
          });
          changes.push(change(a, r % 9 === 0 ? 'clear-all' : 'raise', r % 9 === 0));
        }
        await store.commit(changes);
        return store.history(P1, 0, 100);
      }

      const selections: fc.Arbitrary<AlarmSelection> = fc.record(
        {
          ids: fc.subarray(['A0', 'A1', 'A2', 'A3', 'X'], { minLength: 1 }).map((ids) => new Set(ids)),
          source: fc.constantFrom('', 's1', 'other'),
          severities: fc.subarray([...SEVERITIES], { minLength: 1 }).map((s) => new Set(s)),
          status: fc.constantFrom(...STATUSES),
          acknowledged: fc.boolean(),
          updatedSince: fc.integer({ min: 995, max: 1045 }),
        },
        { requiredKeys: [] },
      );

      it('answers what a filter of the whole history answers, with its count', async function () {
        this.timeout(60_000);
        const findHistory = store.findHistory?.bind(store);
        if (!findHistory) this.skip();
        const all = await fill();

        await fc.assert(
          fc.asyncProperty(
            selections,
            fc.integer({ min: 0, max: 42 }),
            fc.integer({ min: 0, max: 42 }),
            fc.integer({ min: 1, max: 12 }),
            fc.boolean(),
            async (selection, since, upTo, limit, count) => {
              const matching = all.filter((e) => e.revision <= upTo && selects(e.alarm, selection));
              const page = await findHistory(P1, { selection, since, upTo, limit, count });
              expect(page.entries.map((e) => e.revision)).to.deep.equal(
                matching.filter((e) => e.revision > since).slice(0, limit).map((e) => e.revision),
              );
              expect(page.total).to.equal(count ? matching.length : undefined);
            },
          ),
          { numRuns: 60 },
        );
      });

      it('answers entries as history does, every field included', async function () {
        if (!store.findHistory) this.skip();
        await store.commit([change(FULL), change(alarm('B', 2))]);

        const page = await store.findHistory(P1, { selection: { ids: new Set(['Full']) }, since: 0, upTo: 2, limit: 10, count: true });

        expect(page.total).to.equal(1);
        expect(page.entries.map((e) => ({ ...e, alarm: plain(e.alarm) }))).to.deep.equal([
          { revision: 1, action: 'raise', at: FULL.updatedAt, alarm: plain(FULL) },
        ]);
      });
    });

    describe('#pruneHistory', () => {
      /** 10 raises of A0…A4 committed at times 1001…1010 (revision r at 1000 + r). */
      async function fill(): Promise<void> {
        const changes: AlarmChange[] = [];
        for (let r = 1; r <= 10; r += 1) changes.push(change(alarm(`A${r % 5}`, r, { updatedAt: 1000 + r, count: r > 5 ? 2 : 1 })));
        await store.commit(changes);
      }

      const revisions = async (s: AlarmStore) => (await s.history(P1, 0, 100)).map((e) => e.revision);

      it('removes the entries older than olderThan, at most a batch at a time, and records the last one', async function () {
        if (!store.pruneHistory) this.skip();
        await fill();
        expect(store.prunedRevision?.()).to.equal(0);

        expect(await store.pruneHistory(1007, 0, 4)).to.equal(4);
        expect(await store.pruneHistory(1007, 0, 4)).to.equal(2);
        expect(await store.pruneHistory(1007, 0, 4)).to.equal(0);

        expect(await revisions(store)).to.deep.equal([7, 8, 9, 10]);
        expect(store.prunedRevision?.()).to.equal(6);
      });

      it('keeps the newest keepLast entries', async function () {
        if (!store.pruneHistory) this.skip();
        await fill();

        let removed = 0;
        for (let n = -1; n !== 0; removed += n) n = await store.pruneHistory(0, 3, 2);

        expect(removed).to.equal(7);
        expect(await revisions(store)).to.deep.equal([8, 9, 10]);
        expect(store.prunedRevision?.()).to.equal(7);
      });

      it('never removes what a restart needs: every alarm and the revision stay, and what was pruned', async function () {
        if (!store.pruneHistory) this.skip();
        await fill();
        const before = await store.load();

        await store.pruneHistory(2000, 0, 100);

        const again = await reopen();
        const snapshot = await again.load();
        expect(snapshot.revision).to.equal(10);
        expect(byId(snapshot.alarms)).to.deep.equal(byId(before.alarms));
        expect(await revisions(again)).to.deep.equal([]);
        expect(again.prunedRevision?.()).to.equal(10);
        await again.commit([change(alarm('New', 11, { updatedAt: 1011 }))]);
        expect(await revisions(again)).to.deep.equal([11]);
      });
    });

    describe('durable webhooks', () => {
      /** The store's webhook methods; every store of the suite has them. */
      const hooks = () => {
        if (!keepsWebhooks(store)) return expect.fail(`${kind.name} keeps no webhook state`);
        return store;
      };
      const failure = (e: HistoryEntry, overrides: Partial<WebhookFailure> = {}): WebhookFailure => ({
        webhook: 'ops', entry: e, attempts: 3, error: 'HTTP 500', failedAt: 5000, queued: false, ...overrides,
      });
      const plainEntry = (e: HistoryEntry) => ({ ...e, alarm: plain(e.alarm) });

      it('reads the history of every scope after a revision, oldest first, at most limit', async () => {
        await store.commit([change(alarm('A', 1)), change({ ...alarm('B', 2), project: 'p2' }), change(alarm('C', 3))]);
        await store.commit([change(alarm('A', 4, { count: 2 }), 'reraise')]);
        const all = await hooks().historyAfter(0, 10);
        expect(all.map((e) => `${e.revision} ${e.alarm.project}/${e.alarm.id} ${e.action}`)).to.deep.equal(['1 p1/A raise', '2 p2/B raise', '3 p1/C raise', '4 p1/A reraise']);
        expect((await hooks().historyAfter(1, 2)).map((e) => e.revision)).to.deep.equal([2, 3]);
        expect(await hooks().historyAfter(4, 10)).to.deep.equal([]);
        expect((await hooks().historyAfter(0, 10)).filter((e) => e.alarm.project === 'p1').map(plainEntry)).to.deep.equal((await store.history(P1, 0, 10)).map(plainEntry));
      });

      it('tells by prunedRevision that retention removed changes a reader after an older revision needs', async function () {
        if (!store.pruneHistory) this.skip();
        await store.commit([1, 2, 3, 4].map((r) => change(alarm(`A${r}`, r, { updatedAt: 1000 + r }))));
        await store.pruneHistory(1003, 0, 100);
        expect((await hooks().historyAfter(0, 10)).map((e) => e.revision)).to.deep.equal([3, 4]);
        expect(store.prunedRevision?.()).to.equal(2);
      });

      it('keeps a cursor that only moves forward, with the last delivery and the last error since', async () => {
        expect(await hooks().webhookCursor('ops')).to.equal(undefined);
        await hooks().advanceWebhookCursor('ops', 5);
        await hooks().advanceWebhookCursor('ops', 3, 7000);
        expect(await hooks().webhookCursor('ops')).to.deep.equal({ name: 'ops', revision: 5, deliveredAt: 7000 });
        await hooks().noteWebhookError('ops', 'HTTP 503', 8000);
        await hooks().advanceWebhookCursor('ops', 6);
        expect(await hooks().webhookCursor('ops')).to.deep.equal({ name: 'ops', revision: 6, deliveredAt: 7000, error: 'HTTP 503', errorAt: 8000 });
        await hooks().advanceWebhookCursor('ops', 7, 9000);
        expect(await hooks().webhookCursor('ops')).to.deep.equal({ name: 'ops', revision: 7, deliveredAt: 9000 });
        expect(await hooks().webhookCursor('other')).to.equal(undefined);
        const again = await reopen();
        expect(await (again as AlarmStore & WebhookStore).webhookCursor('ops')).to.deep.equal({ name: 'ops', revision: 7, deliveredAt: 9000 });
      });

      it('keeps dead letters whole, moves the cursor past each, and lists them by scope and queue', async () => {
        await store.commit([change(FULL), change({ ...alarm('B', 2), project: 'p2' }), change(alarm('C', 3))]);
        const [e1, e2, e3] = (await hooks().historyAfter(0, 10)) as [HistoryEntry, HistoryEntry, HistoryEntry];
        await hooks().addWebhookFailure(failure(e3));
        await hooks().addWebhookFailure(failure(e1, { attempts: 1, error: 'HTTP 400' }));
        await hooks().addWebhookFailure(failure(e2));
        await hooks().addWebhookFailure(failure(e1, { webhook: 'other' }));
        expect((await hooks().webhookCursor('ops'))?.revision).to.equal(3);

        const listed = await hooks().webhookFailures('ops', { limit: 10 });
        expect(listed.total).to.equal(3);
        expect(listed.failures.map((f) => ({ ...f, entry: plainEntry(f.entry) }))).to.deep.equal(
          [failure(e1, { attempts: 1, error: 'HTTP 400' }), failure(e2), failure(e3)].map((f) => ({ ...f, entry: plainEntry(f.entry) })),
        );
        expect(plain(listed.failures[0]?.entry.alarm as Alarm)).to.deep.equal(plain(FULL));
        const p1 = await hooks().webhookFailures('ops', { limit: 1, scope: P1 });
        expect({ revisions: p1.failures.map((f) => f.entry.revision), total: p1.total }).to.deep.equal({ revisions: [1], total: 2 });
        expect((await hooks().webhookFailures('ops', { limit: 0 })).failures).to.deep.equal([]);
      });

      it('queues dead letters for another round, by revision and scope, and lets one go once delivered', async () => {
        await store.commit([change(alarm('A', 1)), change({ ...alarm('B', 2), project: 'p2' }), change(alarm('C', 3))]);
        for (const e of await hooks().historyAfter(0, 10)) await hooks().addWebhookFailure(failure(e));
        const queued = async () => (await hooks().webhookFailures('ops', { limit: 10, queued: true })).failures.map((f) => f.entry.revision);

        expect(await hooks().queueWebhookFailures('ops', [1, 2, 99], P1)).to.equal(1);
        expect(await queued()).to.deep.equal([1]);
        expect(await hooks().queueWebhookFailures('ops')).to.equal(3);
        expect(await queued()).to.deep.equal([1, 2, 3]);
        expect(await hooks().queueWebhookFailures('nobody')).to.equal(0);

        // Failing again replaces the dead letter, out of the queue.
        const [e1] = await hooks().historyAfter(0, 1);
        await hooks().addWebhookFailure(failure(e1 as HistoryEntry, { attempts: 6 }));
        expect(await queued()).to.deep.equal([2, 3]);
        await hooks().removeWebhookFailure('ops', 2);
        expect(await queued()).to.deep.equal([3]);

        const again = (await reopen()) as AlarmStore & WebhookStore;
        const kept = await again.webhookFailures('ops', { limit: 10 });
        expect(kept.failures.map((f) => [f.entry.revision, f.attempts, f.queued])).to.deep.equal([[1, 6, false], [3, 3, true]]);
      });
    });

    describe('heartbeats', () => {
      /** The store's heartbeat methods; every store of the suite has them. */
      const beats = (): AlarmStore & HeartbeatStore => {
        if (!keepsHeartbeats(store)) return expect.fail(`${kind.name} keeps no heartbeats`);
        return store;
      };
      const KEY = { ...P1, name: 'backup' };
      const SETTINGS = { timeoutMs: 60_000, severity: 'critical', fieldsJson: '{"job":"pg_dump"}' } as const;

      it('registers with a timeout, beats keeping the settings left out, and answers undefined for an unknown heartbeat without one', async () => {
        expect(await beats().beatHeartbeat(KEY, 1000, {})).to.equal(undefined);
        expect(await beats().heartbeats()).to.deep.equal([]);

        const first = await beats().beatHeartbeat(KEY, 1000, SETTINGS);
        const second = await beats().beatHeartbeat(KEY, 5000, { severity: 'minor' });

        const registered = { ...KEY, ...SETTINGS, lastBeat: 1000, deadline: 61_000, raised: false, createdAt: 1000 };
        expect(first).to.deep.equal({ heartbeat: registered, wasRaised: false, created: true });
        expect(second).to.deep.equal({ heartbeat: { ...registered, severity: 'minor', lastBeat: 5000, deadline: 65_000 }, wasRaised: false, created: false });
        const again = await reopen();
        expect(await (again as AlarmStore & HeartbeatStore).heartbeats(P1)).to.deep.equal([second?.heartbeat]);
      });

      it('lists by scope and name, every scope without one', async () => {
        await beats().beatHeartbeat({ ...P2, name: 'a' }, 1, SETTINGS);
        await beats().beatHeartbeat({ ...P1, name: 'b' }, 1, SETTINGS);
        await beats().beatHeartbeat({ ...P1, name: 'a' }, 1, SETTINGS);

        expect((await beats().heartbeats(P1)).map((h) => h.name)).to.deep.equal(['a', 'b']);
        expect((await beats().heartbeats()).map((h) => `${h.project}/${h.name}`)).to.deep.equal(['p1/a', 'p1/b', 'p2/a']);
      });

      it('answers the heartbeats due, a deadline before start-up only after a timeout from it, and not those marked raised', async () => {
        await beats().beatHeartbeat({ ...P1, name: 'early' }, 0, { ...SETTINGS, timeoutMs: 10_000 });
        await beats().beatHeartbeat({ ...P1, name: 'late' }, 50_000, { ...SETTINGS, timeoutMs: 10_000 });
        await beats().beatHeartbeat({ ...P1, name: 'ahead' }, 50_000, { ...SETTINGS, timeoutMs: 100_000 });
        const due = async (now: number) => (await beats().dueHeartbeats(now, 55_000, 10)).map((h) => h.name);

        // early's deadline (10 s) passed before start-up (55 s): it waits for 55 + 10 s.
        expect(await due(60_000)).to.deep.equal(['late']);
        expect(await due(65_000)).to.deep.equal(['early', 'late']);
        expect(await beats().dueHeartbeats(65_000, 55_000, 1)).to.have.length(1);
        expect(await beats().markHeartbeatRaised({ ...P1, name: 'late' }, 50_000)).to.equal(true);
        expect(await due(65_000)).to.deep.equal(['early']);
      });

      it('marks a lapse raised only while its beat is the one judged, and a beat answers the mark it resets', async () => {
        await beats().beatHeartbeat(KEY, 1000, SETTINGS);

        expect(await beats().markHeartbeatRaised(KEY, 999)).to.equal(false);
        expect(await beats().markHeartbeatRaised(KEY, 1000)).to.equal(true);
        expect((await beats().heartbeats(P1))[0]?.raised).to.equal(true);
        const beat = await beats().beatHeartbeat(KEY, 2000, {});
        expect(beat).to.deep.include({ wasRaised: true, created: false });
        expect(beat?.heartbeat.raised).to.equal(false);
        expect(await beats().markHeartbeatRaised(KEY, 1000)).to.equal(false);
        expect(await beats().markHeartbeatRaised({ ...KEY, name: 'unknown' }, 1000)).to.equal(false);
      });

      it('deletes a heartbeat, answering it, and undefined for an unknown one', async () => {
        await beats().beatHeartbeat(KEY, 1000, SETTINGS);

        expect((await beats().deleteHeartbeat(KEY))?.name).to.equal('backup');
        expect(await beats().deleteHeartbeat(KEY)).to.equal(undefined);
        expect(await beats().heartbeats()).to.deep.equal([]);
      });
    });

    describe('#ping', () => {
      it('resolves on an open store and rejects with a StoreError once it is closed', async () => {
        await store.ping();

        await store.close();

        expect(await rejection(store.ping())).to.be.instanceOf(StoreError);
      });
    });

    if (!kind.shared) return;

    describe('shared by replicas', () => {
      let other: AlarmStore;

      beforeEach(async () => {
        other = await place.open();
        await store.load();
        await other.load();
      });

      it('lets exactly one of two stores commit the same next revision; the other stores nothing', async () => {
        const results = await Promise.allSettled([
          store.commit([change(alarm('Mine', 1)), change(alarm('Mine2', 2))]),
          other.commit([change(alarm('Theirs', 1))]),
        ]);

        const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(refused, 'one refused').to.have.length(1);
        const conflict = (refused[0] as PromiseRejectedResult).reason as StoreConflict;
        expect(conflict).to.be.instanceOf(StoreConflict);
        const winner = results[0]?.status === 'fulfilled' ? ['Mine', 'Mine2'] : ['Theirs'];
        expect(conflict.revision).to.equal(winner.length);
        const snapshot = await store.load();
        expect(snapshot.alarms.map((a) => a.id).sort()).to.deep.equal(winner);
        expect((await other.load()).revision).to.equal(winner.length);
      });

      it('refuses a commit that skips a revision', async () => {
        await store.commit([change(alarm('A', 1))]);

        const err = await rejection(other.commit([change(alarm('B', 3))]));

        expect(err).to.be.instanceOf(StoreConflict);
        expect((err as StoreConflict).revision).to.equal(1);
        expect((err as StoreConflict).message).to.equal('another writer committed first: the store is at revision 1, the commit expected 2');
        expect((await other.load()).alarms.map((a) => a.id)).to.deep.equal(['A']);
      });

      it("answers another store's changes with changesAfter, removals marked, and then takes the loser's commit", async () => {
        await other.commit([change(alarm('A', 1)), change(alarm('B', 2, P2))]);
        await other.commit([change(alarm('A', 3, { updatedAt: 3000 }), 'clear-all', true), change(alarm('B', 4, { ...P2, status: 'CLEARED', clearedAt: 4000 }), 'purge', true)]);
        await other.commit([change(alarm('C', 5, { updatedAt: 5000, ackedBy: 'x', ackedAt: 5000, ackComment: 'c' }), 'ack')]);
        const refused = await rejection(store.commit([change(alarm('Mine', 1))]));
        expect(refused).to.be.instanceOf(StoreConflict);

        const caught = await store.changesAfter?.(1, 3);

        expect(caught?.map((c) => ({ ...c, alarm: plain(c.alarm) }))).to.deep.equal([
          { action: 'raise', removed: false, at: 1000, alarm: plain(alarm('B', 2, P2)) },
          { action: 'clear-all', removed: true, at: 3000, alarm: plain(alarm('A', 3, { updatedAt: 3000 })) },
          { action: 'purge', removed: true, at: 1000, alarm: plain(alarm('B', 4, { ...P2, status: 'CLEARED', clearedAt: 4000 })) },
        ]);
        expect((await store.changesAfter?.(4, 10))?.map((c) => [c.alarm.revision, c.action, c.removed])).to.deep.equal([[5, 'ack', false]]);
        expect(await store.changesAfter?.(5, 10)).to.deep.equal([]);

        await store.commit([change(alarm('Mine', 6))]);
        expect((await other.load()).alarms.map((a) => a.id).sort()).to.deep.equal(['C', 'Mine']);
      });

      it("answers another store's acknowledgement changes with changesAfter, with their expiry and by", async () => {
        const acked = alarm('A', 2, { ackedBy: 'ops', ackedAt: 2000, ackComment: '', ackExpiresAt: 9000, updatedAt: 2000 });
        await other.commit([change(alarm('A', 1)), { ...change(acked, 'ack'), by: 'ops' }]);
        await other.commit([{ ...change(alarm('A', 3, { updatedAt: 9000 }), 'unack'), by: 'ack expired' }]);

        const caught = await store.changesAfter?.(1, 10);

        expect(caught?.map((c) => ({ ...c, alarm: plain(c.alarm) }))).to.deep.equal([
          { action: 'ack', removed: false, at: 2000, by: 'ops', alarm: plain(acked) },
          { action: 'unack', removed: false, at: 9000, by: 'ack expired', alarm: plain(alarm('A', 3, { updatedAt: 9000 })) },
        ]);
      });

      it("answers another store's extensions with expiryExtensions, and none for alarms without one", async () => {
        const a = alarm('A', 1, { expiresAt: 5000 });
        const b = alarm('B', 2, { ...P2, expiresAt: 5000 });
        await other.commit([change(a), change(b)]);
        await other.commit([], [extension(a, 9000)]);

        const found = await store.expiryExtensions?.([b, { ...P1, id: 'Unknown', source: '' }, a]);

        expect(found).to.deep.equal([extension(a, 9000)]);
        expect(await store.expiryExtensions?.([b])).to.deep.equal([]);
        expect(await store.expiryExtensions?.([])).to.deep.equal([]);
      });

      it('commits an extension alone whatever revision the store last saw: it waits for no other commit', async () => {
        const a = alarm('A', 1, { expiresAt: 5000 });
        await store.commit([change(a)]);
        await other.commit([change(alarm('B', 2))]);

        await store.commit([], [extension(a, 9000)]);

        expect((await other.load()).alarms.find((x) => x.id === 'A')?.expiresAt).to.equal(9000);
        expect(await other.expiryExtensions?.([a])).to.deep.equal([extension(a, 9000)]);
      });

      it("calls onRemoteCommit with the revision of another store's commit", async () => {
        const heard: (number | undefined)[] = [];
        let wake: () => void = () => undefined;
        store.onRemoteCommit?.((revision) => {
          heard.push(revision);
          wake();
        });
        const next = () => new Promise<void>((resolve) => (wake = resolve));
        // Called without a revision once it listens: nothing committed before is missed.
        while (heard.length === 0) await next();
        expect(heard).to.deep.equal([undefined]);

        const commit = other.commit([change(alarm('A', 1)), change(alarm('B', 2))]);
        while (heard.length < 2) await next();
        await commit;

        expect(heard).to.deep.equal([undefined, 2]);
      });
    });
  });
}
