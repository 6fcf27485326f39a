/**
 * The `checks` setting: active checks of backends, each a name, one target (`http: URL` with the
 * expected status range and an optional body substring, or `tcp: host:port`), how often and how
 * long it runs, and how many failures raise (and successes clear) its BackendConnectionRefuse
 * alarm. The settings table (src/settings.ts) holds the schema; errors name the entry and field
 * (`checks[0].tcp: …`) and never repeat a URL, which may hold a password.
 */
import { z } from 'zod';
import { httpUrl, namedList, publicUrl } from '../config-lists.js';
import { NAME_PATTERN, SEVERITIES } from '../alarm/model.js';

/** A check's name: the source of its alarm, and the `check` label of its metrics. */
export const CHECK_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** `host:port`, the host a name, an IPv4 address or a bracketed IPv6 one. */
const TCP_TARGET = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** A TCP target's host (brackets removed) and port. */
export function parseTcpTarget(target: string): { host: string; port: number } | undefined {
  const m = TCP_TARGET.exec(target);
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= 65535)) return undefined;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** An expected status range, `200-399`, or one status, `204`. */
const STATUS_RANGE = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/;

/** The bounds of an expected status range. */
export function parseStatusRange(text: string): [number, number] | undefined {
  const m = STATUS_RANGE.exec(text);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  return low <= high ? [low, high] : undefined;
}

const seconds = (min: number, max: number) => z.number().min(min).max(max);
const whole = (min: number, max: number) => z.number().int().min(min).max(max);
const scopeName = z.string().regex(NAME_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}');

/** One check of the config file. */
export const CheckSchema = z
  .strictObject({
    name: z.string().regex(CHECK_NAME_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}'),
    http: httpUrl.optional(),
    tcp: z.string().refine((v) => parseTcpTarget(v) !== undefined, 'must be host:port, the port from 1 to 65535').optional(),
    expectStatus: z.string().refine((v) => parseStatusRange(v) !== undefined, 'must be a status or a range of them, as 200-399').optional(),
    bodyContains: z.string().min(1, { error: 'must not be empty' }).optional(),
    intervalSeconds: seconds(0.01, 86_400).default(10),
    timeoutSeconds: seconds(0.01, 600).default(2),
    failureThreshold: whole(1, 1000).default(3),
    successThreshold: whole(1, 1000).default(1),
    severity: z.enum(SEVERITIES).default('major'),
    domain: scopeName.default('default'),
    project: scopeName.default('default'),
  })
  .superRefine((c, ctx) => {
    if ((c.http === undefined) === (c.tcp === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one target: http or tcp' });
    for (const key of ['expectStatus', 'bodyContains'] as const) {
      if (c[key] !== undefined && c.http === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'applies to an http check only' });
    }
  });

/** Every check; names unique. A list of objects, so only a config file gives it (the environment's text is refused). */
export const ChecksSchema = namedList(CheckSchema, 'check');

export type CheckConfig = z.output<typeof CheckSchema>;

/** What a check probes, as answers and alarms show it: `GET URL` (no credentials) or `tcp host:port`. */
export function targetText(c: Pick<CheckConfig, 'http' | 'tcp'>): string {
  return c.http !== undefined ? `GET ${publicUrl(c.http)}` : `tcp ${c.tcp ?? ''}`;
}
