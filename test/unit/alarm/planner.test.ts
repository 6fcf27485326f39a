/**
 * The planner alone, without bus, store or clock: every kind of write against a small hand-made
 * view whose inputs are deep-frozen, the writes of one batch planned over an Overlay of the
 * writes before them, and a property: writes planned one batch each or all in one batch leave the
 * same alarms and give the same answers.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import type { AlarmOp, WriteRequest } from '../../../src/alarm/event.js';
import { makeAlarm, SEVERITIES, type Alarm, type AlarmChange, type AlarmState, type Scope } from '../../../src/alarm/model.js';
import { Overlay, planWrite, type AlarmView, type PlanRules, type WritePlan } from '../../../src/alarm/planner.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const NOW = T0 + 60_000;
const SCOPE: Scope = { domain: 'd', project: 'p' };
const OTHER: Scope = { domain: 'd', project: 'other' };

/** Freezes a value and everything it holds, so any change to it throws. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}

/** An alarm of SCOPE (unless `state` names another), ACTIVATED, raised at T0 with revision 1. */
function alarm(id: string, state: Partial<AlarmState> = {}): Alarm {
  return makeAlarm({
    ...SCOPE, id, source: '', status: 'ACTIVATED', severity: 'major', fieldsJson: '{}',
    count: 1, raisedAt: T0, updatedAt: T0, revision: 1, ...state,
  });
}

/** A CLEARED alarm, cleared at `clearedAt`. */
function clearedAlarm(id: string, clearedAt: number, state: Partial<AlarmState> = {}): Alarm {
  return alarm(id, { status: 'CLEARED', updatedAt: clearedAt, clearedAt, ...state });
}

/** A read-only view over a frozen list of alarms, in list order. */
function viewOf(alarms: readonly Alarm[], revision: number): AlarmView {
  const list = deepFreeze([...alarms]);
  const sameScope = (a: Alarm, s: Scope) => a.domain === s.domain && a.project === s.project;
  return deepFreeze({
    revision,
    get: (s: Scope, id: string, source: string) => list.find((a) => sameScope(a, s) && a.id === id && a.source === source),
    scopeAlarms: (s: Scope) => list.filter((a) => sameScope(a, s)),
    canonical: (s: Scope, id: string) => ({ domain: s.domain, project: s.project, id }),
  });
}

/** Everything an alarm says, absent optional fields as undefined, so a partial can name their absence. */
function brief(a: Alarm) {
  return {
    scope: `${a.domain}/${a.project}`, id: a.id, source: a.source, status: a.status, severity: a.severity,
    fields: a.fields, count: a.count, raisedAt: a.raisedAt, updatedAt: a.updatedAt, clearedAt: a.clearedAt,
    revision: a.revision, ackedBy: a.ackedBy, ackedAt: a.ackedAt, ackComment: a.ackComment, ackExpiresAt: a.ackExpiresAt,
    expiresAt: a.expiresAt,
  };
}

type Brief = Partial<ReturnType<typeof brief>>;

interface Case {
  name: string;
  view: Alarm[];
  ops: AlarmOp[];
  scope?: Scope;
  /** The refusal's code; or else the changes (action, removed, alarm after) and the answer. */
  refused?: string;
  /** Each change: its action, whether it removes the alarm, the alarm after it, and its `by` when given. */
  changes?: { action: string; removed?: boolean; alarm: Brief; by?: string }[];
  answer?: Brief[];
  revision?: number;
  growth?: { alarms: number; fieldsBytes: number };
  /** The expiries moved without a change (re-sends), each alarm as extended; none unless given. */
  extensions?: Brief[];
}

const VIEW_REVISION = 10;

function expectPlan(plan: WritePlan, c: Case): void {
  if (c.refused !== undefined) {
    expect(plan.ok, 'refused').to.equal(false);
    if (!plan.ok) expect(plan.error.code).to.equal(c.refused);
    return;
  }
  if (!plan.ok) return expect.fail(`refused: ${plan.error.message}`);
  expect(plan.planned.changes.map((ch) => ch.action), 'actions').to.deep.equal((c.changes ?? []).map((ch) => ch.action));
  for (const [i, want] of (c.changes ?? []).entries()) {
    const got = plan.planned.changes[i] as AlarmChange;
    expect(got.removed, `change ${i} removed`).to.equal(want.removed ?? false);
    expect(got.at, `change ${i} at`).to.equal(NOW);
    if ('by' in want) expect(got.by, `change ${i} by`).to.equal(want.by);
    expect(brief(got.alarm), `change ${i}`).to.deep.include(want.alarm);
  }
  expect(plan.result.alarms.length, 'answered alarms').to.equal((c.answer ?? []).length);
  for (const [i, want] of (c.answer ?? []).entries()) expect(brief(plan.result.alarms[i] as Alarm), `answer ${i}`).to.deep.include(want);
  expect(plan.result.revision, 'revision').to.equal(c.revision ?? VIEW_REVISION + plan.planned.changes.length);
  if (c.growth) expect(plan.planned.growth).to.deep.equal(c.growth);
  const extensions = [...plan.planned.extensions.values()];
  expect(extensions.length, 'extensions').to.equal((c.extensions ?? []).length);
  for (const [i, want] of (c.extensions ?? []).entries()) expect(brief(extensions[i] as Alarm), `extension ${i}`).to.deep.include(want);
}

const acked = { ackedBy: 'ops', ackedAt: T0 + 1000, ackComment: 'on it' };
const NO_ACK = { ackedBy: undefined, ackedAt: undefined, ackComment: undefined, ackExpiresAt: undefined };
/** An acknowledgement given at T0 + 1 s with a TTL running out at T0 + 90 s, after NOW. */
const ACK_DEADLINE = T0 + 90_000;
const ackedUntil = { ...acked, ackExpiresAt: ACK_DEADLINE };

