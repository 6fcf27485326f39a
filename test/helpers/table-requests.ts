/**
 * Generated requests for the routes of a route table: mostly each route's own method, its
 * template filled with parameters the server knows or refuses, an occasional query string,
 * credentials none, malformed, unknown or of each role, and bodies valid, refused, malformed,
 * compressed, oversized or missing. The fast routes are drawn more often, so that most
 * requests are ones the hot path answers.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SEVERITIES, STATUSES } from '../../src/alarm/model.js';
import type { Route } from '../../src/http/route-table.js';
import { TOKENS, anyJsonBody, notJsonBytes } from '../fuzz/arbitraries.js';
import type { DiffRequest } from './differential.js';

/** Parameter values the seeded server knows, by parameter name. */
const KNOWN_PARAMS: Record<string, readonly string[]> = {
  project: ['p', 'q'],
  id: ['A', 'BackendConnectionRefuse', 'Nope'],
  check: ['ping', 'store', 'bus', 'lifecycle', 'nope'],
};
/** Parameter values refused as names or as encodings. */
const BAD_PARAMS = ['a%20b', '%zz', '%E0%A4%A', 'x'.repeat(129), '%C3%A9t%C3%A9', '%2F', 'a:b', '-'];
const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'OPTIONS'];
const QUERIES = ['?', '?verbose', '?source=s1', '?limit=2', '?exclude=store', '?bogus=1', '?id=A&id=B'];

const param = (name: string) =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(KNOWN_PARAMS[name] ?? ['x'])) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_PARAMS) });

/** The route's path with each `:name` filled. */
function pathOf(route: Route): fc.Arbitrary<string> {
  const parts = route.template.split('/').map((s) => (s.startsWith(':') ? param(s.slice(1)) : fc.constant(s)));
  return fc.tuple(...parts).map((segments) => segments.join('/'));
}

/** An alarm of the seeded scopes, raised or cleared: writes that change what probes and lists answer. */
const seededInput = fc.record(
  {
    id: fc.constantFrom('A', 'B', 'BackendConnectionRefuse'),
    source: fc.constantFrom('', 's1', 's2'),
    severity: fc.constantFrom(...SEVERITIES),
    status: fc.constantFrom(...STATUSES),
    fields: fc.constant({ detail: 'generated' }),
  },
  { requiredKeys: ['id'] },
);

/** A body, or none: valid writes, any JSON, bytes that are not JSON, or a body past `limit` bytes. */
function body(limit: number): fc.Arbitrary<Buffer | undefined> {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v) ?? '');
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.oneof(seededInput, fc.array(seededInput, { minLength: 1, maxLength: 4 }).map((alarms) => ({ alarms }))).map(json) },
    { weight: 2, arbitrary: anyJsonBody.map(json) },
    { weight: 1, arbitrary: notJsonBytes },
    { weight: 1, arbitrary: fc.integer({ min: limit + 1, max: limit + 2000 }).map((n) => json({ id: 'A', fields: { detail: 'x'.repeat(n) } })) },
  );
}

const optional = (values: readonly string[], weightOfNone = 2) =>
  fc.oneof({ weight: weightOfNone, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...values) });

const headers = fc.record({
  authorization: optional([
    'Bearer nope',
    'Basic abc',
    `Bearer ${TOKENS.read}`,
    `Bearer ${TOKENS.write}`,
    `Bearer ${TOKENS.admin}`,
    `bearer  ${TOKENS.admin} `,
    `Bearer ${TOKENS.write}x`,
  ], 1),
  'x-domain-name': optional(['default', 'tenant', ' tenant ', 'a b', 'x'.repeat(129)]),
  'content-type': optional([
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/merge-patch+json',
    'text/plain',
    'application/x-www-form-urlencoded',
  ], 1),
  'content-encoding': optional(['gzip', 'gzip', 'identity', 'bogus'], 5),
  'x-request-id': optional(['probe-1', 'not a valid id!'], 4),
  accept: optional(['application/json', '*/*']),
});

/** Requests for the routes of `routes`, the fast ones three times as often; bodies past `limit` bytes are among them. */
export function tableRequest(routes: readonly Route[], limit: number): fc.Arbitrary<DiffRequest> {
  const fast = routes.filter((r) => r.fast);
  const others = routes.filter((r) => !r.fast);
  const route = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...fast) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
  return route.chain((r) =>
    fc
      .record({
        method: fc.oneof({ weight: 6, arbitrary: fc.constant(r.method as string) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
        path: pathOf(r),
        query: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(...QUERIES) }),
        headers,
        body: body(limit),
      })
      .map(({ method, path, query, headers: h, body: b }) => {
        const sent = Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined));
        const zipped = sent['content-encoding'] === 'gzip' && b !== undefined;
        return { method, path: `${path}${query}`, headers: sent, body: zipped ? gzipSync(b) : b };
      }),
  );
}
