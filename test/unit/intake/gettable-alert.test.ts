import { expect } from 'chai';
import { makeAlarm, type AlarmState } from '../../../src/alarm/model.js';
import { parsePostableAlerts } from '../../../src/intake/alertmanager.js';
import { gettableAlert } from '../../../src/intake/gettable-alert.js';
import { labelFingerprint } from '../../../src/intake/labels.js';
import { matches, parseMatchers } from '../../../src/intake/matchers.js';
import { statusBody } from '../../../src/intake/status-body.js';

const T0 = Date.UTC(2026, 0, 15, 12);

/** A stored alarm; `fields` is written as its JSON text. */
const alarm = (over: Partial<AlarmState> & { fields?: Record<string, unknown> } = {}) => {
  const { fields = { detail: 'dial tcp 10.0.0.5:2379: connection refused' }, ...rest } = over;
  return makeAlarm({
    domain: 'default',
    project: 'default',
    id: 'BackendConnectionRefuse',
    source: 'registry-7f9c',
    status: 'ACTIVATED',
    severity: 'major',
    fieldsJson: JSON.stringify(fields),
    count: 1,
    raisedAt: T0,
    updatedAt: T0 + 60_000,
    revision: 7,
    ...rest,
  });
};

/** The alarm a raise of the intake leaves. */
const raised = (body: unknown[]) => {
  const op = parsePostableAlerts(body, T0, 300_000).ops[0];
  if (op?.kind !== 'raise') throw new Error('no raise');
  return alarm({ id: op.id, source: op.source, severity: op.severity, fields: op.fields, ...(op.expiresAt !== undefined && { expiresAt: op.expiresAt }) });
};

describe('gettableAlert', () => {
  describe('of an alarm that came in through the Alertmanager intake', () => {
    const posted = {
      labels: { alertname: 'HostDown', job: 'node', instance: 'host:9100' },
      annotations: { summary: 'down' },
      startsAt: '2026-01-15T12:55:00.123456+01:00',
      endsAt: '2026-01-15T12:04:00Z',
      generatorURL: 'http://prometheus:9090/graph',
    };

    it('gives back the alert as it was posted, with its expiry as endsAt', () => {
      expect(gettableAlert(raised([posted]), { externalUrl: 'http://alarm-center' })).to.deep.equal({
        labels: { alertname: 'HostDown', job: 'node', instance: 'host:9100' },
        annotations: { summary: 'down' },
        startsAt: '2026-01-15T11:55:00.123Z',
        endsAt: '2026-01-15T12:04:00.000Z',
        updatedAt: '2026-01-15T12:01:00.000Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: labelFingerprint(posted.labels),
        receivers: [{ name: 'alarm-center' }],
        status: { state: 'active', silencedBy: [], inhibitedBy: [], mutedBy: [] },
      });
    });

    it("has Alertmanager's fingerprint of the labels", () => {
      const labels = { acc_id: '130', acn_id: '0007', alertname: 'V2_Sites_offline', consumer: 'axcess', severity: 'critical', team: 'hit' };

      expect(gettableAlert(raised([{ labels }])).fingerprint).to.equal(labelFingerprint(labels));
    });

    it('starts when the alarm was raised when no startsAt was sent', () => {
      expect(gettableAlert(raised([{ labels: { alertname: 'X' } }])).startsAt).to.equal('2026-01-15T12:00:00.000Z');
    });

    it('is found by matchers on the labels posted', () => {
      const g = gettableAlert(raised([posted]));
      const m = parseMatchers(['alertname="HostDown"', 'job=~"no.*"']);

      expect(m.ok && matches(g.labels, m.matchers)).to.equal(true);
    });
  });

  describe('of any other alarm', () => {
    it('labels it alertname = id, severity and source, annotates it with its detail, and has no end', () => {
      expect(gettableAlert(alarm())).to.deep.equal({
        labels: { alertname: 'BackendConnectionRefuse', severity: 'major', source: 'registry-7f9c' },
        annotations: { detail: 'dial tcp 10.0.0.5:2379: connection refused' },
        startsAt: '2026-01-15T12:00:00.000Z',
        endsAt: '0001-01-01T00:00:00.000Z',
        updatedAt: '2026-01-15T12:01:00.000Z',
        fingerprint: labelFingerprint({ alertname: 'BackendConnectionRefuse', severity: 'major', source: 'registry-7f9c' }),
        receivers: [{ name: 'alarm-center' }],
        status: { state: 'active', silencedBy: [], inhibitedBy: [], mutedBy: [] },
      });
    });

    it('leaves out an empty source label, and annotates an alarm without detail with nothing', () => {
      const g = gettableAlert(alarm({ source: '', fields: { code: 7 } }));

      expect(g.labels).to.deep.equal({ alertname: 'BackendConnectionRefuse', severity: 'major' });
      expect(g.annotations).to.deep.equal({});
    });

    it('links to the externalUrl when given', () => {
      expect(gettableAlert(alarm(), { externalUrl: 'http://alarm-center:8080' }).generatorURL).to.equal('http://alarm-center:8080');
    });

    it('ends at its expiry', () => {
      expect(gettableAlert(alarm({ expiresAt: T0 + 3_600_000 })).endsAt).to.equal('2026-01-15T13:00:00.000Z');
    });

    it('ends when it was cleared, once CLEARED', () => {
      expect(gettableAlert(alarm({ status: 'CLEARED', clearedAt: T0 + 120_000, expiresAt: T0 + 3_600_000 })).endsAt).to.equal('2026-01-15T12:02:00.000Z');
    });

    it('ignores fields named like the intake ones that do not hold strings', () => {
      const g = gettableAlert(alarm({ fields: { labels: { alertname: 1 }, annotations: ['a'], startsAt: 'yesterday', detail: 42 } }));

      expect(g.labels).to.deep.equal({ alertname: 'BackendConnectionRefuse', severity: 'major', source: 'registry-7f9c' });
      expect(g.annotations).to.deep.equal({});
      expect(g.startsAt).to.equal('2026-01-15T12:00:00.000Z');
    });

    it('ignores empty labels', () => {
      expect(gettableAlert(alarm({ fields: { labels: {} } })).labels).to.have.property('alertname', 'BackendConnectionRefuse');
    });
  });
});

describe('statusBody', () => {
  it('gives the version, a ready cluster without peers, an empty configuration and the start time', () => {
    expect(statusBody({ version: '0.1.0', startedAt: T0, clusterName: 'alarm-center-1' })).to.deep.equal({
      cluster: { name: 'alarm-center-1', status: 'ready', peers: [] },
      versionInfo: { version: '0.1.0', revision: 'unknown', branch: 'unknown', buildUser: 'unknown', buildDate: 'unknown', goVersion: 'unknown' },
      config: { original: '' },
      uptime: '2026-01-15T12:00:00.000Z',
    });
  });

  it('leaves out the cluster name when none is given', () => {
    expect(statusBody({ version: '0.1.0', startedAt: T0 }).cluster).to.deep.equal({ status: 'ready', peers: [] });
  });
});