const CASES: Record<string, Case[]> = {
  raise: [
    {
      name: 'raises a new alarm: count 1, raised and updated now, the default severity',
      view: [],
      ops: [{ kind: 'raise', id: 'A', source: 's', fields: { detail: 'x' } }],
      changes: [{ action: 'raise', alarm: { id: 'A', source: 's', status: 'ACTIVATED', severity: 'indeterminate', count: 1, raisedAt: NOW, updatedAt: NOW, revision: 11, fields: { detail: 'x' }, ...NO_ACK } }],
      answer: [{ id: 'A', revision: 11 }],
      growth: { alarms: 1, fieldsBytes: Buffer.byteLength('{"detail":"x"}') },
    },
    {
      name: 're-raises an ACTIVATED alarm: count + 1, updatedAt moves, raisedAt, severity and acknowledgement stay',
      view: [alarm('A', { count: 2, ...acked })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {} }],
      changes: [{ action: 'reraise', alarm: { count: 3, raisedAt: T0, updatedAt: NOW, severity: 'major', revision: 11, ...acked } }],
      answer: [{ count: 3 }],
      growth: { alarms: 0, fieldsBytes: 0 },
    },
    {
      name: 're-raises an alarm acknowledged with a TTL: the acknowledgement stays with its expiry',
      view: [alarm('A', ackedUntil)],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, ttlSeconds: 30 }],
      changes: [{ action: 'reraise', alarm: { count: 2, updatedAt: NOW, expiresAt: NOW + 30_000, ...ackedUntil } }],
      answer: [{ ...ackedUntil }],
    },
    {
      name: 'raises a CLEARED alarm as a new activation: count 1, raised now, no clearedAt',
      view: [clearedAlarm('A', T0 + 5000, { count: 4 })],
      ops: [{ kind: 'raise', id: 'A', source: '', severity: 'critical', fields: {} }],
      changes: [{ action: 'raise', alarm: { status: 'ACTIVATED', severity: 'critical', count: 1, raisedAt: NOW, clearedAt: undefined } }],
      answer: [{ count: 1 }],
      growth: { alarms: 0, fieldsBytes: 0 },
    },
    {
      name: 'sets the expiry of a raise with a TTL, and a re-raise without one drops it',
      view: [alarm('A', { expiresAt: T0 + 5000 })],
      ops: [{ kind: 'raise', id: 'B', source: '', fields: {}, ttlSeconds: 30 }, { kind: 'raise', id: 'A', source: '', fields: {} }],
      changes: [{ action: 'raise', alarm: { id: 'B', expiresAt: NOW + 30_000 } }, { action: 'reraise', alarm: { id: 'A', expiresAt: undefined } }],
      answer: [{ id: 'B' }, { id: 'A' }],
    },
    {
      name: 'sees its own earlier operations: two raises of one new alarm in one write count 2',
      view: [],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {} }, { kind: 'raise', id: 'A', source: '', fields: {} }],
      changes: [{ action: 'raise', alarm: { count: 1, revision: 11 } }, { action: 'reraise', alarm: { count: 2, revision: 12 } }],
      answer: [{ count: 1 }, { count: 2 }],
      growth: { alarms: 1, fieldsBytes: 2 },
    },
  ],
  'raise with an expiry, re-sent': [
    {
      name: 'sets the expiry it is given, which wins over a TTL',
      view: [],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, ttlSeconds: 30, expiresAt: NOW + 300_000 }],
      changes: [{ action: 'raise', alarm: { count: 1, expiresAt: NOW + 300_000 } }],
      answer: [{ expiresAt: NOW + 300_000 }],
    },
    {
      name: 'moves only the expiry of an ACTIVATED alarm re-sent unchanged: no change, the alarm answered at its revision and count',
      view: [alarm('A', { count: 2, fieldsJson: '{"detail":"x"}', expiresAt: NOW + 1000, ...acked })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: { detail: 'x' }, expiresAt: NOW + 300_000, resend: true }],
      changes: [],
      answer: [{ count: 2, revision: 1, updatedAt: T0, raisedAt: T0, expiresAt: NOW + 300_000, ...acked }],
      extensions: [{ id: 'A', count: 2, revision: 1, updatedAt: T0, expiresAt: NOW + 300_000, ...acked }],
      revision: VIEW_REVISION,
      growth: { alarms: 0, fieldsBytes: 0 },
    },
    {
      name: 'moves the expiry of a re-send with a TTL to now plus the TTL, and of one naming the severity the alarm has',
      view: [alarm('A', { expiresAt: NOW + 1000 })],
      ops: [{ kind: 'raise', id: 'A', source: '', severity: 'major', fields: {}, ttlSeconds: 60, resend: true }],
      changes: [],
      answer: [{ count: 1, revision: 1, expiresAt: NOW + 60_000 }],
      extensions: [{ id: 'A', revision: 1, expiresAt: NOW + 60_000 }],
      revision: VIEW_REVISION,
    },
    {
      name: 'gives an expiry to an ACTIVATED alarm that had none, re-sent unchanged with one',
      view: [alarm('A')],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, expiresAt: NOW + 300_000, resend: true }],
      changes: [],
      answer: [{ count: 1, revision: 1, expiresAt: NOW + 300_000 }],
      extensions: [{ id: 'A', expiresAt: NOW + 300_000 }],
      revision: VIEW_REVISION,
    },
    {
      name: 'changes nothing at all for a re-send with the expiry the alarm already has',
      view: [alarm('A', { count: 2, expiresAt: NOW + 300_000 })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, expiresAt: NOW + 300_000, resend: true }],
      changes: [],
      answer: [{ count: 2, revision: 1, updatedAt: T0, expiresAt: NOW + 300_000 }],
      revision: VIEW_REVISION,
    },
    {
      name: 're-raises an alarm re-sent with other fields: count + 1, a history change, the new expiry',
      view: [alarm('A', { count: 2, fieldsJson: '{"detail":"x"}', expiresAt: NOW + 1000 })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: { detail: 'y' }, expiresAt: NOW + 300_000, resend: true }],
      changes: [{ action: 'reraise', alarm: { count: 3, revision: 11, updatedAt: NOW, fields: { detail: 'y' }, expiresAt: NOW + 300_000 } }],
      answer: [{ count: 3, revision: 11 }],
    },
    {
      name: 're-raises an alarm re-sent with another severity',
      view: [alarm('A', { expiresAt: NOW + 1000 })],
      ops: [{ kind: 'raise', id: 'A', source: '', severity: 'critical', fields: {}, expiresAt: NOW + 300_000, resend: true }],
      changes: [{ action: 'reraise', alarm: { count: 2, severity: 'critical', revision: 11, expiresAt: NOW + 300_000 } }],
      answer: [{ count: 2, severity: 'critical' }],
    },
    {
      name: 're-raises an alarm re-sent without any expiry, which then has none',
      view: [alarm('A', { expiresAt: NOW + 1000 })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, resend: true }],
      changes: [{ action: 'reraise', alarm: { count: 2, revision: 11, expiresAt: undefined } }],
      answer: [{ count: 2 }],
    },
    {
      name: 'changes nothing for an alarm without expiry re-sent unchanged without one (a webhook repeating a firing alert)',
      view: [alarm('A', { fieldsJson: '{"detail":"d"}' })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: { detail: 'd' }, resend: true }],
      changes: [],
      answer: [{ count: 1, revision: 1, expiresAt: undefined }],
    },
    {
      name: 'raises a CLEARED alarm re-sent as a new activation',
      view: [clearedAlarm('A', T0 + 5000, { count: 4 })],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {}, expiresAt: NOW + 300_000, resend: true }],
      changes: [{ action: 'raise', alarm: { status: 'ACTIVATED', count: 1, raisedAt: NOW, clearedAt: undefined, expiresAt: NOW + 300_000 } }],
      answer: [{ count: 1, revision: 11 }],
    },
    {
      name: 'raises an unknown alarm re-sent as a new one',
      view: [],
      ops: [{ kind: 'raise', id: 'A', source: 's', fields: {}, expiresAt: NOW + 300_000, resend: true }],
      changes: [{ action: 'raise', alarm: { id: 'A', source: 's', count: 1, revision: 11, expiresAt: NOW + 300_000 } }],
      answer: [{ count: 1 }],
      growth: { alarms: 1, fieldsBytes: 2 },
    },
    {
      name: 'moves the expiry of an alarm the same write raised, at that raise\'s revision',
      view: [],
      ops: [
        { kind: 'raise', id: 'A', source: '', fields: {}, expiresAt: NOW + 1000, resend: true },
        { kind: 'raise', id: 'A', source: '', fields: {}, expiresAt: NOW + 300_000, resend: true },
      ],
      changes: [{ action: 'raise', alarm: { count: 1, revision: 11, expiresAt: NOW + 1000 } }],
      answer: [{ count: 1, revision: 11, expiresAt: NOW + 1000 }, { count: 1, revision: 11, expiresAt: NOW + 300_000 }],
      extensions: [{ revision: 11, expiresAt: NOW + 300_000 }],
    },
  ],
  clear: [
    {
      name: 'clears an ACTIVATED alarm now, ending its acknowledgement and expiry, with the fields it is given',
      view: [alarm('A', { ...ackedUntil, expiresAt: NOW + 1000, fieldsJson: '{"detail":"hot"}' })],
      ops: [{ kind: 'clear', id: 'A', source: '', fields: { detail: 'cool' }, mustExist: true }],
      changes: [{ action: 'clear', alarm: { status: 'CLEARED', clearedAt: NOW, updatedAt: NOW, raisedAt: T0, fields: { detail: 'cool' }, expiresAt: undefined, ...NO_ACK } }],
      answer: [{ status: 'CLEARED' }],
    },
    {
      name: 'keeps the fields of a clear that gives none',
      view: [alarm('A', { fieldsJson: '{"detail":"hot"}' })],
      ops: [{ kind: 'clear', id: 'A', source: '', fields: {}, mustExist: false }],
      changes: [{ action: 'clear', alarm: { fields: { detail: 'hot' } } }],
      answer: [{ fields: { detail: 'hot' } }],
    },
    {
      name: 'answers a CLEARED alarm unchanged, changing nothing',
      view: [clearedAlarm('A', T0 + 5000)],
      ops: [{ kind: 'clear', id: 'A', source: '', mustExist: true }],
      changes: [],
      answer: [{ status: 'CLEARED', clearedAt: T0 + 5000, revision: 1 }],
    },
    {
      name: 'ignores the clear of an unknown alarm in a batch of raises and clears',
      view: [],
      ops: [{ kind: 'clear', id: 'A', source: '', mustExist: false }],
      changes: [],
      answer: [],
      revision: VIEW_REVISION,
    },
    {
      name: 'refuses the clear of an unknown alarm that must exist with 404001',
      view: [alarm('A', { source: 'other' })],
      ops: [{ kind: 'clear', id: 'A', source: '', mustExist: true }],
      refused: '404001',
    },
    {
      name: 'refuses a whole write when one of its clears must find an alarm the view lacks, even one the write raises',
      view: [],
      ops: [{ kind: 'raise', id: 'A', source: '', fields: {} }, { kind: 'clear', id: 'A', source: '', mustExist: true }],
      refused: '404001',
    },
  ],
  clearAll: [
    {
      name: 'removes every alarm of its scope, and no other, in the view\'s order',
      view: [alarm('B'), clearedAlarm('A', T0), alarm('A', { ...OTHER })],
      ops: [{ kind: 'clearAll' }],
      changes: [
        { action: 'clear-all', removed: true, alarm: { id: 'B', status: 'ACTIVATED', revision: 11 } },
        { action: 'clear-all', removed: true, alarm: { id: 'A', status: 'CLEARED', revision: 12 } },
      ],
      answer: [],
      growth: { alarms: -2, fieldsBytes: -4 },
    },
  ],
  clearMatching: [
    {
      name: 'clears the ACTIVATED alarms every criterion of the selector takes, answering them',
      view: [
        alarm('A', { source: 'x' }), alarm('B', { source: 'x', severity: 'minor' }), alarm('C', { source: 'y' }),
        clearedAlarm('D', T0, { source: 'x' }), alarm('E', { source: 'x' }),
      ],
      ops: [{ kind: 'clearMatching', selector: { ids: ['A', 'B', 'C', 'D'], source: 'x', severity: 'major' } }],
      changes: [{ action: 'clear', alarm: { id: 'A', status: 'CLEARED', clearedAt: NOW } }],
      answer: [{ id: 'A', status: 'CLEARED' }],
    },
  ],
  ack: [
    {
      name: 'acknowledges an ACTIVATED alarm now',
      view: [alarm('A')],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'ops', comment: 'looking' }],
      changes: [{ action: 'ack', alarm: { status: 'ACTIVATED', ackedBy: 'ops', ackedAt: NOW, ackComment: 'looking', updatedAt: NOW, count: 1 } }],
      answer: [{ ackedBy: 'ops', ackExpiresAt: undefined }],
    },
    {
      name: 'acknowledges with ttlSeconds until now plus the TTL, the change made by the ack\'s by',
      view: [alarm('A')],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'ops', comment: '', ttlSeconds: 600 }],
      changes: [{ action: 'ack', by: 'ops', alarm: { ackedBy: 'ops', ackedAt: NOW, ackExpiresAt: NOW + 600_000, updatedAt: NOW, revision: 11 } }],
      answer: [{ ackExpiresAt: NOW + 600_000 }],
    },
    {
      name: 're-acknowledges with a TTL, replacing the expiry of the last acknowledgement',
      view: [alarm('A', ackedUntil)],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'lead', comment: 'mine now', ttlSeconds: 60 }],
      changes: [{ action: 'ack', by: 'lead', alarm: { ackedBy: 'lead', ackedAt: NOW, ackComment: 'mine now', ackExpiresAt: NOW + 60_000 } }],
      answer: [{ ackExpiresAt: NOW + 60_000 }],
    },
    {
      name: 're-acknowledges without a TTL: the acknowledgement then has no expiry',
      view: [alarm('A', ackedUntil)],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'ops', comment: '' }],
      changes: [{ action: 'ack', by: 'ops', alarm: { ackedAt: NOW, ackExpiresAt: undefined } }],
      answer: [{ ackExpiresAt: undefined }],
    },
    {
      name: 'refuses to acknowledge a CLEARED alarm with 400001',
      view: [clearedAlarm('A', T0)],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'ops', comment: '' }],
      refused: '400001',
    },
    {
      name: 'refuses to acknowledge an unknown alarm with 404001',
      view: [],
      ops: [{ kind: 'ack', id: 'A', source: '', by: 'ops', comment: '' }],
      refused: '404001',
    },
  ],
  unack: [
    {
      name: 'withdraws an acknowledgement now, naming no one',
      view: [alarm('A', acked)],
      ops: [{ kind: 'unack', id: 'A', source: '' }],
      changes: [{ action: 'unack', by: undefined, alarm: { ...NO_ACK, updatedAt: NOW, revision: 11 } }],
      answer: [{ ...NO_ACK }],
    },
    {
      name: 'withdraws an acknowledgement with a TTL before it runs out, dropping its expiry',
      view: [alarm('A', ackedUntil)],
      ops: [{ kind: 'unack', id: 'A', source: '' }],
      changes: [{ action: 'unack', alarm: { ...NO_ACK, updatedAt: NOW } }],
      answer: [{ ...NO_ACK }],
    },
    {
      name: 'withdraws an acknowledgement whose TTL ran out, by "ack expired", updated when it ran out',
      view: [alarm('A', { ...ackedUntil, expiresAt: NOW + 1000 })],
      ops: [{ kind: 'unack', id: 'A', source: '', ackExpiresAt: ACK_DEADLINE }],
      changes: [{ action: 'unack', by: 'ack expired', alarm: { ...NO_ACK, status: 'ACTIVATED', updatedAt: ACK_DEADLINE, expiresAt: NOW + 1000, revision: 11 } }],
      answer: [{ ...NO_ACK }],
    },
    {
      name: 'leaves an acknowledgement renewed since (another deadline) as it is',
      view: [alarm('A', { ...acked, ackExpiresAt: ACK_DEADLINE + 1 })],
      ops: [{ kind: 'unack', id: 'A', source: '', ackExpiresAt: ACK_DEADLINE }],
      changes: [],
      answer: [],
    },
    {
      name: 'leaves an acknowledgement renewed without a TTL, or withdrawn, as it is',
      view: [alarm('A', acked), alarm('B')],
      ops: [{ kind: 'unack', id: 'A', source: '', ackExpiresAt: ACK_DEADLINE }, { kind: 'unack', id: 'B', source: '', ackExpiresAt: ACK_DEADLINE }],
      changes: [],
      answer: [],
    },
    {
      name: 'ignores the expiry of an acknowledgement of an alarm cleared or gone since, refusing nothing',
      view: [clearedAlarm('A', T0 + 5000)],
      ops: [{ kind: 'unack', id: 'A', source: '', ackExpiresAt: ACK_DEADLINE }, { kind: 'unack', id: 'Gone', source: '', ackExpiresAt: ACK_DEADLINE }],
      changes: [],
      answer: [],
    },
    {
      name: 'answers an alarm that is not acknowledged unchanged, changing nothing',
      view: [alarm('A')],
      ops: [{ kind: 'unack', id: 'A', source: '' }],
      changes: [],
      answer: [{ updatedAt: T0, revision: 1, ...NO_ACK }],
    },
    {
      name: 'refuses to withdraw the acknowledgement of an unknown alarm with 404001',
      view: [],
      ops: [{ kind: 'unack', id: 'A', source: '' }],
      refused: '404001',
    },
  ],
  expire: [
    {
      name: 'clears a due alarm as EXPIRE at its expiry',
      view: [alarm('A', { expiresAt: T0 + 30_000, ...ackedUntil })],
      ops: [{ kind: 'expire', id: 'A', source: '', expiresAt: T0 + 30_000 }],
      changes: [{ action: 'expire', alarm: { status: 'CLEARED', clearedAt: T0 + 30_000, updatedAt: T0 + 30_000, expiresAt: undefined, ...NO_ACK } }],
      answer: [{ status: 'CLEARED' }],
    },
    {
      name: 'leaves an alarm raised again since (another expiry) ACTIVATED',
      view: [alarm('A', { expiresAt: T0 + 90_000 })],
      ops: [{ kind: 'expire', id: 'A', source: '', expiresAt: T0 + 30_000 }],
      changes: [],
      answer: [],
    },
    {
      name: 'leaves an alarm cleared since as it is',
      view: [clearedAlarm('A', T0 + 10_000)],
      ops: [{ kind: 'expire', id: 'A', source: '', expiresAt: T0 + 30_000 }],
      changes: [],
      answer: [],
    },
    {
      name: 'ignores an alarm that no longer exists',
      view: [],
      ops: [{ kind: 'expire', id: 'A', source: '', expiresAt: T0 + 30_000 }],
      changes: [],
      answer: [],
    },
  ],
  purge: [
    {
      name: 'removes the CLEARED alarms of its scope cleared before the limit, and only those',
      view: [clearedAlarm('A', T0), clearedAlarm('B', T0 + 1000), alarm('C'), clearedAlarm('D', T0, { ...OTHER })],
      ops: [{ kind: 'purge', before: T0 + 1000 }],
      changes: [{ action: 'purge', removed: true, alarm: { id: 'A', scope: 'd/p', status: 'CLEARED', revision: 11 } }],
      answer: [],
      growth: { alarms: -1, fieldsBytes: -2 },
    },
  ],
};

