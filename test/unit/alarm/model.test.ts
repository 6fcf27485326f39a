import { expect } from 'chai';
import { isoTime, makeAlarm, scopeKey, toJson } from '../../../src/alarm/model.js';

const base = {
  domain: 'default',
  project: 'default',
  id: 'BackendConnectionRefuse',
  source: 'registry-7f9c',
  status: 'ACTIVATED' as const,
  severity: 'major' as const,
  fieldsJson: '{"detail":"dial tcp 10.0.0.5:2379: connection refused"}',
  count: 3,
  raisedAt: Date.UTC(2026, 10, 22, 10, 0),
  updatedAt: Date.UTC(2026, 10, 22, 10, 4),
  revision: 118,
};

describe('toJson', () => {
  it("gives service-center's id, status and fields first, then source, severity, count, times, revision and acknowledgement", () => {
    const json = toJson(makeAlarm(base));

    expect(Object.keys(json)).to.deep.equal([
      'id', 'status', 'fields', 'source', 'severity', 'count', 'raisedAt', 'updatedAt', 'revision', 'acknowledged',
    ]);
    expect(json).to.deep.equal({
      id: 'BackendConnectionRefuse',
      status: 'ACTIVATED',
      fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' },
      source: 'registry-7f9c',
      severity: 'major',
      count: 3,
      raisedAt: '2026-11-22T10:00:00.000Z',
      updatedAt: '2026-11-22T10:04:00.000Z',
      revision: 118,
      acknowledged: false,
    });
  });

  it('adds who acknowledged, when and why, and when the alarm expires', () => {
    const json = toJson(
      makeAlarm({ ...base, ackedBy: 'ops "1"', ackedAt: Date.UTC(2026, 10, 22, 10, 6), ackComment: 'on it', expiresAt: Date.UTC(2026, 10, 22, 11) }),
    );

    expect(Object.keys(json).slice(-6)).to.deep.equal(['revision', 'acknowledged', 'ackedBy', 'ackedAt', 'ackComment', 'expiresAt']);
    expect(json).to.deep.include({
      acknowledged: true,
      ackedBy: 'ops "1"',
      ackedAt: '2026-11-22T10:06:00.000Z',
      ackComment: 'on it',
      expiresAt: '2026-11-22T11:00:00.000Z',
    });
  });

  it('adds clearedAt, before the revision, once the alarm is cleared', () => {
    const json = toJson(makeAlarm({ ...base, status: 'CLEARED', clearedAt: Date.UTC(2026, 10, 22, 10, 5) }));

    expect(json.clearedAt).to.equal('2026-11-22T10:05:00.000Z');
    expect(Object.keys(json).slice(-3)).to.deep.equal(['clearedAt', 'revision', 'acknowledged']);
  });

  it('escapes ids and sources as JSON strings', () => {
    expect(toJson(makeAlarm({ ...base, source: 'svc "a"\\b' })).source).to.equal('svc "a"\\b');
  });
});

describe('isoTime', () => {
  it('writes each time as ISO 8601, whatever time it wrote before', () => {
    const times = [0, 1_700_000_000_123, 1_700_000_000_123, 1, 1_700_000_000_124, 0];
    expect(times.map(isoTime)).to.deep.equal(times.map((t) => new Date(t).toISOString()));
  });
});

describe('scopeKey', () => {
  it('keys each scope by its domain and project, whatever scope it keyed before', () => {
    const scopes = [
      { domain: 'a', project: 'b' },
      { domain: 'a', project: 'b' },
      { domain: 'a', project: 'c' },
      { domain: 'b', project: 'c' },
      { domain: 'a', project: 'b' },
    ];
    expect(scopes.map(scopeKey)).to.deep.equal(['a\u0000b', 'a\u0000b', 'a\u0000c', 'b\u0000c', 'a\u0000b']);
  });
});
