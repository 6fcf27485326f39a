/**
 * The alarm model (DESIGN §2): identity, states, the input accepted from clients, and the JSON
 * form answered to them. zod schemas here are the one definition of valid input, used by the
 * HTTP routes and by the embedding API alike.
 */
import { z } from 'zod';

export const STATUSES = ['ACTIVATED', 'CLEARED'] as const;
export type AlarmStatus = (typeof STATUSES)[number];

/** ITU X.733 perceived severities. */
export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const DEFAULT_SEVERITY: Severity = 'indeterminate';

/** Well-known alarm ids, as in service-center. */
export const AlarmIds = {
  BackendConnectionRefuse: 'BackendConnectionRefuse',
  InternalError: 'InternalError',
  /** Raised with the expiry of an alert of `watchdogAlerts`: it stopped arriving (planner.ts, PlanRules). */
  AlertingPipelineDown: 'AlertingPipelineDown',
} as const;

/** The source Alarm Center uses for alarms about itself. */
export const SELF_SOURCE = 'alarm-center';

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const NAME_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const MAX_SOURCE_LENGTH = 256;
export const MAX_FIELDS_BYTES = 16 * 1024;
export const MAX_BATCH = 1000;
/** The longest TTL of a raise or an acknowledgement: a year. */
export const MAX_TTL_SECONDS = 366 * 24 * 3600;
export const MAX_ACK_TEXT = 256;
export const MAX_ACK_COMMENT = 1024;
/** The `by` of the history entry that withdraws an acknowledgement whose `ttlSeconds` ran out. */
export const ACK_EXPIRED_BY = 'ack expired';

/** Where an alarm lives: the domain (tenant) and the project. */
export interface Scope {
  readonly domain: string;
  readonly project: string;
}

export const DEFAULT_SCOPE: Scope = { domain: 'default', project: 'default' };

/** Free key/values of an alarm; `detail` is the human message. */
export type AlarmFields = Record<string, unknown>;

/** A stored alarm. Times are milliseconds since the epoch. Alarms are immutable values. */
export interface Alarm {
  readonly domain: string;
  readonly project: string;
  readonly id: string;
  readonly source: string;
  readonly status: AlarmStatus;
  readonly severity: Severity;
  /** Parsed from `fieldsJson` on each access; only the text is kept in memory. */
  readonly fields: AlarmFields;
  /** `fields` serialized once: what the store writes, the JSON form embeds and memory holds. */
  readonly fieldsJson: string;
  readonly count: number;
  readonly raisedAt: number;
  readonly updatedAt: number;
  readonly clearedAt?: number;
  readonly revision: number;
  /** Who acknowledged the current activation, when, and why; absent while unacknowledged. */
  readonly ackedBy?: string;
  readonly ackedAt?: number;
  readonly ackComment?: string;
  /** When the acknowledgement is withdrawn by itself (UNACK); absent when it was given without a TTL. */
  readonly ackExpiresAt?: number;
  /** When an ACTIVATED alarm not raised again clears by itself (EXPIRE); absent without a TTL. */
  readonly expiresAt?: number;
}

/** An alarm's state, everything but the derived `fields`. */
export type AlarmState = Omit<Alarm, 'fields'>;

/**
 * The one implementation of Alarm: plain data fields plus a `fields` getter on the prototype,
 * so each alarm holds its fields once, as text (memory per alarm is what bounds the index).
 */
class StoredAlarm implements Alarm {
  declare readonly domain: string;
  declare readonly project: string;
  declare readonly id: string;
  declare readonly source: string;
  declare readonly status: AlarmStatus;
  declare readonly severity: Severity;
  declare readonly fieldsJson: string;
  declare readonly count: number;
  declare readonly raisedAt: number;
  declare readonly updatedAt: number;
  declare readonly clearedAt?: number;
  declare readonly revision: number;
  declare readonly ackedBy?: string;
  declare readonly ackedAt?: number;
  declare readonly ackComment?: string;
  declare readonly ackExpiresAt?: number;
  declare readonly expiresAt?: number;

  constructor(s: AlarmState) {
    // Assigned through `this`, so V8 sizes the object for them and keeps them in the object
    // rather than in a separate property array (memory per alarm bounds the index).
    this.domain = s.domain;
    this.project = s.project;
    this.id = s.id;
    this.source = s.source;
    this.status = s.status;
    this.severity = s.severity;
    this.fieldsJson = s.fieldsJson;
    this.count = s.count;
    this.raisedAt = s.raisedAt;
    this.updatedAt = s.updatedAt;
    this.revision = s.revision;
    if (s.clearedAt !== undefined) this.clearedAt = s.clearedAt;
    if (s.ackedAt !== undefined) {
      this.ackedAt = s.ackedAt;
      this.ackedBy = s.ackedBy ?? '';
      this.ackComment = s.ackComment ?? '';
      if (s.ackExpiresAt !== undefined) this.ackExpiresAt = s.ackExpiresAt;
    }
    if (s.expiresAt !== undefined) this.expiresAt = s.expiresAt;
  }