/** Plans a write of SCOPE at `at` over `view`, and the changes it leaves `view` with. */
function planOver(view: Overlay, ops: AlarmOp[], at: number, scope = SCOPE): WritePlan {
  const plan = planWrite(view, deepFreeze({ scope, ops }), at);
  if (plan.ok) view.absorb(plan.planned);
  return plan;
}

describe('planWrite', () => {
  for (const [kind, cases] of Object.entries(CASES)) {
    describe(kind, () => {
      for (const c of cases) {
        it(c.name, () => {
          const view = viewOf(c.view, VIEW_REVISION);
          const write: WriteRequest = deepFreeze({ scope: c.scope ?? SCOPE, ops: c.ops });
          const before = JSON.stringify([c.view.map(brief), write]);

          const plan = planWrite(view, write, NOW);

          expectPlan(plan, c);
          expect(JSON.stringify([c.view.map(brief), write]), 'inputs unchanged').to.equal(before);
        });
      }
    });
  }

  it('changes none of its inputs, and plans the same write twice alike', () => {
    const view = viewOf([alarm('A', acked), clearedAlarm('B', T0)], VIEW_REVISION);
    const write: WriteRequest = deepFreeze({
      scope: SCOPE,
      ops: [
        { kind: 'raise', id: 'A', source: '', fields: { nested: { list: [1, 2] } }, ttlSeconds: 5 },
        { kind: 'unack', id: 'A', source: '' },
        { kind: 'clearMatching', selector: { ids: ['A'] } },
        { kind: 'purge', before: NOW + 1 },
        { kind: 'clearAll' },
      ],
    });

    const first = planWrite(view, write, NOW);
    const second = planWrite(view, write, NOW);

    if (!first.ok || !second.ok) return expect.fail('refused');
    expect(first.planned.changes.map((c) => [c.action, brief(c.alarm)])).to.deep.equal(second.planned.changes.map((c) => [c.action, brief(c.alarm)]));
    expect(first.planned.changes.map((c) => `${c.action} ${c.alarm.id}`)).to.deep.equal([
      'reraise A', 'unack A', 'clear A', 'purge A', 'purge B',
    ]);
    expect(view.get(SCOPE, 'A', '')?.ackedBy, 'the view keeps its alarm').to.equal('ops');
  });
});

