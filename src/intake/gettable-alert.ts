/**
 * Alarms as Alertmanager API v2 `gettableAlert`s (GET /api/v2/alerts), for amtool and the
 * dashboards that read Alertmanager.
 */
import { isoTime, type Alarm } from '../alarm/model.js';
import { isRecord } from './alert.js';
import { ALERTNAME, labelFingerprint, type LabelSet } from './labels.js';
import { ZERO_TIME_TEXT, parseRfc3339 } from './rfc3339.js';

/** The receiver every alert is listed with. */
export const RECEIVER_NAME = 'alarm-center';

/** Alertmanager's `gettableAlert`; `mutedBy` is in Alertmanager's answers since 0.28. */
export interface GettableAlert {
  labels: LabelSet;
  annotations: LabelSet;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[]; mutedBy: string[] };
}

/** A non-empty object whose values are all strings. */
function stringRecord(value: unknown): LabelSet | undefined {
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value);
  return entries.length > 0 && entries.every(([, v]) => typeof v === 'string') ? (value as LabelSet) : undefined;
}

/**
 * The `gettableAlert` of an alarm. Labels: the alert's, for an alarm that came in through the
 * Alertmanager intake (`fields.labels`), else `{alertname: id, severity, source}` (source only
 * when not empty). Annotations: `fields.annotations`, else `{detail}` when the alarm has a
 * detail. startsAt: `fields.startsAt` when it is a time, else the raise. endsAt: the expiry, the
 * clear for a CLEARED alarm, or Go's zero time (Alertmanager's "no end") for an alarm that never
 * expires. generatorURL: `fields.generatorURL`, else `externalUrl` when given. The fingerprint is
 * Alertmanager's own for the labels. The state is `active`: alarms have no silences or
 * inhibitions, and Alertmanager lists resolved alerts as active too, until their endsAt.
 */
export function gettableAlert(alarm: Alarm, opts: { externalUrl?: string } = {}): GettableAlert {
  const fields = alarm.fields;
  const labels = stringRecord(fields.labels) ?? {
    [ALERTNAME]: alarm.id,
    severity: alarm.severity,
    ...(alarm.source !== '' && { source: alarm.source }),
  };
  const annotations = stringRecord(fields.annotations) ?? (typeof fields.detail === 'string' ? { detail: fields.detail } : {});
  const startsAt = typeof fields.startsAt === 'string' ? parseRfc3339(fields.startsAt) : undefined;
  const ended = alarm.status === 'CLEARED' ? alarm.clearedAt : alarm.expiresAt;
  const generatorURL = typeof fields.generatorURL === 'string' ? fields.generatorURL : opts.externalUrl;
  return {
    labels,
    annotations,
    startsAt: isoTime(startsAt ?? alarm.raisedAt),
    endsAt: ended === undefined ? ZERO_TIME_TEXT : isoTime(ended),
    updatedAt: isoTime(alarm.updatedAt),
    ...(generatorURL !== undefined && { generatorURL }),
    fingerprint: labelFingerprint(labels),
    receivers: [{ name: RECEIVER_NAME }],
    status: { state: 'active', silencedBy: [], inhibitedBy: [], mutedBy: [] },
  };
}
