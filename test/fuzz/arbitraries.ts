/**
 * Generators of hostile requests for the routes' fuzz tests: paths with unicode and malformed
 * percent-encoding, random query strings and headers, arbitrary JSON, AlarmInputs with one
 * field made invalid (each with the name a refusal must mention), and raw non-JSON bytes.
 */
import fc from 'fast-check';
import { AlarmInputSchema, ID_PATTERN, MAX_BATCH, MAX_FIELDS_BYTES, MAX_SOURCE_LENGTH, SEVERITIES, STATUSES } from '../../src/alarm/model.js';
import { HTTP_METHODS, isObj, loadSpec, type Obj } from '../helpers/openapi.js';
import type { FuzzRequest } from './client.js';

/** The scopes the tests seed with alarms, so that requests aim at stored data. */
export const PROJECTS = ['p', 'q'] as const;
export const DOMAINS = ['default', 'tenant'] as const;
export const SEEDED_IDS = ['A', 'BackendConnectionRefuse'] as const;

/** Methods Node's HTTP parser accepts (CONNECT aside, which is no request for a route). */
export const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE', 'LOCK', 'MKCOL', 'COPY', 'SEARCH'];

const ID_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-'];
/** Characters a client may put raw in a request target, `%` included (so malformed escapes arise). */
const TARGET_CHARS = [...ID_CHARS, ...'~!$&\'()*+,;=@"<>[]\\^`{|}%'];
const TOKEN_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789-!#$%&\'*+.^_`|~'];
const MALFORMED_ESCAPES = ['%', '%Z', '%ZZ', '%4', '%E0%A4%A', '%C0%AF', '%FF', '%ED%A0%80', '%C3', '%00', '%0A', '%2F', '%25', '%u0041', '%%'];
/** Headers that frame the request; a fuzzed value would test the client, not the server. */
const FRAMING_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer'];

const idOf = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength, maxLength });
const rawText = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TARGET_CHARS), maxLength });
/** Text a client can send in a header value: visible latin1 and spaces. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength });
/** Unicode text as a client sends it in a header: its UTF-8 bytes. */
const utf8Header = fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
const encodedUnicode = fc.string({ unit: 'grapheme', maxLength: 16 }).map(encodeURIComponent);
const malformedEscape = fc.tuple(rawText(4), fc.constantFrom(...MALFORMED_ESCAPES), rawText(4)).map((parts) => parts.join(''));

/** A path segment: names the server knows, near-names (up to past 128 characters), unicode, malformed escapes. */
export const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PROJECTS, ...SEEDED_IDS, 'default', 'store', 'bus', 'lifecycle', 'ping') },
  { weight: 2, arbitrary: idOf(1, 40) },
  { weight: 1, arbitrary: idOf(126, 132) },
  { weight: 2, arbitrary: encodedUnicode },
  { weight: 2, arbitrary: malformedEscape },
  { weight: 2, arbitrary: rawText(12) },
);

const queryKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('status', 'id', 'source', 'severity', 'since', 'limit', 'verbose', 'exclude') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '') },
  { weight: 1, arbitrary: rawText(8) },
);
const queryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...STATUSES, ...SEVERITIES, ...SEEDED_IDS, '0', '1', '-1', '1.5', '1e3', '999999999999999', '9999999999999999', 'store,bus', '') },
  { weight: 1, arbitrary: idOf(250, 270) },
  { weight: 2, arbitrary: encodedUnicode },
  { weight: 2, arbitrary: malformedEscape },
  { weight: 2, arbitrary: rawText(20) },
);
/** A query string, `?` included, or nothing: known and unknown keys, repeated keys, keys without `=`. */
export const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.oneof(fc.tuple(queryKey, queryValue).map(([k, v]) => `${k}=${v}`), queryKey), { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`),
  fc.webQueryParameters().map((q) => `?${q}`),
);

const domainHeader = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...DOMAINS) },
  { weight: 1, arbitrary: idOf(126, 132) },
  { weight: 2, arbitrary: headerText(30) },
  { weight: 1, arbitrary: utf8Header },
);
/** Tokens a server under test may be configured with, by role. */
export const TOKENS = { read: 'fuzz-read-token', write: 'fuzz-write-token', admin: 'fuzz-admin-token' } as const;

const authorizationHeader = fc.oneof(
  fc.constantFrom(...Object.values(TOKENS)).chain((t) => fc.constantFrom(`Bearer ${t}`, `bearer ${t}`, `Bearer  ${t} `, `Basic ${t}`, t, `Bearer ${t}x`)),
  fc.base64String({ maxLength: 40 }).map((t) => `Bearer ${t}`),
  fc.base64String({ maxLength: 40 }).map((t) => `Basic ${t}`),
  headerText(60),
);
const headerName = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 16 }).filter((n) => !FRAMING_HEADERS.includes(n));

/** Optional headers: the domain, credentials, content negotiation, a watch resume point, anything. */
export const headers: fc.Arbitrary<Record<string, string>> = fc
  .tuple(
    fc.record(
      {
        'x-domain-name': domainHeader,
        authorization: authorizationHeader,
        accept: fc.oneof(fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/event-stream;q=0.1'), headerText(30)),
        'content-type': fc.oneof(
          fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded'),
          headerText(30),
        ),
        'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus'),
        'last-event-id': fc.oneof(fc.constantFrom('0', '1', '-1', ' 3 ', 'abc'), headerText(20)),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(headerName, headerText(40), { maxKeys: 2 }),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

/** Any UTF-16 code unit, lone surrogates included: what a JSON `\uXXXX` escape can carry. */
const codeUnit = fc
  .oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 0xffff }) }, { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }) })
  .map((c) => String.fromCharCode(c));
const sourceText = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: codeUnit, maxLength: 10 }));
const fieldsValue = fc.dictionary(fc.string({ unit: codeUnit, maxLength: 10 }), fc.jsonValue({ maxDepth: 2, stringUnit: codeUnit }), { maxKeys: 4 });

/** An AlarmInput, every key but `id` optional; valid, but for a source that may hold a lone surrogate. */
export const alarmInput = fc.record(
  {
    id: fc.oneof(fc.constantFrom(...SEEDED_IDS), idOf(1, 20), idOf(128, 128)),
    status: fc.constantFrom(...STATUSES),
    source: sourceText,
    severity: fc.constantFrom(...SEVERITIES),
    fields: fieldsValue,
  },
  { requiredKeys: ['id'] },
);

/** An AlarmInput (or a batch) that must be refused with 400001, with texts its `detail` must contain. */
export interface Refusable {
  body: unknown;
  names: string[];
}

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const notObject = wrongType.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v));
const outside = (values: readonly string[]) =>
  fc
    .oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...values.flatMap((v) => [v.toLowerCase(), v.toUpperCase(), ` ${v}`, `${v}\u0000`])))
    .filter((s) => !values.includes(s));
/** Fields just past 16 KiB as JSON, counted in bytes: `{"detail":"…"}` is 13 bytes around the text. */
const oversizeFields = fc.oneof(
  fc.integer({ min: MAX_FIELDS_BYTES - 12, max: MAX_FIELDS_BYTES + 2000 }).map((n) => ({ detail: 'x'.repeat(n) })),
  fc.integer({ min: (MAX_FIELDS_BYTES - 12) / 2, max: MAX_FIELDS_BYTES / 2 + 500 }).map((n) => ({ detail: 'é'.repeat(n) })),
  fc.integer({ min: 1500, max: 2500 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
);
const KNOWN_KEYS = [...Object.keys(AlarmInputSchema.shape), 'alarms'];
const unknownKey = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/).filter((k) => !KNOWN_KEYS.includes(k));

/** One field of a valid input made invalid: [the field, its invalid value]. */
const invalidField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constant('id'), fc.oneof(wrongType, idOf(129, 300), fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !ID_PATTERN.test(s)))),
  fc.tuple(fc.constant('status'), fc.oneof(wrongType, outside(STATUSES))),
  fc.tuple(fc.constant('severity'), fc.oneof(wrongType, outside(SEVERITIES))),
  fc.tuple(fc.constant('source'), fc.oneof(wrongType.filter((v) => typeof v !== 'string'), fc.string({ minLength: MAX_SOURCE_LENGTH + 1, maxLength: 400 }))),
  fc.tuple(fc.constant('fields'), fc.oneof(notObject, oversizeFields)),
);

/** A valid input with one field made invalid or one unknown key added. */
export const refusedInput: fc.Arbitrary<{ input: Record<string, unknown>; field?: string; key?: string }> = fc.oneof(
  fc.tuple(alarmInput, invalidField).map(([input, [field, value]]) => ({ input: { ...input, [field]: value }, field })),
  fc.tuple(alarmInput, unknownKey, fc.jsonValue({ maxDepth: 1 })).map(([input, key, value]) => ({ input: { ...input, [key]: value }, key })),
);

/** Bodies of POST …/alarms that must be refused, single or batched. */
export const refusedBody: fc.Arbitrary<Refusable> = fc.oneof(
  { weight: 4, arbitrary: refusedInput.map((r) => ({ body: r.input, names: [r.field ?? (r.key as string)] })) },
  { weight: 1, arbitrary: fc.constant<Refusable>({ body: { alarms: [] }, names: ['alarms'] }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_BATCH + 1, max: MAX_BATCH + 50 }).map((n) => ({
      body: { alarms: Array.from({ length: n }, (_, i) => ({ id: `b${i}` })) },
      names: ['alarms'],
    })),
  },
  { weight: 1, arbitrary: wrongType.filter((v) => !Array.isArray(v)).map((v) => ({ body: { alarms: v }, names: ['alarms'] })) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.array(alarmInput, { maxLength: 4 }), refusedInput, fc.array(alarmInput, { maxLength: 4 })).map(([before, r, after]) => ({
      body: { alarms: [...before, r.input, ...after] },
      names: r.field ? [`alarms.${before.length}.${r.field}`] : [`alarms.${before.length}`, r.key as string],
    })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.array(alarmInput, { minLength: 1, maxLength: 3 }), unknownKey, fc.jsonValue({ maxDepth: 1 })).map(([alarms, key, value]) => ({
      body: { alarms, [key]: value },
      names: [key],
    })),
  },
);

/** Bodies that may or may not be valid: any JSON, any object, valid inputs and batches. */
export const anyJsonBody = fc.oneof(
  fc.jsonValue(),
  fc.object(),
  alarmInput,
  fc.array(alarmInput, { maxLength: 5 }).map((alarms) => ({ alarms })),
  refusedBody.map((r) => r.body),
);

/** Bytes that are not JSON: random bytes, JSON cut short or with a byte changed, huge non-JSON. */
export const notJsonBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.tuple(alarmInput, fc.nat()).map(([input, n]) => {
    const text = Buffer.from(JSON.stringify(input));
    return text.subarray(0, n % text.length);
  }),
  fc.tuple(alarmInput, fc.nat(), fc.constantFrom(0x00, 0x22, 0x7b, 0x7d, 0xc3, 0xff)).map(([input, n, byte]) => {
    const text = Buffer.from(JSON.stringify(input));
    text[n % text.length] = byte;
    return text;
  }),
  fc.constantFrom('', '{', '}', '[', 'nul', 'NaN', 'undefined', '{"id":"A",}', "{'id':'A'}", '{"id":"A"}{"id":"B"}', '\ufeff{"id":"A"}', '{"id":"\\uD800"').map((s) => Buffer.from(s)),
);

/** Bodies past the 1 MiB default limit: 413001 whatever they hold. */
export const hugeBody = fc
  .tuple(fc.integer({ min: 1024 * 1024 + 1, max: 1024 * 1024 + 4096 }), fc.constantFrom('a', 'é', '{', '\u0000'))
  .map(([size, c]) => Buffer.concat([Buffer.from('{"id":"A","fields":{"detail":"'), Buffer.alloc(size, c)]));

/**
 * Every documented operation, as [method, path template]: the fuzz follows the API description,
 * which the openapi tests keep in step with the routes the app serves.
 */
const OPERATIONS: [string, string][] = Object.entries(loadSpec().doc.paths as Obj).flatMap(([template, item]) =>
  HTTP_METHODS.filter((m) => isObj(item) && m in item).map((m): [string, string] => [m.toUpperCase(), template]),
);

/** The template with each `{parameter}` replaced by the next of `segments`. */
function fill(template: string, segments: readonly string[]): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => segments[i++] ?? '');
}

const bodyOf = (v: unknown) => Buffer.from(JSON.stringify(v) ?? '');

/** A request to a documented operation, usually with its own method, with any query, headers and body. */
export const routeRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    operation: fc.constantFrom(...OPERATIONS),
    otherMethod: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...KNOWN_METHODS) }),
    segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
    query,
    headers,
    body: fc.option(fc.oneof(anyJsonBody.map(bodyOf), notJsonBytes), { freq: 2 }),
  })
  .map(({ operation: [method, template], otherMethod, segments, query: q, headers: h, body }) => ({
    method: otherMethod ?? method,
    path: `${fill(template, segments)}${q}`,
    headers: h,
    body: body ?? undefined,
  }));

/** Random paths, nearly always none a route has: dot segments, doubled slashes, near-miss route names. */
export const unknownPath = fc
  .tuple(
    fc.array(fc.oneof(segment, fc.constantFrom('v4', 'admin', 'alarms', 'registry', 'watch', 'history', '.', '..', '', 'ALARMS', 'alarms ')), { maxLength: 6 }),
    query,
  )
  .map(([segments, q]) => `/${segments.map((s) => s.replace(/ /g, '%20')).join('/')}${q}`);

/** A request for a random path with a random known method. */
export const unknownPathRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({ method: fc.constantFrom(...KNOWN_METHODS), path: unknownPath, headers })
  .map((r) => ({ ...r, body: undefined }));

/** Methods Node's parser knows besides KNOWN_METHODS (WebDAV, RTSP, …): not "unknown". */
const OTHER_PARSER_METHODS = [
  'CONNECT', 'ACL', 'BIND', 'CHECKOUT', 'LINK', 'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MOVE', 'NOTIFY', 'PROPPATCH',
  'QUERY', 'REBIND', 'SOURCE', 'SUBSCRIBE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE', 'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP',
  'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH',
];

/** A token method Node's parser does not know. */
export const unknownMethod = fc
  .string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ-_'), minLength: 1, maxLength: 10 })
  .filter((m) => !KNOWN_METHODS.includes(m) && !OTHER_PARSER_METHODS.includes(m));
