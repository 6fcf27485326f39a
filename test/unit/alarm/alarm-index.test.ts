/**
 * The index's pages against a model: random programs raise, re-raise, acknowledge and remove
 * alarms (one at a time, and in batches large enough to make the index sort again) and read
 * pages between them; every full walk of the pages must give the model's alarms in (id, source)
 * order, filtered, each once, with the model's total.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import type { ListKey } from '../../../src/alarm/cursor.js';
import type { AlarmSelection } from '../../../src/alarm/filter.js';
import { SEVERITIES, makeAlarm, type Alarm, type AlarmChange, type Severity } from '../../../src/alarm/model.js';

const SCOPE = { domain: 'd', project: 'p' };
const IDS = ['a', 'B', 'b', 'c', 'a.1'];
const SOURCES = ['', 'x', 'y', 'X'];

type Step =
  | { kind: 'put'; id: string; source: string; severity: Severity; acked: boolean }
  | { kind: 'remove'; id: string; source: string }
  | { kind: 'bulk'; size: number; remove: boolean }
  | { kind: 'walk'; limit: number; severity?: Severity };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), id: fc.constantFrom(...IDS), source: fc.constantFrom(...SOURCES), severity: fc.constantFrom(...SEVERITIES), acked: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...IDS), source: fc.constantFrom(...SOURCES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bulk' as const), size: fc.integer({ min: 1, max: 400 }), remove: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('walk' as const), limit: fc.integer({ min: 1, max: 7 }), severity: fc.option(fc.constantFrom(...SEVERITIES), { nil: undefined }) }) },
);

const keyOf = (a: { id: string; source: string }) => `${a.id}\u0000${a.source}`;
const byKey = (a: Alarm, b: Alarm) => (a.id !== b.id ? (a.id < b.id ? -1 : 1) : a.source < b.source ? -1 : a.source > b.source ? 1 : 0);

describe('AlarmIndex', () => {
  describe('#page', () => {
    it('walks the alarms in (id, source) order, each once, while the index changes between walks', () => {
      fc.assert(
        fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
          const index = new AlarmIndex();
          const model = new Map<string, Alarm>();
          let revision = 0;
          const alarm = (id: string, source: string, severity: Severity, acked: boolean) => {
            revision += 1;
            return makeAlarm({
              ...SCOPE, id, source, status: 'ACTIVATED', severity, fieldsJson: '{}', count: 1,
              raisedAt: revision, updatedAt: revision, revision, ...(acked && { ackedAt: revision, ackedBy: 'ops' }),
            });
          };
          const apply = (changes: AlarmChange[]) => {
            index.apply(changes);
            for (const c of changes) {
              if (c.removed) model.delete(keyOf(c.alarm));
              else model.set(keyOf(c.alarm), c.alarm);
            }
          };
          const put = (a: Alarm): AlarmChange => ({ action: 'raise', alarm: a, removed: false, at: a.updatedAt });
          for (const s of steps) {
            if (s.kind === 'put') apply([put(alarm(s.id, s.source, s.severity, s.acked))]);
            else if (s.kind === 'remove') {
              const old = model.get(keyOf(s));
              if (old) apply([{ action: 'purge', alarm: old, removed: true, at: revision }]);
            } else if (s.kind === 'bulk') {
              const changes: AlarmChange[] = [...model.values()].filter(() => s.remove).map((a) => ({ action: 'purge', alarm: a, removed: true, at: revision }));
              for (let i = 0; i < s.size; i += 1) changes.push(put(alarm(`n${revision}`, String(i % 3), 'major', false)));
              apply(changes);
            } else {
              const selection: AlarmSelection = s.severity ? { severities: new Set([s.severity]) } : {};
              const expected = [...model.values()].filter((a) => !s.severity || a.severity === s.severity).sort(byKey);
              const seen: Alarm[] = [];
              let after: ListKey | undefined;
              for (let pages = 0; ; pages += 1) {
                expect(pages, 'pages').to.be.at.most(expected.length + 1);
                const page = index.page(SCOPE, selection, { limit: s.limit, ...(after && { after }) });
                expect(page.total).to.equal(expected.length);
                seen.push(...page.alarms);
                if (!page.next) break;
                after = page.next;
              }
              expect(seen.map(keyOf)).to.deep.equal(expected.map(keyOf));
              expect(seen).to.deep.equal(expected);
            }
          }
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('#firstActive', () => {
    it('follows an alarm through raise, clear, raise again, re-raise and removal', () => {
      const index = new AlarmIndex();
      let revision = 0;
      const change = (status: 'ACTIVATED' | 'CLEARED', count = 1, removed = false): AlarmChange => {
        revision += 1;
        const alarm = makeAlarm({
          ...SCOPE, id: 'A', source: 'x', status, severity: 'major', fieldsJson: '{}', count,
          raisedAt: 1, updatedAt: revision, revision, ...(status === 'CLEARED' && { clearedAt: revision }),
        });
        return { action: removed ? 'purge' : 'raise', alarm, removed, at: revision };
      };
      const active = () => index.firstActive(SCOPE, ['A']);

      index.apply([change('ACTIVATED')]);
      expect(active()?.revision).to.equal(1);
      index.apply([change('CLEARED')]);
      expect(active()).to.equal(undefined);
      index.apply([change('ACTIVATED')]);
      expect(active()?.revision).to.equal(3);
      index.apply([change('ACTIVATED', 2)]);
      expect(active()).to.include({ revision: 4, count: 2 });
      index.apply([change('ACTIVATED', 2, true)]);
      expect(active()).to.equal(undefined);
      expect(index.counts()).to.deep.equal([{ status: 'ACTIVATED', severity: 'major', count: 0 }, { status: 'CLEARED', severity: 'major', count: 0 }]);
    });
  });

  describe('#size and #fieldsBytes', () => {
    it('follow the stored alarms of every scope through raises, fields replaced, removals and system alarms', () => {
      const index = new AlarmIndex();
      let revision = 0;
      const alarm = (project: string, id: string, fieldsJson: string) => {
        revision += 1;
        return makeAlarm({
          domain: 'd', project, id, source: '', status: 'ACTIVATED', severity: 'major', fieldsJson, count: 1,
          raisedAt: revision, updatedAt: revision, revision,
        });
      };
      const put = (a: Alarm): AlarmChange => ({ action: 'raise', alarm: a, removed: false, at: a.updatedAt });
      const a = alarm('p', 'A', '{"detail":"€"}');
      const b = alarm('q', 'A', '{}');

      index.apply([put(a), put(b)]);
      expect([index.size, index.fieldsBytes]).to.deep.equal([2, 16 + 2]);
      index.apply([put(alarm('q', 'A', '{"detail":"longer"}'))]);
      expect([index.size, index.fieldsBytes]).to.deep.equal([2, 16 + 19]);
      index.setSystem(alarm('', 'BackendConnectionRefuse', '{"detail":"not counted"}'));
      index.apply([{ action: 'purge', alarm: a, removed: true, at: revision }]);
      expect([index.size, index.fieldsBytes]).to.deep.equal([1, 19]);
      index.apply([{ action: 'purge', alarm: a, removed: true, at: revision }]);
      expect([index.size, index.fieldsBytes], 'removing an alarm no longer held changes nothing').to.deep.equal([1, 19]);
    });
  });
});