describe('planWrite with the watchdog rule', () => {
  const RULES: PlanRules = { watchdogIds: new Set(['Watchdog']) };
  const plan = (view: readonly Alarm[], ops: AlarmOp[], rules = RULES) => {
    const p = planWrite(viewOf(view, VIEW_REVISION), deepFreeze({ scope: SCOPE, ops }), NOW, rules);
    if (!p.ok) throw p.error;
    return { changes: p.planned.changes.map((c) => `${c.action} ${c.alarm.id} ${c.alarm.source} ${c.alarm.status}`), answer: p.result.alarms.map((a) => a.id) };
  };
  const watchdog = alarm('Watchdog', { source: 's', expiresAt: NOW });
  const down = alarm('AlertingPipelineDown', { source: 's', severity: 'critical' });

  it('raises AlertingPipelineDown with the source of a watched alert it expires, outside the answer', () => {
    expect(plan([watchdog], [{ kind: 'expire', id: 'Watchdog', source: 's', expiresAt: NOW }])).to.deep.equal({
      changes: ['expire Watchdog s CLEARED', 'raise AlertingPipelineDown s ACTIVATED'],
      answer: ['Watchdog'],
    });
  });

  it('does not raise it again while it is active, nor for an alert it does not watch, nor without the rule', () => {
    const expire = { kind: 'expire', id: 'Watchdog', source: 's', expiresAt: NOW } as const;
    expect(plan([watchdog, down], [expire]).changes).to.deep.equal(['expire Watchdog s CLEARED']);
    expect(plan([alarm('Other', { source: 's', expiresAt: NOW })], [{ ...expire, id: 'Other' }]).changes).to.deep.equal(['expire Other s CLEARED']);
    expect(plan([watchdog], [expire], {}).changes).to.deep.equal(['expire Watchdog s CLEARED']);
  });

  it('clears it with a new activation of the alert, not with a re-raise or a re-send of an active one', () => {
    const raise = { kind: 'raise', id: 'Watchdog', source: 's', fields: {}, expiresAt: NOW + 60_000, resend: true } as const;
    expect(plan([clearedAlarm('Watchdog', T0, { source: 's' }), down], [raise]).changes).to.deep.equal([
      'raise Watchdog s ACTIVATED',
      'clear AlertingPipelineDown s CLEARED',
    ]);
    expect(plan([alarm('Watchdog', { source: 's' }), down], [{ ...raise, fields: { changed: true } }]).changes).to.deep.equal(['reraise Watchdog s ACTIVATED']);
    expect(plan([alarm('Watchdog', { source: 's', expiresAt: NOW }), down], [raise]).changes).to.deep.equal([]);
  });
});

