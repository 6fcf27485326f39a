/**
 * One Alertmanager alert (the part API v2's `postableAlert` and the webhook's alerts share) read
 * from a JSON value, and the alarm it maps to. Readers return the first problem found, named by
 * its path from `at` (`alerts[3]`, `body.alerts[3]`).
 */
import {
  ID_PATTERN,
  MAX_FIELDS_BYTES,
  MAX_TTL_SECONDS,
  storedTextProblem,
  type AlarmFields,
} from '../alarm/model.js';
import { ALERTNAME, LABEL_NAME_PATTERN, alertSource, severityOfLabel, type LabelSet } from './labels.js';
import type { FieldsJsonCache } from './fields-cache.js';
import type { IntakeOp } from './op.js';
import { ZERO_TIME_MS, parseRfc3339 } from './rfc3339.js';

/** A value read from a body, or why it could not be. */
export type Read<T> = { ok: true; value: T } | { ok: false; error: string };

/** A time as sent and its instant, clock milliseconds. */
export interface SentTime {
  text: string;
  ms: number;
}

/** What an alarm takes from one Alertmanager alert. */
export interface AlertmanagerAlert {
  /** The labels sent, but those with an empty value (Alertmanager drops them). */
  labels: LabelSet;
  annotations: LabelSet;
  /** Absent when not sent or sent as Go's zero time. */
  startsAt?: SentTime;
  endsAt?: SentTime;
  generatorURL?: string;
}

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** A key of an object in a path: `.name` when it is an identifier, else `["name"]`. */
function pathKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** Whether a JSON value is an object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a label value cannot be part of a source, which the store keeps as sent (storedText). */
function labelValueProblem(v: string): string | undefined {
  if (v.length > MAX_FIELDS_BYTES) return `Too big: expected string to have <=${MAX_FIELDS_BYTES} characters`;
  return storedTextProblem(v);
}

/**
 * A label set, or annotations (Alertmanager checks their names the same way): an object of
 * strings with Prometheus label names. Labels with an empty value are dropped, as Alertmanager
 * does; the other values become part of a source, so they must be text the store can keep.
 */
function readLabelSet(value: unknown, at: string, kind: 'labels' | 'annotations'): Read<LabelSet> {
  if (!isRecord(value)) return fail(`${at}: must be an object of label names to strings`);
  const out: LabelSet = {};
  // The path of a refused entry is made only for its error: most bodies have none.
  const refused = (name: string, why: string) => fail(`${at}${pathKey(name)}: ${why}`);
  for (const name in value) {
    const v = value[name];
    if (typeof v !== 'string') return refused(name, 'must be a string');
    if (v === '' && kind === 'labels') continue;
    if (name === '__proto__') return refused(name, 'a key named __proto__ is refused: it would not be kept as sent');
    if (!LABEL_NAME_PATTERN.test(name)) return refused(name, 'the name must match [a-zA-Z_][a-zA-Z0-9_]*');
    if (kind === 'labels') {
      const problem = labelValueProblem(v);
      if (problem) return refused(name, problem);
    }
    out[name] = v;
  }
  return { ok: true, value: out };
}

/** An optional RFC 3339 time; Go's zero time counts as absent. */
function readTime(value: unknown, at: string): Read<SentTime | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  const ms = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (ms === undefined) return fail(`${at}: must be an RFC 3339 date-time`);
  return { ok: true, value: ms === ZERO_TIME_MS ? undefined : { text: value as string, ms } };
}

