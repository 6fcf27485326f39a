import { expect } from 'chai';
import fc from 'fast-check';
import { alarmValue } from '../../../src/alarm/answers.js';
import { SEVERITIES, makeAlarm, serializeAlarm } from '../../../src/alarm/model.js';

const time = fc.integer({ min: 0, max: 4_102_444_800_000 });

/** Alarms in every state an alarm can be in: cleared or not, acknowledged or not, with an expiry or not. */
const alarms = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 20 }),
    source: fc.string({ maxLength: 20 }),
    cleared: fc.boolean(),
    severity: fc.constantFrom(...SEVERITIES),
    fields: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    count: fc.integer({ min: 1, max: 1_000_000 }),
    raisedAt: time,
    updatedAt: time,
    clearedAt: time,
    revision: fc.integer({ min: 1, max: 2 ** 40 }),
    ack: fc.option(fc.record({ by: fc.string({ minLength: 1, maxLength: 10 }), at: time, comment: fc.string({ maxLength: 20 }) })),
    expiresAt: fc.option(time),
  })
  .map((r) =>
    makeAlarm({
      domain: 'd',
      project: 'p',
      id: r.id,
      source: r.source,
      status: r.cleared ? 'CLEARED' : 'ACTIVATED',
      severity: r.severity,
      fieldsJson: JSON.stringify(r.fields),
      count: r.count,
      raisedAt: r.raisedAt,
      updatedAt: r.updatedAt,
      ...(r.cleared && { clearedAt: r.clearedAt }),
      revision: r.revision,
      ...(r.ack && { ackedBy: r.ack.by, ackedAt: r.ack.at, ackComment: r.ack.comment }),
      ...(r.expiresAt !== null && { expiresAt: r.expiresAt }),
    }),
  );

describe('alarmValue', () => {
  it('is the value of the alarm’s JSON text, keys in the same order, for an alarm in any state', () => {
    fc.assert(
      fc.property(alarms, (a) => {
        expect(JSON.stringify(alarmValue(a))).to.equal(serializeAlarm(a));
      }),
      { numRuns: 500 },
    );
  });

  it('hands out a copy of the fields, which the embedder may change without changing the alarm', () => {
    const a = makeAlarm({ domain: 'd', project: 'p', id: 'A', source: '', status: 'ACTIVATED', severity: 'major', fieldsJson: '{"detail":"x"}', count: 1, raisedAt: 0, updatedAt: 0, revision: 1 });
    const v = alarmValue(a);
    v.fields.detail = 'changed';
    expect(a.fields).to.deep.equal({ detail: 'x' });
  });
});