describe('Overlay', () => {
  it('lets a clear of an alarm raised earlier in the batch find it, numbering on from the raise', () => {
    const batch = new Overlay(viewOf([], VIEW_REVISION));

    planOver(batch, [{ kind: 'raise', id: 'A', source: '', fields: {} }], T0);
    const plan = planOver(batch, [{ kind: 'clear', id: 'A', source: '', mustExist: true }], NOW);

    if (!plan.ok) return expect.fail(plan.error.message);
    expect(brief(plan.result.alarms[0] as Alarm)).to.deep.include({ status: 'CLEARED', raisedAt: T0, clearedAt: NOW, revision: 12 });
    expect(batch.changes.map((c) => c.action)).to.deep.equal(['raise', 'clear']);
    expect(batch.growth.alarms).to.equal(1);
  });

  it('counts two raises of one new alarm in two writes of one batch as a re-raise: count 2', () => {
    const batch = new Overlay(viewOf([], VIEW_REVISION));

    planOver(batch, [{ kind: 'raise', id: 'A', source: '', fields: {} }], T0);
    const plan = planOver(batch, [{ kind: 'raise', id: 'A', source: '', fields: {} }], NOW);

    if (!plan.ok) return expect.fail(plan.error.message);
    expect(brief(plan.result.alarms[0] as Alarm)).to.deep.include({ count: 2, raisedAt: T0, updatedAt: NOW, revision: 12 });
    expect(batch.changes.map((c) => c.action)).to.deep.equal(['raise', 'reraise']);
    expect(batch.growth.alarms).to.equal(1);
    expect(batch.addedTo(SCOPE)).to.equal(1);
    expect(batch.addedTo(OTHER)).to.equal(0);
  });

  it('lets an ack find an alarm raised earlier in the batch, and refuses one cleared earlier in the batch', () => {
    const batch = new Overlay(viewOf([alarm('B')], VIEW_REVISION));
    const ack = (id: string): AlarmOp => ({ kind: 'ack', id, source: '', by: 'ops', comment: '' });

    planOver(batch, [{ kind: 'raise', id: 'A', source: '', fields: {} }, { kind: 'clear', id: 'B', source: '', mustExist: true }], T0);

    expect(planOver(batch, [ack('A')], NOW).ok).to.equal(true);
    const refused = planOver(batch, [ack('B')], NOW);
    expect(refused.ok ? 'accepted' : refused.error.code).to.equal('400001');
  });

  it('shows an alarm removed earlier in the batch as gone, and a clear-all after its raise again as removed once more', () => {
    const batch = new Overlay(viewOf([alarm('A'), alarm('B')], VIEW_REVISION));

    planOver(batch, [{ kind: 'clearAll' }], T0);
    expect(batch.get(SCOPE, 'A', '')).to.equal(undefined);
    expect(batch.scopeAlarms(SCOPE)).to.deep.equal([]);
    planOver(batch, [{ kind: 'raise', id: 'B', source: '', fields: {} }], T0);
    const plan = planOver(batch, [{ kind: 'clearAll' }], NOW);

    if (!plan.ok) return expect.fail(plan.error.message);
    expect(plan.planned.changes.map((c) => `${c.action} ${c.alarm.id} ${c.alarm.revision}`)).to.deep.equal(['clear-all B 14']);
    expect(batch.growth.alarms).to.equal(-2);
  });

  it('refuses to absorb a plan made before other changes were added, which could not have seen them', () => {
    const batch = new Overlay(viewOf([], VIEW_REVISION));
    const first = planWrite(batch, { scope: SCOPE, ops: [{ kind: 'raise', id: 'A', source: '', fields: {} }] }, T0);
    const second = planWrite(batch, { scope: SCOPE, ops: [{ kind: 'raise', id: 'A', source: '', fields: {} }] }, T0);
    if (!first.ok || !second.ok) return expect.fail('refused');

    batch.absorb(first.planned);

    expect(() => batch.absorb(second.planned)).to.throw(/as it stands/);
    expect(batch.changes).to.have.length(1);
  });

  describe('re-sends', () => {
    const resend = (expiresAt: number, fields = {}): AlarmOp[] => [{ kind: 'raise', id: 'A', source: '', fields, expiresAt, resend: true }];

    it('keeps one extension per alarm, with the last expiry, for two re-sends of one alarm in two writes of one batch', () => {
      const batch = new Overlay(viewOf([alarm('A', { expiresAt: NOW })], VIEW_REVISION));

      planOver(batch, resend(NOW + 60_000), T0);
      const plan = planOver(batch, resend(NOW + 120_000), NOW);

      if (!plan.ok) return expect.fail(plan.error.message);
      expect(brief(plan.result.alarms[0] as Alarm)).to.deep.include({ count: 1, revision: 1, expiresAt: NOW + 120_000 });
      expect(batch.changes).to.deep.equal([]);
      expect([...batch.extensions.values()].map((a) => [a.id, a.revision, a.expiresAt])).to.deep.equal([['A', 1, NOW + 120_000]]);
      expect(batch.revision).to.equal(VIEW_REVISION);
      expect(batch.get(SCOPE, 'A', '')?.expiresAt, 'later writes see the new expiry').to.equal(NOW + 120_000);
    });

    it('leaves the extension of a re-send stale once a later write of the batch clears the alarm: the clear is the change', () => {
      const batch = new Overlay(viewOf([alarm('A', { expiresAt: NOW })], VIEW_REVISION));

      planOver(batch, resend(NOW + 60_000), T0);
      const plan = planOver(batch, [{ kind: 'clear', id: 'A', source: '', mustExist: true }], NOW);

      if (!plan.ok) return expect.fail(plan.error.message);
      expect(batch.changes.map((c) => [c.action, c.alarm.revision, c.alarm.status, c.alarm.expiresAt])).to.deep.equal([['clear', 11, 'CLEARED', undefined]]);
      const [extension] = [...batch.extensions.values()];
      expect(extension?.revision, 'the extension is of the revision before the clear').to.equal(1);
      const index = new AlarmIndex();
      index.load([alarm('A', { expiresAt: NOW })], VIEW_REVISION);
      index.apply(batch.changes);
      expect(index.extend(batch.extensions.values()), 'an index applies no stale extension').to.deep.equal([]);
      expect(brief(index.get(SCOPE, 'A', '') as Alarm)).to.deep.include({ status: 'CLEARED', revision: 11 });
    });

    it('leaves an alarm whose expiry an earlier write of the batch moved ACTIVATED when its old expiry comes due', () => {
      const batch = new Overlay(viewOf([alarm('A', { expiresAt: NOW })], VIEW_REVISION));

      planOver(batch, resend(NOW + 60_000), T0);
      const plan = planOver(batch, [{ kind: 'expire', id: 'A', source: '', expiresAt: NOW }], NOW);

      if (!plan.ok) return expect.fail(plan.error.message);
      expect(plan.result.alarms).to.deep.equal([]);
      expect(batch.changes).to.deep.equal([]);
    });

    it('records the moved expiry in the clear-all of a later write of the batch, as one write per batch would', () => {
      const batch = new Overlay(viewOf([alarm('A', { expiresAt: NOW }), alarm('B', { expiresAt: NOW })], VIEW_REVISION));

      planOver(batch, resend(NOW + 60_000), T0);
      planOver(batch, [{ kind: 'clearAll' }], NOW);

      expect(batch.changes.map((c) => `${c.action} ${c.alarm.id} ${c.alarm.revision} ${c.alarm.expiresAt}`)).to.deep.equal([
        `clear-all A 11 ${NOW + 60_000}`,
        `clear-all B 12 ${NOW}`,
      ]);
    });

    it('re-raises from the moved expiry when a later write of the batch re-sends other fields', () => {
      const batch = new Overlay(viewOf([alarm('A', { count: 3, expiresAt: NOW })], VIEW_REVISION));

      planOver(batch, resend(NOW + 60_000), T0);
      const plan = planOver(batch, resend(NOW + 120_000, { detail: 'new' }), NOW);

      if (!plan.ok) return expect.fail(plan.error.message);
      expect(batch.changes.map((c) => brief(c.alarm))).to.deep.equal([
        brief(alarm('A', { count: 4, updatedAt: NOW, revision: 11, fieldsJson: '{"detail":"new"}', expiresAt: NOW + 120_000 })),
      ]);
    });
  });

  it('takes the scope\'s alarms in the order the index will hold them, so a bulk clear numbers them as one commit at a time would', () => {
    const index = new AlarmIndex();
    index.load([alarm('A', { revision: 1 }), alarm('B', { revision: 2 })], 2);
    const batch = new Overlay(index);
    const raise = (id: string, source = ''): AlarmOp[] => [{ kind: 'raise', id, source, fields: {} }];

    for (const ops of [[{ kind: 'clearAll' } as const], raise('B'), raise('A'), raise('C'), raise('B', 'x')]) planOver(batch, ops, T0);
    const plan = planOver(batch, [{ kind: 'clearMatching', selector: { ids: ['A', 'B', 'C'] } }], NOW);

    if (!plan.ok) return expect.fail(plan.error.message);
    // Committed one at a time, the index would hold B (both sources, by id), then A, then C.
    expect(plan.result.alarms.map((a) => `${a.id}/${a.source} ${a.revision}`)).to.deep.equal(['B/ 9', 'B/x 10', 'A/ 11', 'C/ 12']);
  });
});

