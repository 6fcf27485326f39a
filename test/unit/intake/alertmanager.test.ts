import { expect } from 'chai';
import { MAX_BATCH, MAX_FIELDS_BYTES, MAX_TTL_SECONDS } from '../../../src/alarm/model.js';
import { parseAlertmanagerWebhook, parsePostableAlerts } from '../../../src/intake/alertmanager.js';
import type { IntakeOp } from '../../../src/intake/op.js';
import { webhookBody } from '../../helpers/intake-bodies.js';

const NOW = Date.UTC(2026, 0, 15, 12);
const RESOLVE = 5 * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** What Prometheus posts for a firing alert. */
const firing = (over: Record<string, unknown> = {}) => ({
  labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'critical' },
  annotations: { summary: 'host:9100 is down', description: 'no scrape for 5m' },
  startsAt: '2026-01-15T11:55:00.123456789+01:00',
  endsAt: iso(NOW + 4 * 60_000),
  generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
  ...over,
});

/** An Alertmanager webhook body (version 4) around the given alerts. */
/** The operations without the fields' JSON text, once checked to be their serialization. */
function plainOps(ops: readonly IntakeOp[]): IntakeOp[] {
  return ops.map((op) => {
    if (op.kind !== 'raise') return op;
    const { fieldsJson, ...rest } = op;
    expect(fieldsJson, `the fields of ${op.id} as JSON`).to.equal(JSON.stringify(op.fields));
    return rest;
  });
}

const webhook = webhookBody;

