/**
 * An Alarm Center over each store (SQLite, PostgreSQL) through its embedding API: what a user of
 * the center sees must not depend on the store. Writes, restarts, history pages and filters,
 * retention, expiry and quotas, each on a fresh place per test.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readHistoryCursor } from '../../../src/alarm/cursor.js';
import { HistoryFilterSchema, type HistoryFilter } from '../../../src/alarm/filter.js';
import { SEVERITIES, type AlarmJson } from '../../../src/alarm/model.js';
import type { Lease } from '../../../src/alarm/store.js';
import type { AlarmCenter, AlarmCenterOptions, HistoryEntryJson } from '../../../src/center.js';
import { AlarmCenterError, Codes } from '../../../src/errors.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { waitFor } from '../../helpers/integration.js';
import { STORE_KINDS, type StorePlace } from '../../helpers/postgres.js';
import { rejection } from '../../helpers/promises.js';

const SCOPE = { domain: 'default', project: 'p1' };
const OTHER = { domain: 'default', project: 'p2' };
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

for (const kind of STORE_KINDS) {
  describe(`AlarmCenter on a ${kind.name}`, () => {
    let place: StorePlace;
    let now: number;
    const running: AlarmCenter[] = [];

    beforeEach(async function () {
      place = await kind.place(this);
      now = T0;
    });

    afterEach(async () => {
      for (const c of running.splice(0)) await c.close().catch(() => undefined);
      await place?.dispose();
    });

    /**
     * Starts a center on a new store of the place, with a clock the test moves. Retention runs once
     * at start (awaited here, so that a test's own pass is not that one) and then not for an hour.
     * On a shared store the jobs (expiry, retention) run once the center holds their lease.
     */
    async function start(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
      const store = await place.open();
      const leases: Lease[] = [];
      const lease = store.lease?.bind(store);
      if (lease) store.lease = (name) => leases[leases.push(lease(name)) - 1] as Lease;
      const center = await openCore({ store, clock: () => now, retentionIntervalMs: 3_600_000, ...options });
      running.push(center);
      if (lease) await waitFor('the leases of the jobs', () => leases.length > 0 && leases.every((l) => l.held));
      await partsOf(center).retention.runOnce();
      return center;
    }

    async function restart(center: AlarmCenter, options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
      running.splice(running.indexOf(center), 1);
      await center.close();
      return start(options);
    }

    const listed = (center: AlarmCenter, scope = SCOPE) => center.list(scope).alarms.map((a) => [a.id, a.status, a.count]);

    it('serves after a restart every alarm and revision it answered before', async () => {
      const center = await start();
      await center.raise(SCOPE, { id: 'Disk', source: 'host-1', severity: 'critical', fields: { detail: 'disk 95 % full', pct: 95 }, ttlSeconds: 3600 });
      now += 1000;
      await center.raise(SCOPE, { id: 'Disk', source: 'host-1', severity: 'critical', fields: { detail: 'disk 97 % full', pct: 97 }, ttlSeconds: 3600 });
      await center.ack(SCOPE, 'Disk', { by: 'ops', comment: 'on it', source: 'host-1' });
      await center.raise(SCOPE, { id: 'Net' });
      await center.clear(SCOPE, 'Net');
      await center.raise(OTHER, { id: 'Gone' });
      await center.clearAll(OTHER);
      const before = center.list(SCOPE);

      const again = await restart(center);

      expect(again.list(SCOPE)).to.deep.equal(before);
      expect(again.list(OTHER).alarms).to.deep.equal([]);
      expect((again.list(SCOPE).alarms[0] as AlarmJson).fields).to.deep.equal({ detail: 'disk 97 % full', pct: 97 });
      await again.raise(SCOPE, { id: 'Net' });
      expect(again.list(SCOPE).revision).to.equal(before.revision + 1);
    });

    it('pages the history with cursors and totals, as one read of the whole of it', async () => {
      const center = await start();
      for (let i = 0; i < 25; i += 1) {
        now += 1000;
        await center.raise(SCOPE, { id: `A${i % 6}`, severity: SEVERITIES[i % 5] });
        if (i % 4 === 3) await center.clear(SCOPE, `A${i % 6}`);
      }
      const whole = (await center.history(SCOPE, { minSeverity: 'minor' })).history;

      const pages: HistoryEntryJson[][] = [];
      let answer = await center.history(SCOPE, { minSeverity: 'minor', limit: 4 });
      for (;;) {
        pages.push(answer.history);
        expect(answer.total).to.equal(whole.length);
        if (answer.next === undefined) break;
        answer = await center.history(SCOPE, { minSeverity: 'minor', limit: 4, cursor: answer.next });
      }

      expect(pages.flat()).to.deep.equal(whole);
      expect(pages.slice(0, -1).every((p) => p.length === 4)).to.equal(true);
    });

    it('answers filtered history as a filter of the whole history does', async function () {
      this.timeout(60_000);
      const center = await start();
      for (let i = 0; i < 40; i += 1) {
        now += 1000;
        const id = ['A', 'B', 'C'][i % 3] as string;
        const source = i % 2 === 0 ? '' : 's1';
        if (i % 7 === 3) await center.clear(SCOPE, id, source).catch(() => undefined);
        else if (i % 5 === 4) await center.ack(SCOPE, id, { by: 'ops', source }).catch(() => undefined);
        else await center.raise(SCOPE, { id, source, severity: SEVERITIES[i % 5] });
      }
      const all = await partsOf(center).store.history(SCOPE, 0, 1000);
      const last = all.at(-1)?.revision ?? 0;
      const filters: fc.Arbitrary<HistoryFilter> = fc.record(
        {
          id: fc.subarray(['A', 'B', 'C'], { minLength: 1 }),
          source: fc.constantFrom('', 's1'),
          minSeverity: fc.constantFrom(...SEVERITIES),
          acknowledged: fc.boolean(),
          updatedSince: fc.integer({ min: 0, max: 41 }).map((s) => T0 + s * 1000),
          since: fc.integer({ min: 0, max: last + 1 }),
          limit: fc.integer({ min: 1, max: 15 }),
        },
        { requiredKeys: [] },
      );

      await fc.assert(
        fc.asyncProperty(filters, fc.integer({ min: 0, max: last }), async (f, upTo) => {
          const { selection, since, limit } = HistoryFilterSchema.parse(f);
          const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);
          const matching = all.filter(
            (e) =>
              e.revision <= upTo &&
              (selection.ids === undefined || selection.ids.has(e.alarm.id)) &&
              (f.source === undefined || e.alarm.source === f.source) &&
              (f.minSeverity === undefined || rank(e.alarm.severity) <= rank(f.minSeverity)) &&
              (f.acknowledged === undefined || (e.alarm.ackedAt !== undefined) === f.acknowledged) &&
              (f.updatedSince === undefined || e.alarm.updatedAt >= (f.updatedSince as number)),
          );
          const after = matching.filter((e) => e.revision > since);

          const r = await partsOf(center).service.findHistory(SCOPE, HistoryFilterSchema.parse(f), upTo);

          expect(r.history.map((e) => e.revision)).to.deep.equal(after.slice(0, limit).map((e) => e.revision));
          expect(r.total).to.equal(f.limit === undefined ? undefined : matching.length);
          expect(r.next === undefined ? undefined : readHistoryCursor(r.next)).to.equal(after.length > limit ? after[limit - 1]?.revision : undefined);
        }),
        { numRuns: 150 },
      );
    });

    it('keeps the newest history entries it is told to, and a restart still serves every alarm', async () => {
      const center = await start({ historyMaxEntries: 5 });
      for (let i = 0; i < 12; i += 1) await center.raise(SCOPE, { id: `A${i}` });

      const { retention, store } = partsOf(center);
      // A pass the jobs lease started during the raises may be under way, and runOnce shares it: pass again until the policy holds.
      await waitFor('the history cut to its newest 5 entries', async () => {
        await retention.runOnce();
        return (await center.history(SCOPE)).history.length === 5;
      });

      expect((await center.history(SCOPE)).history.map((e) => e.revision)).to.deep.equal([8, 9, 10, 11, 12]);
      expect(store.prunedRevision?.()).to.equal(7);
      const again = await restart(center);
      expect(again.list(SCOPE).alarms).to.have.length(12);
      expect(again.list(SCOPE).revision).to.equal(12);
    });

    it('takes CLEARED alarms out of the list after their time, as PURGE changes', async () => {
      const center = await start({ clearedRetentionSeconds: 3600 });
      await center.raise(SCOPE, { id: 'Old' });
      await center.clear(SCOPE, 'Old');
      await center.raise(SCOPE, { id: 'Active' });
      now += 4_000_000;

      await partsOf(center).retention.runOnce();

      expect(listed(center)).to.deep.equal([['Active', 'ACTIVATED', 1]]);
      expect((await center.history(SCOPE)).history.map((e) => [e.action, e.alarm.id])).to.deep.equal([
        ['RAISE', 'Old'],
        ['CLEAR', 'Old'],
        ['RAISE', 'Active'],
        ['PURGE', 'Old'],
      ]);
      expect(listed(await restart(center))).to.deep.equal([['Active', 'ACTIVATED', 1]]);
    });

    it('expires at start-up what ran out while it was down, at the time it expired', async () => {
      const first = await start();
      await first.raise(SCOPE, { id: 'Overdue', ttlSeconds: 60 });
      await first.raise(SCOPE, { id: 'Later', ttlSeconds: 600 });
      now += 300_000;

      const second = await restart(first);
      await waitFor('the overdue alarm to expire', () => second.list(SCOPE).alarms.some((a) => a.status === 'CLEARED'));

      const byId = (alarms: AlarmJson[]) => [...alarms].sort((a, b) => a.id.localeCompare(b.id)).map((a) => [a.id, a.status, a.clearedAt]);
      expect(byId(second.list(SCOPE).alarms)).to.deep.equal([
        ['Later', 'ACTIVATED', undefined],
        ['Overdue', 'CLEARED', new Date(T0 + 60_000).toISOString()],
      ]);
      expect(byId((await restart(second)).list(SCOPE).alarms)).to.deep.equal([
        ['Later', 'ACTIVATED', undefined],
        ['Overdue', 'CLEARED', new Date(T0 + 60_000).toISOString()],
      ]);
    });

    it('refuses a raise past maxAlarmsPerScope, storing nothing of it', async () => {
      const center = await start({ maxAlarmsPerScope: 2 });
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'B' });

      const err = await rejection(center.apply(SCOPE, [{ id: 'A' }, { id: 'C' }]));

      expect(err).to.be.instanceOf(AlarmCenterError);
      expect((err as AlarmCenterError).code).to.equal(Codes.QuotaExceeded);
      expect(listed(await restart(center, { maxAlarmsPerScope: 2 }))).to.deep.equal([
        ['A', 'ACTIVATED', 1],
        ['B', 'ACTIVATED', 1],
      ]);
    });
  });
}
