/**
 * Filtered history reads: SQLite's `findHistory` (filters in SQL) and the service's scan of a
 * store that has only `history` (filters in JavaScript) must answer the same entries, totals and
 * cursors as a model that filters the whole history, for random filters and pages.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readHistoryCursor } from '../../../src/alarm/cursor.js';
import { HistoryFilterSchema, type HistoryFilter } from '../../../src/alarm/filter.js';
import { SEVERITIES, type Alarm } from '../../../src/alarm/model.js';
import { AlarmService } from '../../../src/alarm/service.js';
import type { AlarmStore, HistoryEntry } from '../../../src/alarm/store.js';
import { type AlarmCenter } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';

const SCOPE = { domain: 'default', project: 'p1' };
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const IDS = ['A', 'B', 'C'];
const SOURCES = ['', 's1'];

describe('AlarmService', () => {
  describe('#findHistory', () => {
    let now: number;
    let center: AlarmCenter;
    let all: HistoryEntry[];

    before(async () => {
      now = T0;
      center = await openCore({ dataDir: ':memory:', clock: () => now });
      for (let i = 0; i < 60; i += 1) {
        now += 1000;
        const id = IDS[i % 3] as string;
        const source = SOURCES[i % 2] as string;
        if (i % 7 === 3) await center.clear(SCOPE, id, source).catch(() => undefined);
        else if (i % 5 === 4) await center.ack(SCOPE, id, { by: 'ops', source }).catch(() => undefined);
        else await center.raise(SCOPE, { id, source, severity: SEVERITIES[i % 5] });
        if (i % 11 === 10) await center.raise({ domain: 'default', project: 'other' }, { id });
      }
      all = await partsOf(center).store.history(SCOPE, 0, 10_000);
    });

    after(() => center.close());

    const filters: fc.Arbitrary<HistoryFilter> = fc.record(
      {
        id: fc.subarray(IDS, { minLength: 1 }),
        source: fc.constantFrom(...SOURCES),
        severity: fc.constantFrom(...SEVERITIES),
        minSeverity: fc.constantFrom(...SEVERITIES),
        acknowledged: fc.boolean(),
        // The fixture's updates are a second apart: hit them exactly, and just past them.
        updatedSince: fc.tuple(fc.integer({ min: 0, max: 61 }), fc.constantFrom(0, 1)).map(([s, ms]) => T0 + s * 1000 + ms),
        since: fc.integer({ min: 0, max: 80 }),
        limit: fc.integer({ min: 1, max: 30 }),
      },
      { requiredKeys: [] },
    );

    /** The model: the whole history, filtered in plain code. */
    function expected(f: HistoryFilter, upTo: number) {
      const ids = f.id === undefined ? undefined : typeof f.id === 'string' ? [f.id] : f.id;
      const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);
      const take = (a: Alarm) =>
        (ids === undefined || ids.includes(a.id)) &&
        (f.source === undefined || a.source === f.source) &&
        (f.severity === undefined || a.severity === f.severity) &&
        (f.minSeverity === undefined || rank(a.severity) <= rank(f.minSeverity)) &&
        (f.acknowledged === undefined || (a.ackedAt !== undefined) === f.acknowledged) &&
        (f.updatedSince === undefined || a.updatedAt >= (f.updatedSince as number));
      const matching = all.filter((e) => e.revision <= upTo && take(e.alarm));
      const after = matching.filter((e) => e.revision > ((f.since as number | undefined) ?? 0));
      const limit = f.limit ?? 1000;
      return { revisions: after.slice(0, limit).map((e) => e.revision), more: after.length > limit, total: matching.length };
    }

    it('answers what a filter of the whole history answers, in SQL and in the scan of a plain store', async () => {
      const store = partsOf(center).store;
      const plain: AlarmStore = {
        load: () => store.load(),
        commit: (changes) => store.commit(changes),
        history: (scope, since, limit) => store.history(scope, since, limit),
        ping: () => store.ping(),
        close: () => store.close(),
      };
      const scanning = new AlarmService({ bus: partsOf(center).bus, index: partsOf(center).index, store: plain });
      const last = (all.at(-1) as HistoryEntry).revision;
      await fc.assert(
        fc.asyncProperty(filters, fc.integer({ min: 0, max: last }), async (f, upTo) => {
          const want = expected(f, upTo);
          const request = HistoryFilterSchema.parse(f);
          for (const service of [partsOf(center).service, scanning]) {
            const r = await service.findHistory(SCOPE, request, upTo);
            expect(r.history.map((e) => e.revision)).to.deep.equal(want.revisions);
            expect(r.revision).to.equal(upTo);
            expect(r.total).to.equal(f.limit === undefined ? undefined : want.total);
            expect(r.next === undefined ? undefined : readHistoryCursor(r.next)).to.equal(want.more ? want.revisions.at(-1) : undefined);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