/** One alert's labels, annotations, times and generator URL; other keys are ignored, as Alertmanager does. */
export function readAlert(raw: unknown, at: string): Read<AlertmanagerAlert> {
  if (!isRecord(raw)) return fail(`${at}: must be an object`);
  if (raw.labels === undefined) return fail(`${at}.labels: required`);
  const labels = readLabelSet(raw.labels, `${at}.labels`, 'labels');
  if (!labels.ok) return labels;
  const alertname = labels.value[ALERTNAME];
  if (alertname === undefined) return fail(`${at}.labels.alertname: required`);
  if (!ID_PATTERN.test(alertname)) return fail(`${at}.labels.alertname: must match [A-Za-z0-9._:-]{1,128} (it is the alarm id)`);
  const annotations = raw.annotations === undefined || raw.annotations === null ? { ok: true as const, value: {} } : readLabelSet(raw.annotations, `${at}.annotations`, 'annotations');
  if (!annotations.ok) return annotations;
  const startsAt = readTime(raw.startsAt, `${at}.startsAt`);
  if (!startsAt.ok) return startsAt;
  const endsAt = readTime(raw.endsAt, `${at}.endsAt`);
  if (!endsAt.ok) return endsAt;
  if (raw.generatorURL !== undefined && raw.generatorURL !== null && typeof raw.generatorURL !== 'string') {
    return fail(`${at}.generatorURL: must be a string`);
  }
  const alert: AlertmanagerAlert = { labels: labels.value, annotations: annotations.value };
  if (startsAt.value) alert.startsAt = startsAt.value;
  if (endsAt.value) alert.endsAt = endsAt.value;
  if (typeof raw.generatorURL === 'string' && raw.generatorURL !== '') alert.generatorURL = raw.generatorURL;
  return { ok: true, value: alert };
}

/** The key of the alarm of an alert: id = `alertname`, source = the other labels (labels.ts). */
export function alertKey(alert: AlertmanagerAlert): { id: string; source: string } {
  return { id: alert.labels[ALERTNAME] as string, source: alertSource(alert.labels) };
}

/**
 * The fields of an alert's alarm: `{ labels, annotations, generatorURL?, startsAt?, …extra, detail? }`.
 * Built key by key: Prometheus sends alerts by the hundred, and spreads cost more than the rest.
 */
function alertFields(alert: AlertmanagerAlert, extra: AlarmFields): AlarmFields {
  const detail = alert.annotations.summary ?? alert.annotations.description;
  const fields: AlarmFields = { labels: alert.labels, annotations: alert.annotations };
  if (alert.generatorURL !== undefined) fields.generatorURL = alert.generatorURL;
  if (alert.startsAt) fields.startsAt = alert.startsAt.text;
  for (const key in extra) fields[key] = extra[key];
  if (detail !== undefined) fields.detail = detail;
  return fields;
}

/** The clear of an alert's alarm. */
export function clearOf(alert: AlertmanagerAlert): IntakeOp {
  return { kind: 'clear', ...alertKey(alert), mustExist: false };
}

/**
 * The raise of an alert's alarm, expiring at `expiresAt` (none: never) but never later than
 * MAX_TTL_SECONDS from `now`; an error naming `at` when its fields are too large. With `cache`
 * (alerts without `extra` only), an alert read before unchanged reuses its fields' text, and its
 * raise carries that text alone, without the fields as an object.
 */
export function raiseOf(alert: AlertmanagerAlert, at: string, expiresAt: number | undefined, now: number, extra: AlarmFields = {}, cache?: FieldsJsonCache): Read<IntakeOp> {
  const id = alert.labels[ALERTNAME] as string;
  const source = alertSource(alert.labels);
  const key = cache && `${id}\n${source}`;
  const cached = key === undefined ? undefined : cache?.get(key, alert);
  const op: Extract<IntakeOp, { kind: 'raise' }> = { kind: 'raise', id, source, severity: severityOfLabel(alert.labels.severity), fieldsJson: '', resend: true };
  if (cached !== undefined) {
    op.fieldsJson = cached;
  } else {
    const fields = alertFields(alert, extra);
    // Built of checked label sets and strings: no key __proto__; only the size is left to check, on the text stored.
    const fieldsJson = JSON.stringify(fields);
    // A UTF-16 unit is at most 3 bytes of UTF-8: most fields are counted without encoding them.
    const size = fieldsJson.length * 3 <= MAX_FIELDS_BYTES ? 0 : Buffer.byteLength(fieldsJson);
    if (size > MAX_FIELDS_BYTES) return fail(`${at}: must be at most ${MAX_FIELDS_BYTES} bytes as JSON, got ${size}`);
    if (key !== undefined) cache?.set(key, alert, fieldsJson);
    op.fields = fields;
    op.fieldsJson = fieldsJson;
  }
  if (expiresAt !== undefined) op.expiresAt = Math.min(expiresAt, now + MAX_TTL_SECONDS * 1000);
  return { ok: true, value: op };
}
