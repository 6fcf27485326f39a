import { expect } from 'chai';
import { parsePostableAlerts } from '../../../src/intake/alertmanager.js';
import { FieldsJsonCache } from '../../../src/intake/fields-cache.js';
import type { IntakeOp } from '../../../src/intake/op.js';

const NOW = Date.UTC(2026, 0, 15, 12);
const RESOLVE = 5 * 60_000;

const firing = (over: Record<string, unknown> = {}) => ({
  labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'critical' },
  annotations: { summary: 'host:9100 is down' },
  startsAt: '2026-01-15T11:55:00Z',
  endsAt: '2026-01-15T12:04:00Z',
  generatorURL: 'http://prometheus:9090/graph',
  ...over,
});

type Raise = Extract<IntakeOp, { kind: 'raise' }>;
const raiseOf = (cache: FieldsJsonCache, alert: Record<string, unknown>) => parsePostableAlerts([alert], NOW, RESOLVE, cache).ops[0] as Raise;
/** The raise read without a cache: what every raise must match but for `fields`. */
const uncached = (alert: Record<string, unknown>) => parsePostableAlerts([alert], NOW, RESOLVE).ops[0] as Raise;
const withoutFields = ({ fields: _, ...rest }: Raise) => rest;

describe('FieldsJsonCache', () => {
  it('gives an alert re-sent unchanged but for endsAt the text read the first time, without serializing the fields again', () => {
    const cache = new FieldsJsonCache(10);
    const first = raiseOf(cache, firing());

    const again = raiseOf(cache, firing({ endsAt: '2026-01-15T12:05:00Z' }));

    expect(again.fieldsJson).to.equal(first.fieldsJson);
    expect(again.fields, 'not made again').to.equal(undefined);
    expect(withoutFields(again)).to.deep.equal(withoutFields(uncached(firing({ endsAt: '2026-01-15T12:05:00Z' }))));
  });

  for (const [what, over] of [
    ['an annotation changed', { annotations: { summary: 'host:9100 is down again' } }],
    ['an annotation added', { annotations: { summary: 'host:9100 is down', runbook: 'http://wiki/x' } }],
    ['an annotation removed', { annotations: {} }],
    ['another generatorURL', { generatorURL: 'http://prometheus-2:9090/graph' }],
    ['no generatorURL', { generatorURL: undefined }],
    ['another startsAt', { startsAt: '2026-01-15T11:56:00Z' }],
  ] as const) {
    it(`reads the fields anew when ${what}`, () => {
      const cache = new FieldsJsonCache(10);
      raiseOf(cache, firing());

      const changed = raiseOf(cache, firing(over));

      expect(changed.fieldsJson).to.equal(uncached(firing(over)).fieldsJson);
      expect(JSON.parse(changed.fieldsJson as string)).to.deep.equal(changed.fields);
    });
  }

  it('keeps alerts of different label sets apart', () => {
    const cache = new FieldsJsonCache(10);
    raiseOf(cache, firing());

    const other = raiseOf(cache, firing({ labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'warning' } }));

    expect(JSON.parse(other.fieldsJson as string).labels.severity).to.equal('warning');
    expect(cache.size).to.equal(2);
  });

  it('holds at most its number of entries, dropping those used least recently', () => {
    const cache = new FieldsJsonCache(4);
    const alert = (n: number) => firing({ labels: { alertname: 'HostDown', instance: `host-${n}` } });
    for (const n of [1, 2, 3, 4]) raiseOf(cache, alert(n));
    raiseOf(cache, alert(1));

    for (const n of [5, 6]) raiseOf(cache, alert(n));

    expect(cache.size).to.be.at.most(4);
    expect(raiseOf(cache, alert(2)).fields, 'unused since: dropped, read anew').to.not.equal(undefined);
    expect(raiseOf(cache, alert(6)).fields, 'the newest: held').to.equal(undefined);
  });

  it('stays within its number of entries under a stream of new alerts', () => {
    const cache = new FieldsJsonCache(100);

    for (let n = 0; n < 10_000; n += 1) raiseOf(cache, firing({ labels: { alertname: 'HostDown', instance: `host-${n}` } }));

    expect(cache.size).to.be.within(50, 100);
  });
});