  get fields(): AlarmFields {
    return JSON.parse(this.fieldsJson) as AlarmFields;
  }
}

/** Makes an alarm from its state (a spread of another alarm is a valid state). */
export function makeAlarm(state: AlarmState): Alarm {
  return new StoredAlarm(state);
}

/** The JSON form of an alarm: service-center's `id`, `status`, `fields` first, then ours. */
export interface AlarmJson {
  id: string;
  status: AlarmStatus;
  fields: AlarmFields;
  source: string;
  severity: Severity;
  count: number;
  raisedAt: string;
  updatedAt: string;
  clearedAt?: string;
  revision: number;
  acknowledged: boolean;
  ackedBy?: string;
  ackedAt?: string;
  ackComment?: string;
  ackExpiresAt?: string;
  expiresAt?: string;
}

let lastTime = NaN;
let lastIso = '';

/**
 * A time as ISO 8601 text. The last one is remembered: the alarms of one write share their
 * time, and most of an answer's times are the same few milliseconds.
 */
export function isoTime(ms: number): string {
  if (ms !== lastTime) {
    lastIso = new Date(ms).toISOString();
    lastTime = ms;
  }
  return lastIso;
}

/**
 * The JSON text of an alarm, built from the stored `fieldsJson` without re-serializing it; the
 * one definition of the wire form (HTTP answers use it directly).
 */
export function serializeAlarm(a: Alarm): string {
  return (
    `{"id":${JSON.stringify(a.id)},"status":"${a.status}","fields":${a.fieldsJson},` +
    `"source":${JSON.stringify(a.source)},"severity":"${a.severity}","count":${a.count},` +
    `"raisedAt":"${isoTime(a.raisedAt)}","updatedAt":"${isoTime(a.updatedAt)}",` +
    (a.clearedAt !== undefined ? `"clearedAt":"${isoTime(a.clearedAt)}",` : '') +
    `"revision":${a.revision},` +
    (a.ackedAt !== undefined
      ? `"acknowledged":true,"ackedBy":${JSON.stringify(a.ackedBy)},"ackedAt":"${isoTime(a.ackedAt)}",` +
        `"ackComment":${JSON.stringify(a.ackComment)}` +
        (a.ackExpiresAt !== undefined ? `,"ackExpiresAt":"${isoTime(a.ackExpiresAt)}"` : '')
      : '"acknowledged":false') +
    (a.expiresAt !== undefined ? `,"expiresAt":"${isoTime(a.expiresAt)}"` : '') +
    '}'
  );
}

/** The JSON form of an alarm as a value, for embedders: what the HTTP API answers. */
export function toJson(a: Alarm): AlarmJson {
  return JSON.parse(serializeAlarm(a)) as AlarmJson;
}

/** The key of an alarm inside its scope. */
export function alarmKey(id: string, source: string): string {
  return `${id}\u0000${source}`;
}

let lastDomain: string | undefined;
let lastProject: string | undefined;
let lastScopeKey = '';

/**
 * The key of a scope in maps. The last one is remembered: the changes of a write share their
 * scope, and the same string each time is hashed once.
 */
export function scopeKey(scope: Scope): string {
  if (scope.domain !== lastDomain || scope.project !== lastProject) {
    lastScopeKey = `${scope.domain}\u0000${scope.project}`;
    lastDomain = scope.domain;
    lastProject = scope.project;
  }
  return lastScopeKey;
}

/**
 * The path of the first key `__proto__` in a JSON value, or undefined. JSON.parse keeps such a
 * key as data, but copying the object (as validation does) drops it or, through an assignment,
 * sets the copy's prototype: it is refused rather than silently lost.
 */
function protoKeyPath(value: unknown, seen = new Set<object>()): string[] | undefined {
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  seen.add(value);
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return [key];
    const below = protoKeyPath((value as Record<string, unknown>)[key], seen);
    if (below) return [key, ...below];
  }
  return undefined;
}

