/**
 * An alarm as an Alertmanager API v2 `postableAlert`, the way Prometheus sends its alerts: a
 * firing alert ends a few resend intervals after it is sent (so an Alertmanager that stops
 * hearing of it resolves it by itself), a resolved one ends when the alarm cleared. Pure: the
 * time and the link base are passed in.
 */
import { isoTime, type Alarm, type AlarmChange, type AlarmFields } from '../alarm/model.js';
import { ALERTMANAGER_ORIGIN_FIELD } from '../intake/alertmanager.js';
import { ALERTNAME, LABEL_NAME_PATTERN, type LabelSet } from '../intake/labels.js';

/** Alertmanager's `postableAlert`, as `POST /api/v2/alerts` takes an array of them. */
export interface PostableAlert {
  labels: LabelSet;
  annotations: LabelSet;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** What an Alertmanager is told of one alarm: its state, and when it ended when it fires no more. */
export interface AlarmNotice {
  readonly alarm: Alarm;
  /** Absent while the alarm fires; the end an Alertmanager resolves the alert at otherwise. */
  readonly endedAt?: number;
}

/** How a notice becomes a postable alert. */
export interface MappingOptions {
  /** Clock milliseconds when the alert is sent. */
  now: number;
  /** The resend interval: a firing alert ends 4 of them after `now`, as Prometheus's do. */
  resendMs: number;
  /** The URL people reach Alarm Center at; the alert links to the alarm's list under it. */
  baseUrl: string;
}

/** How many resend intervals a firing alert lasts without being sent again (Prometheus's rule). */
export const ENDS_AFTER_RESENDS = 4;

/** Alarm Center's own labels of an alarm, which labels in its fields never replace. */
const OWN_LABELS = [ALERTNAME, 'source', 'domain', 'project', 'severity'] as const;

/** The key of an alarm in a queue: its scope, id and source. */
export function noticeKey(alarm: Alarm): string {
  return `${alarm.domain}\u0000${alarm.project}\u0000${alarm.id}\u0000${alarm.source}`;
}

/**
 * What to tell of a committed change: a fire for an ACTIVATED alarm, an end at its clear for a
 * CLEARED one, an end at the change for an ACTIVATED alarm leaving the list (clear-all); nothing
 * for a CLEARED alarm leaving it (its end was told when it cleared).
 */
export function noticeOf(change: AlarmChange): AlarmNotice | undefined {
  const alarm = change.alarm;
  if (change.removed) return alarm.status === 'ACTIVATED' ? { alarm, endedAt: change.at } : undefined;
  return alarm.status === 'ACTIVATED' ? { alarm } : { alarm, endedAt: alarm.clearedAt ?? change.at };
}

/**
 * Whether the alarm came from an Alertmanager (its webhook receiver marks the fields): such an
 * alarm is never sent to an Alertmanager, which would route it back as a new alert, and so on.
 */
export function cameFromAlertmanager(fields: AlarmFields): boolean {
  return typeof fields[ALERTMANAGER_ORIGIN_FIELD] === 'string';
}

/** The string values of an object whose keys are valid Prometheus label names; empty values left out. */
function labelsIn(value: unknown): LabelSet {
  const out: LabelSet = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string' && v !== '' && LABEL_NAME_PATTERN.test(name)) out[name] = v;
  }
  return out;
}

/**
 * The labels: `alertname` (the id), `source`, `domain`, `project`, `severity`, then those of
 * `fields.labels` (an alert's, from the Alertmanager intake) with a valid name and not one of the
 * five. Empty values are left out, as Prometheus does.
 */
export function alertLabels(alarm: Alarm, fields: AlarmFields): LabelSet {
  const own: LabelSet = { [ALERTNAME]: alarm.id, source: alarm.source, domain: alarm.domain, project: alarm.project, severity: alarm.severity };
  const labels: LabelSet = {};
  for (const name of OWN_LABELS) if (own[name] !== '') labels[name] = own[name] as string;
  for (const [name, v] of Object.entries(labelsIn(fields.labels))) if (!(name in own)) labels[name] = v;
  return labels;
}

/** The annotations: `fields.annotations`, `detail` (fields.detail), and `summary` (the annotation, else the detail). */
export function alertAnnotations(fields: AlarmFields): LabelSet {
  const annotations = labelsIn(fields.annotations);
  const raw = fields.detail;
  const detail = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : JSON.stringify(raw);
  if (detail !== '') {
    annotations.detail = detail;
    annotations.summary ??= detail;
  }
  return annotations;
}

/** A link a person can open: the alarm's list filtered to it, under `baseUrl`. */
export function alarmLink(baseUrl: string, alarm: Alarm): string {
  const query = new URLSearchParams({ id: alarm.id, source: alarm.source });
  return `${baseUrl.replace(/\/+$/, '')}/v4/${encodeURIComponent(alarm.project)}/admin/alarms?${query.toString()}`;
}

/** The postable alert of a notice, or undefined for an alarm that came from an Alertmanager. */
export function postableAlert(notice: AlarmNotice, options: MappingOptions): PostableAlert | undefined {
  const { alarm } = notice;
  const fields = alarm.fields;
  if (cameFromAlertmanager(fields)) return undefined;
  const endsAt = notice.endedAt ?? options.now + ENDS_AFTER_RESENDS * options.resendMs;
  return {
    labels: alertLabels(alarm, fields),
    annotations: alertAnnotations(fields),
    // Alertmanager refuses an alert that ends before it starts (clocks of replicas differ a little).
    startsAt: isoTime(Math.min(alarm.raisedAt, endsAt)),
    endsAt: isoTime(endsAt),
    generatorURL: alarmLink(options.baseUrl, alarm),
  };
}