describe('parsePostableAlerts', () => {
  describe('a firing alert', () => {
    it('raises the alarm alertname / other labels, until its endsAt, as a re-send', () => {
      const { ops, errors } = parsePostableAlerts([firing()], NOW, RESOLVE);

      expect(errors).to.deep.equal([]);
      expect(plainOps(ops)).to.deep.equal([
        {
          kind: 'raise',
          id: 'HostDown',
          source: '{instance="host:9100",job="node",severity="critical"}',
          severity: 'critical',
          fields: {
            labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'critical' },
            annotations: { summary: 'host:9100 is down', description: 'no scrape for 5m' },
            generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
            startsAt: '2026-01-15T11:55:00.123456789+01:00',
            detail: 'host:9100 is down',
          },
          expiresAt: NOW + 4 * 60_000,
          resend: true,
        },
      ]);
    });

    it('expires resolveTimeoutMs from now without an endsAt', () => {
      const { ops } = parsePostableAlerts([firing({ endsAt: undefined })], NOW, RESOLVE);

      expect(ops[0]).to.include({ kind: 'raise', expiresAt: NOW + RESOLVE });
    });

    it("takes Go's zero time for an absent endsAt and startsAt, as amtool sends them", () => {
      const { ops } = parsePostableAlerts([firing({ startsAt: '0001-01-01T00:00:00.000Z', endsAt: '0001-01-01T00:00:00Z' })], NOW, RESOLVE);

      expect(ops[0]).to.include({ kind: 'raise', expiresAt: NOW + RESOLVE });
      expect(ops[0]).to.have.nested.property('fields').that.does.not.have.property('startsAt');
    });

    it('keeps no startsAt in the fields when none is sent, so a re-send changes nothing but the expiry', () => {
      const a = parsePostableAlerts([firing({ startsAt: undefined, endsAt: undefined })], NOW, RESOLVE).ops[0];
      const b = parsePostableAlerts([firing({ startsAt: undefined, endsAt: undefined })], NOW + 60_000, RESOLVE).ops[0];

      expect(a).to.have.nested.property('fields').that.does.not.have.property('startsAt');
      expect(b).to.deep.equal({ ...a, expiresAt: NOW + 60_000 + RESOLVE });
    });

    it('expires no later than MAX_TTL_SECONDS from now', () => {
      const { ops } = parsePostableAlerts([firing({ endsAt: '9999-12-31T23:59:59Z' }), firing({ endsAt: undefined })], NOW, MAX_TTL_SECONDS * 2000);

      expect(ops.map((op) => op.kind === 'raise' && op.expiresAt)).to.deep.equal([NOW + MAX_TTL_SECONDS * 1000, NOW + MAX_TTL_SECONDS * 1000]);
    });

    it('takes the detail from the summary, else the description, else gives none', () => {
      const details = parsePostableAlerts(
        [firing(), firing({ annotations: { description: 'only a description' } }), firing({ annotations: { runbook: 'r' } }), firing({ annotations: undefined })],
        NOW,
        RESOLVE,
      ).ops.map((op) => (op.kind === 'raise' ? op.fields?.detail : 'not a raise'));

      expect(details).to.deep.equal(['host:9100 is down', 'only a description', undefined, undefined]);
    });

    it('defaults annotations to {} and leaves out an absent generatorURL', () => {
      const { ops } = parsePostableAlerts([{ labels: { alertname: 'Watchdog' } }], NOW, RESOLVE);

      expect(plainOps(ops)).to.deep.equal([
        { kind: 'raise', id: 'Watchdog', source: '{}', severity: 'indeterminate', fields: { labels: { alertname: 'Watchdog' }, annotations: {} }, expiresAt: NOW + RESOLVE, resend: true },
      ]);
    });

    it('drops labels with an empty value, as Alertmanager does', () => {
      const { ops } = parsePostableAlerts([{ labels: { alertname: 'X', job: 'node', instance: '', 'not-checked': '' } }], NOW, RESOLVE);

      expect(ops[0]).to.deep.include({ source: '{job="node"}', fields: { labels: { alertname: 'X', job: 'node' }, annotations: {} } });
    });

    it('ignores keys it does not know, as Alertmanager does', () => {
      const { ops, errors } = parsePostableAlerts([firing({ status: 'whatever', fingerprint: 1, extra: { a: 1 } })], NOW, RESOLVE);

      expect(errors).to.deep.equal([]);
      expect(ops[0]).to.have.nested.property('fields').that.has.all.keys('labels', 'annotations', 'generatorURL', 'startsAt', 'detail');
    });

    it('gives one alarm per label set: same labels in any order, same id and source; any label different, another source', () => {
      const { ops } = parsePostableAlerts(
        [
          { labels: { alertname: 'A', job: 'node', instance: 'h1' } },
          { labels: { instance: 'h1', job: 'node', alertname: 'A' } },
          { labels: { alertname: 'A', job: 'node', instance: 'h2' } },
          { labels: { alertname: 'B', job: 'node', instance: 'h1' } },
        ],
        NOW,
        RESOLVE,
      );

      expect(ops.map((op) => `${op.id} ${op.source}`)).to.deep.equal([
        'A {instance="h1",job="node"}',
        'A {instance="h1",job="node"}',
        'A {instance="h2",job="node"}',
        'B {instance="h1",job="node"}',
      ]);
    });

    it('maps the severity label case-insensitively', () => {
      const severities = parsePostableAlerts(
        ['Critical', 'error', 'HIGH', 'major', 'medium', 'minor', 'Warning', 'warn', 'low', 'info', undefined].map((severity) => ({ labels: { alertname: 'X', ...(severity && { severity }) } })),
        NOW,
        RESOLVE,
      ).ops.map((op) => op.kind === 'raise' && op.severity);

      expect(severities).to.deep.equal(['critical', 'major', 'major', 'major', 'minor', 'minor', 'warning', 'warning', 'warning', 'indeterminate', 'indeterminate']);
    });
  });

  describe('a resolved alert', () => {
    it('clears the alarm when its endsAt is before now, whether or not it exists', () => {
      const { ops } = parsePostableAlerts([firing({ endsAt: iso(NOW - 1) })], NOW, RESOLVE);

      expect(ops).to.deep.equal([{ kind: 'clear', id: 'HostDown', source: '{instance="host:9100",job="node",severity="critical"}', mustExist: false }]);
    });

    it('clears the alarm when its endsAt is now', () => {
      const { ops } = parsePostableAlerts([firing({ endsAt: iso(NOW) })], NOW, RESOLVE);

      expect(ops[0]).to.include({ kind: 'clear' });
    });

    it('reads an endsAt with an offset as the instant it names', () => {
      const { ops } = parsePostableAlerts([firing({ endsAt: '2026-01-15T12:30:00+01:00' })], NOW, RESOLVE);

      expect(ops[0]).to.include({ kind: 'clear' });
    });
  });

  describe('an invalid body', () => {
    it('is refused as a whole when it is not an array', () => {
      for (const body of [{}, null, 'alerts', { alerts: [] }]) {
        expect(parsePostableAlerts(body, NOW, RESOLVE)).to.deep.equal({ ops: [], errors: ['body: must be a JSON array of alerts'] });
      }
    });

    it(`is refused as a whole with more than ${MAX_BATCH} alerts`, () => {
      const body = Array.from({ length: MAX_BATCH + 1 }, () => firing());

      expect(parsePostableAlerts(body, NOW, RESOLVE)).to.deep.equal({ ops: [], errors: [`body: must hold at most ${MAX_BATCH} alerts, got ${MAX_BATCH + 1}`] });
      expect(parsePostableAlerts(body.slice(1), NOW, RESOLVE).ops).to.have.length(MAX_BATCH);
    });

    it('gives nothing for an empty array', () => {
      expect(parsePostableAlerts([], NOW, RESOLVE)).to.deep.equal({ ops: [], errors: [] });
    });
  });

  describe('an invalid alert', () => {
    const cases: [string, unknown, string][] = [
      ['not an object', 'HostDown', 'alerts[1]: must be an object'],
      ['an array', [], 'alerts[1]: must be an object'],
      ['without labels', { annotations: {} }, 'alerts[1].labels: required'],
      ['with labels that are not an object', { labels: ['alertname'] }, 'alerts[1].labels: must be an object of label names to strings'],
      ['without alertname', { labels: { job: 'node' } }, 'alerts[1].labels.alertname: required'],
      ['with an empty alertname', { labels: { alertname: '', job: 'node' } }, 'alerts[1].labels.alertname: required'],
      ['with an alertname that is no alarm id', { labels: { alertname: 'Host Down' } }, 'alerts[1].labels.alertname: must match [A-Za-z0-9._:-]{1,128} (it is the alarm id)'],
      ['with a label value that is not a string', { labels: { alertname: 'X', port: 9100 } }, 'alerts[1].labels.port: must be a string'],
      ['with an invalid label name', { labels: { alertname: 'X', 'bad-name': 'v' } }, 'alerts[1].labels["bad-name"]: the name must match [a-zA-Z_][a-zA-Z0-9_]*'],
      ['with a label name starting with a digit', { labels: { alertname: 'X', '1st': 'v' } }, 'alerts[1].labels["1st"]: the name must match [a-zA-Z_][a-zA-Z0-9_]*'],
      ['with a NUL in a label value', { labels: { alertname: 'X', job: 'a\u0000b' } }, 'alerts[1].labels.job: must not contain the NUL character'],
      ['with a lone surrogate in a label value', { labels: { alertname: 'X', job: 'a\ud800' } }, 'alerts[1].labels.job: must be valid Unicode (a lone surrogate was found)'],
      ['with annotations that are not an object', { labels: { alertname: 'X' }, annotations: 'down' }, 'alerts[1].annotations: must be an object of label names to strings'],
      ['with an annotation that is not a string', { labels: { alertname: 'X' }, annotations: { summary: ['a'] } }, 'alerts[1].annotations.summary: must be a string'],
      ['with an invalid annotation name', { labels: { alertname: 'X' }, annotations: { 'runbook-url': 'u' } }, 'alerts[1].annotations["runbook-url"]: the name must match [a-zA-Z_][a-zA-Z0-9_]*'],
      ['with a startsAt that is no date-time', { labels: { alertname: 'X' }, startsAt: '2026-01-15' }, 'alerts[1].startsAt: must be an RFC 3339 date-time'],
      ['with an endsAt that is no date-time', { labels: { alertname: 'X' }, endsAt: 1768478400000 }, 'alerts[1].endsAt: must be an RFC 3339 date-time'],
      ['with a generatorURL that is not a string', { labels: { alertname: 'X' }, generatorURL: { href: 'x' } }, 'alerts[1].generatorURL: must be a string'],
    ];
    for (const [what, alert, error] of cases) {
      it(`is named by position and field when ${what}`, () => {
        expect(parsePostableAlerts([firing(), alert], NOW, RESOLVE).errors).to.deep.equal([error]);
      });
    }

    it('is refused when a label is named __proto__, which would not be kept', () => {
      const alert = JSON.parse('{"labels":{"alertname":"X","__proto__":"v"}}');

      expect(parsePostableAlerts([alert], NOW, RESOLVE).errors).to.deep.equal(['alerts[0].labels.__proto__: a key named __proto__ is refused: it would not be kept as sent']);
    });

    it('is named by position when its fields are larger than MAX_FIELDS_BYTES', () => {
      const alert = { labels: { alertname: 'X' }, annotations: { description: 'd'.repeat(MAX_FIELDS_BYTES) } };

      const { ops, errors } = parsePostableAlerts([firing(), alert], NOW, RESOLVE);

      expect(ops).to.have.length(1);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.match(new RegExp(`^alerts\\[1\\]: must be at most ${MAX_FIELDS_BYTES} bytes as JSON, got \\d+$`));
    });

    it('leaves the valid alerts of the batch their operations, in order', () => {
      const { ops, errors } = parsePostableAlerts([firing(), { labels: {} }, { labels: { alertname: 'B' } }, { labels: { alertname: 'C' }, endsAt: 'soon' }], NOW, RESOLVE);

      expect(ops.map((op) => op.id)).to.deep.equal(['HostDown', 'B']);
      expect(errors).to.deep.equal(['alerts[1].labels.alertname: required', 'alerts[3].endsAt: must be an RFC 3339 date-time']);
    });
  });
});

