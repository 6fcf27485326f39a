/**
 * PagerDuty's Events API v2 (the body POSTed to /v2/enqueue): one alert event, a trigger, an
 * acknowledge or a resolve, turned into one alarm operation.
 *
 * Identity: the alarm source is the event's `dedup_key`; a trigger's id is `payload.class` when
 * that is a valid alarm id, else `defaultId`. Acknowledge and resolve events carry nothing but
 * the key, so their operation names `defaultId`: the route applies it to every alarm of the
 * scope whose source is the key, whatever id its trigger gave it.
 *
 * PagerDuty alerts never resolve by themselves: raises carry no expiry, and a trigger repeated
 * for an open alert is an ordinary re-raise (count + 1).
 */
import { AlarmInputSchema, ID_PATTERN, MAX_ACK_TEXT, storedText, type AlarmFields, type Severity } from '../alarm/model.js';
import { isRecord } from './alert.js';
import type { IntakeOp } from './op.js';

/** The `message` PagerDuty answers with a 400 for an event it refuses. */
export const INVALID_EVENT_MESSAGE = 'Event object is invalid';

/** The `event_action`s of alert events (change events go to another endpoint). */
export const PAGERDUTY_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
export type PagerDutyAction = (typeof PAGERDUTY_ACTIONS)[number];

/** PagerDuty's severities and the alarm severity of each. */
export const PAGERDUTY_SEVERITIES: Readonly<Record<string, Severity>> = {
  critical: 'critical',
  error: 'major',
  warning: 'warning',
  info: 'indeterminate',
};

/** Longest routing key accepted (PagerDuty's are 32 characters). */
export const MAX_ROUTING_KEY_LENGTH = 256;
/** PagerDuty's limits on `dedup_key` and `payload.summary`. */
export const MAX_DEDUP_KEY_LENGTH = 255;
export const MAX_SUMMARY_LENGTH = 1024;
/** Who acknowledges when the event names no `client`. */
export const PAGERDUTY_ACKER = 'pagerduty';

/** What mapping an event needs from its caller. */
export interface PagerDutyOptions {
  /** A new unique dedup key (32 hex digits, as PagerDuty makes), for a trigger sent without one. */
  newDedupKey: () => string;
  /** The alarm id of PagerDuty alarms (must match ID_PATTERN); see the note above. */
  defaultId: string;
}

/** An event's operation and keys, or PagerDuty's answer to an invalid event: one message per problem, naming the field. */
export type PagerDutyResult =
  | { ok: true; op: IntakeOp; dedupKey: string; routingKey: string }
  | { ok: false; message: string; errors: string[] };

/** Text the store keeps as an alarm's source or acknowledger. */
const STORED = storedText(MAX_ACK_TEXT);
const FIELDS = AlarmInputSchema.shape.fields;

/** Where each field of a PagerDuty alarm comes from in the event. */
const FIELD_ORIGIN: Readonly<Record<string, string>> = {
  detail: 'payload.summary',
  source: 'payload.source',
  timestamp: 'payload.timestamp',
  component: 'payload.component',
  group: 'payload.group',
  class: 'payload.class',
  custom_details: 'payload.custom_details',
};

/** Reads an event's fields, recording PagerDuty-worded errors. */
class EventReader {
  readonly errors: string[] = [];

  /** An optional string of at most `max` characters; `required` refuses it missing or blank. */
  text(value: unknown, name: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      if (opts.required) this.errors.push(`'${name}' is missing or blank`);
      return undefined;
    }
    if (typeof value !== 'string') return this.invalid(name, 'must be a string');
    if (opts.max !== undefined && value.length > opts.max) {
      this.errors.push(`Length of '${name}' is incorrect (should be at most ${opts.max} characters)`);
      return undefined;
    }
    return value;
  }

  /** A string the store keeps as a column: valid Unicode without NUL. */
  stored(value: string | undefined, name: string): string | undefined {
    if (value === undefined || STORED.safeParse(value).success) return value;
    return this.invalid(name, 'must be valid Unicode without the NUL character');
  }

  oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
    const text = this.text(value, name, { required: true });
    if (text === undefined || (allowed as readonly string[]).includes(text)) return text as T | undefined;
    const list = allowed.map((a) => `'${a}'`);
    return this.invalid(name, `must be one of the following: ${list.slice(0, -1).join(', ')} or ${list.at(-1)}`);
  }

  array(value: unknown, name: string): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    return Array.isArray(value) ? value : this.invalid(name, 'must be an array');
  }

  invalid(name: string, why: string): undefined {
    this.errors.push(`'${name}' is invalid (${why})`);
    return undefined;
  }
}

