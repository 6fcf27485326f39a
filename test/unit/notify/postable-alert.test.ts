import { expect } from 'chai';
import type { AlarmChange } from '../../../src/alarm/model.js';
import { parseAlertmanagerWebhook, parsePostableAlerts } from '../../../src/intake/alertmanager.js';
import { cameFromAlertmanager, noticeOf, postableAlert } from '../../../src/notify/postable-alert.js';
import { webhookBody } from '../../helpers/intake-bodies.js';
import { alarm, cleared } from './fake-alertmanager.js';

const NOW = Date.UTC(2026, 10, 22, 10);
const RESEND_MS = 60_000;
const BASE = 'https://alarms.example.com';
const options = { now: NOW, resendMs: RESEND_MS, baseUrl: BASE };
const iso = (ms: number) => new Date(ms).toISOString();
const change = (over: Partial<AlarmChange> & Pick<AlarmChange, 'alarm'>): AlarmChange => ({ action: 'raise', removed: false, at: NOW, ...over });

describe('postableAlert', () => {
  const raisedAt = NOW - 3_600_000;

  describe('an ACTIVATED alarm', () => {
    it('fires with its identity as labels, starting at its raise and ending 4 resend intervals from now', () => {
      const a = alarm('BackendConnectionRefuse', { source: 'registry-7f9c', raisedAt, fields: { detail: 'connection refused' } });

      expect(postableAlert({ alarm: a }, options)).to.deep.equal({
        labels: { alertname: 'BackendConnectionRefuse', source: 'registry-7f9c', domain: 'd', project: 'p', severity: 'major' },
        annotations: { detail: 'connection refused', summary: 'connection refused' },
        startsAt: iso(raisedAt),
        endsAt: iso(NOW + 4 * RESEND_MS),
        generatorURL: `${BASE}/v4/p/admin/alarms?id=BackendConnectionRefuse&source=registry-7f9c`,
      });
    });

    it('leaves out a label whose value is empty, as Prometheus does', () => {
      expect(postableAlert({ alarm: alarm('A', { source: '' }) }, options)?.labels).to.deep.equal({ alertname: 'A', domain: 'd', project: 'p', severity: 'major' });
    });

    it("merges the labels of its fields, skipping invalid names, values that are not text, and Alarm Center's own", () => {
      const labels = { instance: 'node-3:9100', job: 'node', 'bad-name': 'x', '0lead': 'x', count: 3, empty: '', alertname: 'Other', domain: 'evil', severity: 'page' };
      const a = alarm('DiskFull', { source: '{instance="node-3:9100",job="node"}', fields: { labels } });

      expect(postableAlert({ alarm: a }, options)?.labels).to.deep.equal({
        alertname: 'DiskFull',
        source: '{instance="node-3:9100",job="node"}',
        domain: 'd',
        project: 'p',
        severity: 'major',
        instance: 'node-3:9100',
        job: 'node',
      });
    });

    it('keeps the annotations of its fields, a summary annotation before the detail', () => {
      const a = alarm('DiskFull', { fields: { annotations: { summary: '/var at 97%', runbook_url: 'https://runbooks/disk', 'bad name': 'x' }, detail: '/var at 97% on node-3' } });

      expect(postableAlert({ alarm: a }, options)?.annotations).to.deep.equal({
        summary: '/var at 97%',
        runbook_url: 'https://runbooks/disk',
        detail: '/var at 97% on node-3',
      });
    });

    it('has no annotations without a detail or annotations, and writes a detail that is not text as JSON', () => {
      expect(postableAlert({ alarm: alarm('A') }, options)?.annotations).to.deep.equal({});
      expect(postableAlert({ alarm: alarm('A', { fields: { detail: { code: 7 } } }) }, options)?.annotations).to.deep.equal({ detail: '{"code":7}', summary: '{"code":7}' });
    });

    it('links to the alarm with its project, id and source escaped', () => {
      const a = alarm('A', { project: 'my-project', source: '{job="a b"}&x=1' });

      const link = new URL(postableAlert({ alarm: a }, { ...options, baseUrl: `${BASE}/` })?.generatorURL as string);

      expect(link.origin + link.pathname).to.equal(`${BASE}/v4/my-project/admin/alarms`);
      expect(Object.fromEntries(link.searchParams)).to.deep.equal({ id: 'A', source: '{job="a b"}&x=1' });
    });
  });

  describe('an alarm that ended', () => {
    it('ends a CLEARED alarm at its clear', () => {
      const a = cleared(alarm('A', { raisedAt }), NOW - 1000);

      const alert = postableAlert(noticeOf(change({ action: 'clear', alarm: a })) as never, options);

      expect(alert).to.include({ startsAt: iso(raisedAt), endsAt: iso(NOW - 1000) });
    });

    it('ends an expired alarm at its expiry', () => {
      const expired = cleared(alarm('A', { raisedAt }), NOW - 5000);

      expect(postableAlert(noticeOf(change({ action: 'expire', alarm: expired })) as never, options)?.endsAt).to.equal(iso(NOW - 5000));
    });

    it('ends an ACTIVATED alarm removed by a clear-all at the removal', () => {
      const notice = noticeOf(change({ action: 'clear-all', alarm: alarm('A', { raisedAt }), removed: true, at: NOW - 10 }));

      expect(postableAlert(notice as never, options)?.endsAt).to.equal(iso(NOW - 10));
    });

    it('tells nothing of a CLEARED alarm leaving the list: its end was told when it cleared', () => {
      expect(noticeOf(change({ action: 'purge', alarm: cleared(alarm('A'), NOW - 10), removed: true }))).to.equal(undefined);
    });

    it('never ends before it starts, whatever the clocks of the replicas', () => {
      const alert = postableAlert({ alarm: alarm('A', { raisedAt: NOW + 50 }), endedAt: NOW }, options);

      expect(alert).to.include({ startsAt: iso(NOW), endsAt: iso(NOW) });
    });
  });

  describe('no loops', () => {
    it('is undefined for an alarm that came from an Alertmanager webhook, firing or ended', () => {
      const fromWebhook = alarm('HostDown', { fields: { labels: { alertname: 'HostDown' }, externalURL: 'http://alertmanager:9093' } });

      expect(postableAlert({ alarm: fromWebhook }, options)).to.equal(undefined);
      expect(postableAlert({ alarm: cleared(fromWebhook, NOW), endedAt: NOW }, options)).to.equal(undefined);
    });

    it("marks the alarms of Alertmanager's webhook, even without an externalURL, and not those of API v2", () => {
      const alert = { status: 'firing', labels: { alertname: 'HostDown', instance: 'h1' }, annotations: {}, startsAt: iso(NOW), endsAt: '0001-01-01T00:00:00Z' };
      const [withUrl] = parseAlertmanagerWebhook(webhookBody([alert]), NOW).ops;
      const [withoutUrl] = parseAlertmanagerWebhook(webhookBody([alert], { externalURL: undefined }), NOW).ops;
      const [posted] = parsePostableAlerts([{ labels: alert.labels }], NOW, 300_000).ops;
      const fieldsOf = (op: typeof posted) => (op?.kind === 'raise' ? (op.fields ?? JSON.parse(op.fieldsJson as string)) : {});

      expect(fieldsOf(withUrl)).to.include({ externalURL: 'http://alertmanager:9093' });
      expect(cameFromAlertmanager(fieldsOf(withUrl))).to.equal(true);
      expect(cameFromAlertmanager(fieldsOf(withoutUrl))).to.equal(true);
      expect(cameFromAlertmanager(fieldsOf(posted))).to.equal(false);
    });
  });
});
