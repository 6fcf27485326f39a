/**
 * The `webhooks` setting: each webhook's name, URL, which changes it takes (`match`), body format,
 * signing secret, extra headers, timeout and attempts; and the selection of changes by `match`
 * and `sendResolved`. The settings table (src/settings.ts) holds the schema; errors name the
 * entry and its field (`webhooks[0].url: …`) and never repeat a URL, secret or header value.
 */
import { z } from 'zod';
import { httpUrl, namedList } from '../config-lists.js';
import { SEVERITIES, type Alarm, type Severity } from '../alarm/model.js';

/** The body formats: the history entry as the history route answers it, or Alertmanager's webhook body. */
export const WEBHOOK_FORMATS = ['alarm', 'alertmanager'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** A webhook's name: it keys its cursor and dead letters, and shows in paths, metrics and Idempotency-Keys. */
export const WEBHOOK_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The headers Alarm Center sets itself, which `headers` may not name. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'idempotency-key', 'x-alarm-center-signature', 'host', 'connection', 'transfer-encoding']);

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const textOrList = z.union([z.string(), z.array(z.string()).min(1, { error: 'must list at least one value' })]);

/** Which alarms a webhook takes; each criterion an exact value or a list of them, all of them required. */
export const WebhookMatchSchema = z.strictObject({
  domain: textOrList.optional(),
  project: textOrList.optional(),
  id: textOrList.optional(),
  source: textOrList.optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
});

const headersSchema = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid header name' });
    else if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by Alarm Center itself' });
    // eslint-disable-next-line no-control-regex
    else if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'the value has a control character' });
  }
});

const whole = (min: number, max: number) => z.number().int().min(min).max(max);

/** One webhook of the config file. */
export const WebhookSchema = z.strictObject({
  name: z.string().regex(WEBHOOK_NAME_PATTERN, 'must match [A-Za-z0-9._-]{1,64}'),
  url: httpUrl,
  match: WebhookMatchSchema.optional(),
  format: z.enum(WEBHOOK_FORMATS).default('alarm'),
  sendResolved: z.boolean().default(true),
  secret: z.string().min(1, { error: 'must not be empty' }).optional(),
  headers: headersSchema.optional(),
  timeoutSeconds: whole(1, 600).default(10),
  maxAttempts: whole(1, 1000).default(10),
});

/** Every webhook; names unique. A list of objects, so only a config file gives it (the environment's text is refused). */
export const WebhooksSchema = namedList(WebhookSchema, 'webhook');

export type WebhookConfig = z.output<typeof WebhookSchema>;
export type WebhookMatch = z.output<typeof WebhookMatchSchema>;

/** Lower is more severe, in SEVERITIES' order. */
const RANK = new Map<Severity, number>(SEVERITIES.map((s, i) => [s, i]));

const takes = (criterion: string | string[] | undefined, value: string) =>
  criterion === undefined || (typeof criterion === 'string' ? criterion === value : criterion.includes(value));

/** Whether a webhook's `match` takes the alarm (every alarm when it has none). */
export function matchesAlarm(match: WebhookMatch | undefined, a: Alarm): boolean {
  if (!match) return true;
  if (match.minSeverity !== undefined && (RANK.get(a.severity) ?? 0) > (RANK.get(match.minSeverity) ?? 0)) return false;
  return takes(match.domain, a.domain) && takes(match.project, a.project) && takes(match.id, a.id) && takes(match.source, a.source);
}

/** Whether the webhook sends a change that leaves its alarm in this state (`sendResolved: false` sends no CLEARED one). */
export function sendsChange(hook: Pick<WebhookConfig, 'match' | 'sendResolved'>, a: Alarm): boolean {
  if (!hook.sendResolved && a.status === 'CLEARED') return false;
  return matchesAlarm(hook.match, a);
}

