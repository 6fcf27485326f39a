/**
 * The bodies a webhook sends, one change each, and their signature.
 *
 * - `alarm`: the history entry exactly as the history route answers it (answers.ts `entryText`).
 * - `alertmanager`: Alertmanager's webhook body, version 4, with the change as its one alert, so
 *   receivers written for Alertmanager take it unchanged. The alert's labels are the alarm as an
 *   Alertmanager would see it: `alertname` (the id), `source`, `domain`, `project`, `severity`,
 *   then the labels an alert that raised it carried (`fields.labels`); its fingerprint is
 *   Alertmanager's, of those labels.
 */
import crypto from 'node:crypto';
import { entryText } from '../alarm/answers.js';
import { isoTime, type Alarm } from '../alarm/model.js';
import type { HistoryEntry } from '../alarm/store.js';
import { ALERTNAME, LABEL_NAME_PATTERN, labelFingerprint, labelSetText, type LabelSet } from '../intake/labels.js';
import type { WebhookFormat } from './webhook-config.js';

/** The header carrying `sha256=<hex HMAC-SHA256 of the body>` when the webhook has a secret. */
export const SIGNATURE_HEADER = 'X-Alarm-Center-Signature';

/** Alertmanager's zero time: the `endsAt` of a firing alert. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** One alert of Alertmanager's webhook body (template.Alert). */
export interface AlertmanagerAlertJson {
  status: 'firing' | 'resolved';
  labels: LabelSet;
  annotations: LabelSet;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook body (notify/webhook Message: template.Data, version, groupKey, truncatedAlerts). */
export interface AlertmanagerWebhookJson {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: AlertmanagerAlertJson[];
  groupLabels: LabelSet;
  commonLabels: LabelSet;
  commonAnnotations: LabelSet;
  externalURL: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

/** The string entries of `value` under valid label names, when it is an object. */
function stringEntries(value: unknown, names: RegExp): LabelSet {
  const out: LabelSet = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string' && v !== '' && names.test(k)) out[k] = v;
  return out;
}

/** The alarm's labels as an Alertmanager would see them; empty values are left out, as Alertmanager drops them. */
export function alarmLabels(a: Alarm, fields: Record<string, unknown> = a.fields): LabelSet {
  const labels: LabelSet = { alertname: a.id, domain: a.domain, project: a.project, severity: a.severity };
  if (a.source !== '') labels.source = a.source;
  Object.assign(labels, stringEntries(fields.labels, LABEL_NAME_PATTERN));
  labels[ALERTNAME] = a.id;
  return labels;
}

/** The alert's annotations: `summary` from `fields.detail`, then the annotations an alert that raised it carried. */
function alarmAnnotations(fields: Record<string, unknown>): LabelSet {
  const annotations: LabelSet = typeof fields.detail === 'string' && fields.detail !== '' ? { summary: fields.detail } : {};
  return Object.assign(annotations, stringEntries(fields.annotations, /^.+$/));
}

/** Alertmanager's webhook body of one change, sent as `receiver`; `externalURL` is Alarm Center's own. */
export function alertmanagerBody(e: HistoryEntry, receiver: string, externalURL: string): AlertmanagerWebhookJson {
  const a = e.alarm;
  const fields = a.fields;
  const labels = alarmLabels(a, fields);
  const annotations = alarmAnnotations(fields);
  const status = a.status === 'ACTIVATED' ? 'firing' : 'resolved';
  const endsAt = a.status === 'ACTIVATED' ? ZERO_TIME : isoTime(a.clearedAt ?? e.at);
  const groupLabels = { [ALERTNAME]: a.id };
  return {
    receiver,
    status,
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: isoTime(a.raisedAt),
        endsAt,
        generatorURL: typeof fields.generatorURL === 'string' ? fields.generatorURL : '',
        fingerprint: labelFingerprint(labels),
      },
    ],
    groupLabels,
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL,
    version: '4',
    groupKey: `{}:${labelSetText(groupLabels)}`,
    truncatedAlerts: 0,
  };
}

/** The body text a webhook of `format` sends for one change. */
export function webhookBody(e: HistoryEntry, format: WebhookFormat, receiver: string, externalURL: string): string {
  return format === 'alarm' ? entryText(e) : JSON.stringify(alertmanagerBody(e, receiver, externalURL));
}

/** The signature header's value: `sha256=` and the hex HMAC-SHA256 of the raw body with the secret. */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}