// Random programs of writes, mostly to one scope, over few ids and sources (so bulk writes meet
// alarms removed and raised again, and sources added under an id) and times a TTL can reach;
// re-sends move expiries without a change, and are applied to the index as the subscriber does.
const IDS = ['A', 'B'];
const SOURCES = ['', 'x'];
const STEP_MS = 1000;
const key = { id: fc.constantFrom(...IDS), source: fc.constantFrom(...SOURCES) };
const time = fc.integer({ min: 0, max: 30 }).map((k) => T0 + k * STEP_MS);
const op: fc.Arbitrary<AlarmOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('raise' as const), ...key, severity: fc.constantFrom(...SEVERITIES), fields: fc.constantFrom({}, { detail: 'a' }, { detail: 'bbbb' }), ttlSeconds: fc.integer({ min: 1, max: 3 }) }, { requiredKeys: ['kind', 'id', 'source', 'fields'] }) },
  {
    weight: 4,
    arbitrary: fc.record(
      { kind: fc.constant('raise' as const), ...key, severity: fc.constantFrom(...SEVERITIES), fields: fc.constantFrom({}, { detail: 'a' }), expiresAt: time, ttlSeconds: fc.integer({ min: 1, max: 3 }), resend: fc.constant(true) },
      { requiredKeys: ['kind', 'id', 'source', 'fields', 'resend'] },
    ),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('clear' as const), ...key, fields: fc.constantFrom({}, { detail: 'c' }), mustExist: fc.boolean() }, { requiredKeys: ['kind', 'id', 'source', 'mustExist'] }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), ...key, by: fc.constant('ops'), comment: fc.constantFrom('', 'why') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unack' as const), ...key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), ...key, expiresAt: time }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'clearAll' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('clearMatching' as const),
      selector: fc.record({ ids: fc.subarray(IDS, { minLength: 1 }), source: fc.constantFrom(...SOURCES), severity: fc.constantFrom(...SEVERITIES) }, { requiredKeys: [] }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('purge' as const), before: time }) },
);
const write: fc.Arbitrary<WriteRequest> = fc.record({ scope: fc.constantFrom(SCOPE, SCOPE, OTHER), ops: fc.array(op, { minLength: 1, maxLength: 2 }) });

