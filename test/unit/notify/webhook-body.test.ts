import crypto from 'node:crypto';
import { expect } from 'chai';
import { entryText } from '../../../src/alarm/answers.js';
import { makeAlarm } from '../../../src/alarm/model.js';
import type { HistoryEntry } from '../../../src/alarm/store.js';
import { labelFingerprint } from '../../../src/intake/labels.js';
import { alarmLabels, alertmanagerBody, signature, webhookBody } from '../../../src/notify/webhook-body.js';
import { storedAlarm } from '../../helpers/store.js';

function entry(overrides: Parameters<typeof storedAlarm>[2] = {}, action = 'raise'): HistoryEntry {
  const a = makeAlarm(storedAlarm('TargetDown', 7, overrides));
  return { revision: 7, action, alarm: a, at: a.updatedAt };
}

describe('webhook bodies', () => {
  describe('webhookBody', () => {
    it('sends in the alarm format the history route’s entry text', () => {
      const e = entry();
      expect(webhookBody(e, 'alarm', 'ops', 'http://ac')).to.equal(entryText(e));
    });
  });

  describe('alarmLabels', () => {
    it('labels the alarm as an Alertmanager would see it, with the labels of the alert that raised it', () => {
      const fields = { labels: { alertname: 'Other', job: 'node', '0bad': 'x', empty: '' } };
      const labels = alarmLabels(makeAlarm(storedAlarm('TargetDown', 1, { source: 'h1', fields, fieldsJson: JSON.stringify(fields) })));
      expect(labels).to.deep.equal({ alertname: 'TargetDown', domain: 'default', project: 'p1', severity: 'major', source: 'h1', job: 'node' });
    });

    it('leaves out an empty source, as Alertmanager drops empty labels', () => {
      expect(alarmLabels(makeAlarm(storedAlarm('A', 1)))).to.not.have.property('source');
    });
  });

  describe('alertmanagerBody', () => {
    it('makes a firing alert of an active alarm, ending at the zero time, fingerprinted as Alertmanager does', () => {
      const body = alertmanagerBody(entry(), 'ops', 'http://ac:30100');
      const labels = { alertname: 'TargetDown', domain: 'default', project: 'p1', severity: 'major' };
      expect(body).to.deep.equal({
        receiver: 'ops',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels,
            annotations: { summary: 'TargetDown is down' },
            startsAt: '1970-01-01T00:00:01.000Z',
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: '',
            fingerprint: labelFingerprint(labels),
          },
        ],
        groupLabels: { alertname: 'TargetDown' },
        commonLabels: labels,
        commonAnnotations: { summary: 'TargetDown is down' },
        externalURL: 'http://ac:30100',
        version: '4',
        groupKey: '{}:{alertname="TargetDown"}',
        truncatedAlerts: 0,
      });
    });

    it('makes a resolved alert of a cleared alarm, ending when it cleared', () => {
      const body = alertmanagerBody(entry({ status: 'CLEARED', clearedAt: 5000, updatedAt: 5000 }, 'clear'), 'ops', '');
      expect(body.status).to.equal('resolved');
      expect(body.alerts[0]).to.include({ status: 'resolved', endsAt: '1970-01-01T00:00:05.000Z' });
    });
  });

  describe('signature', () => {
    it('is sha256= and the hex HMAC-SHA256 of the raw body, which a receiver checks with timingSafeEqual', () => {
      const body = webhookBody(entry(), 'alarm', 'ops', '');
      const header = Buffer.from(signature('k3y', body));
      const expected = Buffer.from(`sha256=${crypto.createHmac('sha256', 'k3y').update(body).digest('hex')}`);
      expect(crypto.timingSafeEqual(header, expected)).to.equal(true);
      expect(signature('other', body)).to.not.equal(header.toString());
    });
  });
});