/** The fields of a trigger's alarm; undefined (with errors recorded) when the payload is invalid. */
function triggerFields(event: Record<string, unknown>, client: string | undefined, r: EventReader): { fields: AlarmFields; severity: Severity; cls?: string } | undefined {
  const payload = event.payload;
  if (!isRecord(payload)) {
    if (payload === undefined || payload === null) r.errors.push("'payload' is missing or blank");
    else r.invalid('payload', 'must be an object');
    return undefined;
  }
  const summary = r.text(payload.summary, 'payload.summary', { required: true, max: MAX_SUMMARY_LENGTH });
  const source = r.text(payload.source, 'payload.source', { required: true });
  const severity = r.oneOf(payload.severity, 'payload.severity', ['critical', 'warning', 'error', 'info']);
  const optional: AlarmFields = {};
  for (const key of ['timestamp', 'component', 'group', 'class'] as const) {
    const value = r.text(payload[key], `payload.${key}`);
    if (value !== undefined) optional[key] = value;
  }
  if (payload.custom_details !== undefined && payload.custom_details !== null) optional.custom_details = payload.custom_details;
  for (const key of ['links', 'images'] as const) {
    const value = r.array(event[key], key);
    if (value !== undefined) optional[key] = value;
  }
  if (client !== undefined) optional.client = client;
  const clientUrl = r.text(event.client_url, 'client_url');
  if (clientUrl !== undefined) optional.client_url = clientUrl;
  if (summary === undefined || source === undefined || severity === undefined) return undefined;
  const fields: AlarmFields = { detail: summary, source, ...optional };
  const checked = FIELDS.safeParse(fields);
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const [first, ...rest] = issue.path.map(String);
      if (first === undefined) r.errors.push(`The event is too large (the alarm's fields ${issue.message})`);
      else r.invalid([FIELD_ORIGIN[first] ?? first, ...rest].join('.'), issue.message);
    }
    return undefined;
  }
  return { fields, severity: PAGERDUTY_SEVERITIES[severity] as Severity, ...(typeof optional.class === 'string' && { cls: optional.class }) };
}

/**
 * The operation of a PagerDuty Events API v2 alert event. A trigger raises the alarm (id, dedup
 * key): id = `payload.class` when it matches ID_PATTERN, else `defaultId`; severity critical →
 * critical, error → major, warning → warning, info → indeterminate; no expiry. A trigger without
 * a dedup key gets `newDedupKey()`, returned for the answer. Acknowledge acknowledges, and
 * resolve clears, the alarm (`defaultId`, dedup key); acknowledged `by` the event's `client`, or
 * 'pagerduty'. An invalid event gives PagerDuty's answer: `Event object is invalid` and one error
 * per problem, worded as PagerDuty words them (`'payload.summary' is missing or blank`).
 */
export function parsePagerDutyEvent(body: unknown, opts: PagerDutyOptions): PagerDutyResult {
  if (!isRecord(body)) return { ok: false, message: INVALID_EVENT_MESSAGE, errors: ['The event must be a JSON object'] };
  const r = new EventReader();
  const routingKey = r.text(body.routing_key, 'routing_key', { required: true, max: MAX_ROUTING_KEY_LENGTH });
  const action = r.oneOf(body.event_action, 'event_action', PAGERDUTY_ACTIONS);
  const sentKey = r.stored(r.text(body.dedup_key, 'dedup_key', { required: action !== undefined && action !== 'trigger', max: MAX_DEDUP_KEY_LENGTH }), 'dedup_key');
  const client = r.stored(r.text(body.client, 'client', { max: MAX_ACK_TEXT }), 'client');
  const trigger = action === 'trigger' ? triggerFields(body, client, r) : undefined;
  if (r.errors.length > 0 || routingKey === undefined || action === undefined) {
    return { ok: false, message: INVALID_EVENT_MESSAGE, errors: r.errors };
  }
  const dedupKey = sentKey ?? opts.newDedupKey();
  const done = (op: IntakeOp): PagerDutyResult => ({ ok: true, op, dedupKey, routingKey });
  if (action === 'acknowledge') return done({ kind: 'ack', id: opts.defaultId, source: dedupKey, by: client ?? PAGERDUTY_ACKER, comment: '' });
  if (action === 'resolve') return done({ kind: 'clear', id: opts.defaultId, source: dedupKey, mustExist: false });
  const { fields, severity, cls } = trigger as NonNullable<typeof trigger>;
  const id = cls !== undefined && ID_PATTERN.test(cls) ? cls : opts.defaultId;
  return done({ kind: 'raise', id, source: dedupKey, severity, fields });
}