/** What a write was answered: its alarms and revision, or its refusal's code. */
function answerOf(plan: WritePlan): unknown {
  return plan.ok ? { alarms: plan.result.alarms.map(brief), revision: plan.result.revision } : plan.error.code;
}

/** The index's alarms in a fixed order, everything they say. */
function heldBy(index: AlarmIndex): unknown {
  return [...index.allAlarms()].map(brief).sort((a, b) => (`${a.scope} ${a.id} ${a.source}` < `${b.scope} ${b.id} ${b.source}` ? -1 : 1));
}

/** An index holding the changes of `writes` planned and committed one at a time from T0. */
function seeded(writes: readonly WriteRequest[]): AlarmIndex {
  const index = new AlarmIndex();
  for (const [i, w] of writes.entries()) {
    const plan = planWrite(index, w, T0 + i * STEP_MS);
    if (!plan.ok) continue;
    index.apply(plan.planned.changes);
    index.extend(plan.planned.extensions.values());
  }
  return index;
}

describe('planWrite over a batch', () => {
  it('leaves the same alarms and gives the same answers whether the writes are committed one per batch or all in one', () => {
    fc.assert(
      fc.property(fc.array(write, { maxLength: 6 }), fc.array(write, { minLength: 1, maxLength: 20, size: 'max' }), (seed, writes) => {
        const start = T0 + seed.length * STEP_MS;
        const at = (i: number) => start + i * STEP_MS;

        const single = seeded(seed);
        const singleChanges: AlarmChange[] = [];
        const singleAnswers = writes.map((w, i) => {
          const batch = new Overlay(single);
          const plan = planWrite(batch, w, at(i));
          // Taken in change by change here, and whole below: both ways must agree.
          if (plan.ok) for (const c of plan.planned.changes) batch.add(c);
          const [size, fieldsBytes] = [single.size, single.fieldsBytes];
          single.apply(batch.changes);
          if (plan.ok) single.extend(plan.planned.extensions.values());
          singleChanges.push(...batch.changes);
          expect(batch.growth, 'growth of one write').to.deep.equal({ alarms: single.size - size, fieldsBytes: single.fieldsBytes - fieldsBytes });
          return answerOf(plan);
        });

        const grouped = seeded(seed);
        const batch = new Overlay(grouped);
        const groupedAnswers = writes.map((w, i) => {
          const plan = planWrite(batch, w, at(i));
          if (plan.ok) batch.absorb(plan.planned);
          return answerOf(plan);
        });
        const planned = heldBy(grouped);
        const [size, fieldsBytes] = [grouped.size, grouped.fieldsBytes];
        grouped.apply(batch.changes);
        grouped.extend(batch.extensions.values());

        const told = (changes: readonly AlarmChange[]) => changes.map((c) => [c.action, c.removed, c.at, brief(c.alarm)]);
        expect(told(batch.changes), 'the changes, as the history records them').to.deep.equal(told(singleChanges));
        expect(batch.growth, 'growth of the batch').to.deep.equal({ alarms: grouped.size - size, fieldsBytes: grouped.fieldsBytes - fieldsBytes });
        for (const s of [SCOPE, OTHER]) expect(batch.addedTo(s), 'alarms added to a scope').to.equal(grouped.scopeSize(s) - seeded(seed).scopeSize(s));
        expect(groupedAnswers).to.deep.equal(singleAnswers);
        expect(heldBy(grouped)).to.deep.equal(heldBy(single));
        expect(grouped.revision).to.equal(single.revision);
        expect(grouped.size).to.equal(single.size);
        expect(grouped.fieldsBytes).to.equal(single.fieldsBytes);
        expect(heldBy(seeded(seed)), 'the batch changed the index only once applied').to.deep.equal(planned);
      }),
      { numRuns: 1000 },
    );
  });
});