const recordSchema = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(value));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be serializable as JSON' });
      return;
    }
    if (size > MAX_FIELDS_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_FIELDS_BYTES} bytes as JSON, got ${size}` });
    }
  });

/** An alarm's `fields`: a JSON object of at most MAX_FIELDS_BYTES, with no key `__proto__` at any depth. */
const fieldsSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const at = protoKeyPath(value);
    if (at) ctx.addIssue({ code: 'custom', path: at, message: 'a key named __proto__ is refused: it would not be kept as sent' });
  })
  .pipe(recordSchema) as unknown as typeof recordSchema;

/** A UTF-16 surrogate without its pair: no UTF-8 text, so the store could not keep it as sent. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Free text the store keeps as a column (a source, who acknowledged, a comment): at most `max`
 * characters of valid Unicode without NUL (PostgreSQL keeps no NUL in text), so what is answered
 * is what a restart reads back, whatever the store.
 */
export function storedText(max: number) {
  return z
    .string()
    .max(max)
    .superRefine((s, ctx) => {
      const problem = storedTextProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** Why a text cannot be kept as sent (see storedText): a lone surrogate or a NUL; undefined when it can. */
export function storedTextProblem(s: string): string | undefined {
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (a lone surrogate was found)';
  if (s.includes('\u0000')) return 'must not contain the NUL character';
  return undefined;
}

/** A TTL in seconds: a whole number from 1 to MAX_TTL_SECONDS. */
const ttlSchema = z.number().int().min(1).max(MAX_TTL_SECONDS);

/** One raise or clear, as a client sends it. Unknown keys are refused. */
export const AlarmInputSchema = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}'),
  status: z.enum(STATUSES).default('ACTIVATED'),
  source: storedText(MAX_SOURCE_LENGTH).default(''),
  severity: z.enum(SEVERITIES).optional(),
  fields: fieldsSchema.default({}),
  /** An ACTIVATED alarm not raised again within this many seconds clears by itself (EXPIRE). */
  ttlSeconds: ttlSchema.optional(),
});

export type AlarmInput = z.input<typeof AlarmInputSchema>;
export type ValidAlarmInput = z.output<typeof AlarmInputSchema>;

/** An acknowledgement as a client sends it. */
export const AckInputSchema = z.strictObject({
  by: storedText(MAX_ACK_TEXT).pipe(z.string().min(1)),
  comment: storedText(MAX_ACK_COMMENT).default(''),
  /** The acknowledgement is withdrawn by itself (UNACK) unless renewed within this many seconds. */
  ttlSeconds: ttlSchema.optional(),
});

/** A bulk clear's selector: at least one criterion; every given one must match. */
export const ClearSelectorSchema = z
  .strictObject({
    ids: z.array(z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}')).min(1).max(MAX_BATCH).optional(),
    source: storedText(MAX_SOURCE_LENGTH).optional(),
    severity: z.enum(SEVERITIES).optional(),
  })
  .refine((s) => s.ids !== undefined || s.source !== undefined || s.severity !== undefined, {
    message: 'give at least one of ids, source, severity (DELETE the alarms route clears them all)',
  });

/** A batch of raises and clears, applied atomically. */
export const AlarmBatchSchema = z.strictObject({
  alarms: z.array(AlarmInputSchema).min(1).max(MAX_BATCH),
});

export const ScopeSchema = z.strictObject({
  domain: z.string().regex(NAME_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}'),
  project: z.string().regex(NAME_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}'),
});

/** What one committed change did to an alarm; the history log keeps one entry per change. */
export const CHANGE_ACTIONS = ['raise', 'reraise', 'clear', 'clear-all', 'ack', 'unack', 'expire', 'purge'] as const;
/** Actions that take the alarm out of the list (it stays in the history). */
export const REMOVING_ACTIONS: ReadonlySet<string> = new Set(['clear-all', 'purge']);
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

/** A change ready to commit: the alarm's state after it, or its last state when removed. */
export interface AlarmChange {
  readonly action: ChangeAction;
  readonly alarm: Alarm;
  readonly removed: boolean;
  readonly at: number;
  /**
   * Who made an acknowledgement's change: the `by` of an ack, ACK_EXPIRED_BY for the withdrawal
   * of one whose TTL ran out; absent otherwise (a withdrawal over the API names no one).
   */
  readonly by?: string;
}

/** A zod issue's message; unknown keys are named the same way wherever they occur. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return `unrecognized key${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  return issue.message;
}

/**
 * Turns a zod error into a one-line detail naming each offending field from `root` (`body`,
 * `query`, an argument's name): `body.alarms.1.severity: …`, `body: unrecognized key "severty"`.
 */
export function describeIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
      return path ? `${path}: ${issueMessage(issue)}` : issueMessage(issue);
    })
    .join('; ');
}