describe('parseAlertmanagerWebhook', () => {
  const alert = (over: Record<string, unknown> = {}) => ({
    status: 'firing',
    labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'warning' },
    annotations: { summary: 'host:9100 is down' },
    startsAt: '2026-01-15T11:55:00.123Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint: 'c6eadffa33fcdf37',
    ...over,
  });

  describe('a firing alert', () => {
    it('raises the alarm the same alert posted to API v2 raises, with its fingerprint', () => {
      const { ops, errors } = parseAlertmanagerWebhook(webhook([alert()]), NOW);

      expect(errors).to.deep.equal([]);
      expect(plainOps(ops)).to.deep.equal([
        {
          kind: 'raise',
          id: 'HostDown',
          source: '{instance="host:9100",job="node",severity="warning"}',
          severity: 'warning',
          fields: {
            labels: { alertname: 'HostDown', instance: 'host:9100', job: 'node', severity: 'warning' },
            annotations: { summary: 'host:9100 is down' },
            generatorURL: 'http://prometheus:9090/graph',
            startsAt: '2026-01-15T11:55:00.123Z',
            fingerprint: 'c6eadffa33fcdf37',
            externalURL: 'http://alertmanager:9093',
            detail: 'host:9100 is down',
          },
          resend: true,
        },
      ]);
      const posted = parsePostableAlerts([{ labels: alert().labels }], NOW, RESOLVE).ops[0];
      expect(posted).to.include({ id: 'HostDown', source: '{instance="host:9100",job="node",severity="warning"}' });
    });

    it('expires at its endsAt when that is later than now', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert({ endsAt: iso(NOW + 60_000) })]), NOW);

      expect(ops[0]).to.include({ kind: 'raise', expiresAt: NOW + 60_000 });
    });

    it('never expires when its endsAt is zero or past: Alertmanager repeats a firing alert only every repeat_interval, and sends it resolved', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert(), alert({ endsAt: iso(NOW - 60_000) })]), NOW);

      expect(ops.map((op) => op.kind === 'raise' && 'expiresAt' in op)).to.deep.equal([false, false]);
    });

    it('expires no later than MAX_TTL_SECONDS from now', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert({ endsAt: '9999-01-01T00:00:00Z' })]), NOW);

      expect(ops[0]).to.include({ expiresAt: NOW + MAX_TTL_SECONDS * 1000 });
    });

    it('leaves out a fingerprint that is absent or empty', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert({ fingerprint: undefined }), alert({ fingerprint: '' })]), NOW);

      expect(ops.map((op) => op.kind === 'raise' && 'fingerprint' in (op.fields ?? {}))).to.deep.equal([false, false]);
    });
  });

  describe('a resolved alert', () => {
    it('clears the alarm, whether or not it exists', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert({ status: 'resolved', endsAt: iso(NOW - 1000) })], { status: 'resolved' }), NOW);

      expect(ops).to.deep.equal([{ kind: 'clear', id: 'HostDown', source: '{instance="host:9100",job="node",severity="warning"}', mustExist: false }]);
    });

    it('clears even when its endsAt is later than now', () => {
      const { ops } = parseAlertmanagerWebhook(webhook([alert({ status: 'resolved', endsAt: iso(NOW + 1000) })]), NOW);

      expect(ops[0]).to.include({ kind: 'clear' });
    });
  });

  it('gives the operations of a group of firing and resolved alerts in order', () => {
    const body = webhook([alert(), alert({ status: 'resolved', labels: { alertname: 'HostDown', instance: 'h2' } }), alert({ labels: { alertname: 'Other' } })]);

    const { ops } = parseAlertmanagerWebhook(body, NOW);

    expect(ops.map((op) => `${op.kind} ${op.id} ${op.source}`)).to.deep.equal([
      'raise HostDown {instance="host:9100",job="node",severity="warning"}',
      'clear HostDown {instance="h2"}',
      'raise Other {}',
    ]);
  });

  describe('an invalid body', () => {
    it('is refused when it is not an object', () => {
      expect(parseAlertmanagerWebhook([alert()], NOW)).to.deep.equal({ ops: [], errors: ['body: must be a JSON object'] });
    });

    it('is refused when its version is not "4"', () => {
      for (const version of ['3', 4, undefined]) {
        expect(parseAlertmanagerWebhook(webhook([alert()], { version }), NOW)).to.deep.equal({ ops: [], errors: ['body.version: must be "4"'] });
      }
    });

    it('is refused when alerts is not an array', () => {
      expect(parseAlertmanagerWebhook(webhook([], { alerts: { 0: alert() } }), NOW)).to.deep.equal({ ops: [], errors: ['body.alerts: must be an array'] });
    });

    it('names both the version and the alerts when both are wrong', () => {
      expect(parseAlertmanagerWebhook({ version: '2' }, NOW).errors).to.deep.equal(['body.version: must be "4"', 'body.alerts: must be an array']);
    });

    it(`is refused with more than ${MAX_BATCH} alerts`, () => {
      const body = webhook(Array.from({ length: MAX_BATCH + 1 }, () => alert()));

      expect(parseAlertmanagerWebhook(body, NOW)).to.deep.equal({ ops: [], errors: [`body.alerts: must hold at most ${MAX_BATCH} alerts, got ${MAX_BATCH + 1}`] });
    });
  });

  describe('an invalid alert', () => {
    it('is named body.alerts[i] and the field, the other alerts still giving their operations', () => {
      const body = webhook([
        alert({ status: 'pending' }),
        alert(),
        alert({ labels: { job: 'node' } }),
        alert({ fingerprint: 42 }),
        alert({ startsAt: 'yesterday' }),
        'alert',
      ]);

      const { ops, errors } = parseAlertmanagerWebhook(body, NOW);

      expect(ops).to.have.length(1);
      expect(errors).to.deep.equal([
        'body.alerts[0].status: must be "firing" or "resolved"',
        'body.alerts[2].labels.alertname: required',
        'body.alerts[3].fingerprint: must be a string',
        'body.alerts[4].startsAt: must be an RFC 3339 date-time',
        'body.alerts[5]: must be an object',
      ]);
    });

    it('is named by position when its fields are larger than MAX_FIELDS_BYTES', () => {
      const { errors } = parseAlertmanagerWebhook(webhook([alert({ annotations: { description: 'x'.repeat(MAX_FIELDS_BYTES) } })]), NOW);

      expect(errors[0]).to.match(/^body\.alerts\[0\]: must be at most 16384 bytes as JSON, got \d+$/);
    });
  });
});
