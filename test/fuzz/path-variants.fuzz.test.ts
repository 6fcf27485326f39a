/**
 * Generated variants of every route's path — chains of case flips, added slashes, dot segments
 * and percent-encodings — sent with every kind of credential, on the fast path, through
 * express and as an event stream. A variant the route table matches as the same route answers
 * exactly as the route's own path does; one it matches as no route is 404002 and changes
 * nothing. Bounded by runs and time; FUZZ_SEED/FUZZ_PATH replay a failure.
 */
import http from 'node:http';
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeParams } from '../../src/http/route-table.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { CREDENTIALS, SPECS, authorization, bodyOf, canonicalPath, errorCodeOf, resetP1 } from '../helpers/route-variants.js';
import { describeRequest, send, type FuzzRequest } from './client.js';

/** One change to a path's text. */
type Mutation =
  | { kind: 'case'; at: number }
  | { kind: 'slash'; at: number }
  | { kind: 'dot'; at: number; dots: '.' | '..' }
  | { kind: 'encode'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('slash' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dot' as const), at: fc.nat(), dots: fc.constantFrom('.' as const, '..' as const) }),
  fc.record({ kind: fc.constant('encode' as const), at: fc.nat() }),
);

/** Applies a mutation at a place of the path picked by `at`; the path keeps its leading slash. */
function mutate(path: string, m: Mutation): string {
  const slashes = [...path.matchAll(/\//g)].map((x) => x.index as number);
  switch (m.kind) {
    case 'case': {
      const letters = [...path].map((ch, i) => (/[a-z]/i.test(ch) ? i : -1)).filter((i) => i >= 0);
      if (letters.length === 0) return path;
      const i = letters[m.at % letters.length] as number;
      const ch = path[i] as string;
      return path.slice(0, i) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + path.slice(i + 1);
    }
    case 'slash': {
      const at = [...slashes, path.length][m.at % (slashes.length + 1)] as number;
      return `${path.slice(0, at)}/${path.slice(at)}`;
    }
    case 'dot': {
      const at = [...slashes, path.length][m.at % (slashes.length + 1)] as number;
      return `${path.slice(0, at)}${m.dots === '.' ? '/.' : '/x/..'}${path.slice(at)}`;
    }
    case 'encode': {
      const chars = [...path].map((ch, i) => (ch !== '/' && ch !== '%' ? i : -1)).filter((i) => i >= 0);
      if (chars.length === 0) return path;
      const i = chars[m.at % chars.length] as number;
      return `${path.slice(0, i)}%${path.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0')}${path.slice(i + 1)}`;
    }
  }
}

/** The decoded parameters, or the raw ones when an encoding is malformed. */
function safeDecode(raw: Record<string, string>): Record<string, string> {
  try {
    return decodeParams(raw);
  } catch {
    return raw;
  }
}

describe('route paths under generated variants', function () {
  this.timeout(60_000);
  let server: RunningServer;
  let agent: http.Agent;

  before(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS });
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  });

  after(async () => {
    agent.destroy();
    await server.close();
  });

  const reset = () => resetP1(server);

  it('answers a variant as its route, or 404002 with nothing changed, for every credential and transport', async () => {
    const routes = server.app.table.routes;
    const arbitrary = fc.record({
      route: fc.constantFrom(...routes),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      credential: fc.constantFrom(...CREDENTIALS),
      transport: fc.constantFrom('fast', 'express', 'event-stream'),
    });
    let same = 0;
    let none = 0;
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, mutations, credential, transport }) => {
        const path = canonicalPath(route);
        const variant = mutations.reduce(mutate, path);
        const found = server.app.table.match(route.method, variant);
        // A variant that is another route, or this route with other arguments (`/livez/Ping`), is tested as that.
        if (found && found.route !== route) return;
        if (found && JSON.stringify(safeDecode(found.raw)) !== JSON.stringify(safeDecode(server.app.table.match(route.method, path)?.raw ?? {}))) return;
        const headers: Record<string, string> = { ...authorization(credential) };
        if (transport === 'event-stream') headers.accept = 'text/event-stream';
        const text = bodyOf(route);
        const body = text === undefined ? undefined : Buffer.from(text);
        if (body) headers['content-type'] = 'application/json';
        const suffix = transport === 'express' ? '?' : '';
        const request = (p: string): FuzzRequest => ({ method: route.method, path: p + suffix, headers, body });

        await reset();
        const expected = await send(server.port, agent, request(path));
        const before = await reset();
        const got = await send(server.port, agent, request(variant));
        const what = `${describeRequest(request(variant))} (variant of ${path})`;
        if (found) {
          same += 1;
          expect([got.status, errorCodeOf(got.text)], what).to.deep.equal([expected.status, errorCodeOf(expected.text)]);
        } else {
          none += 1;
          expect([got.status, errorCodeOf(got.text)], what).to.deep.equal([404, '404002']);
          expect(server.parts.index.revision, `${what} changes nothing`).to.equal(before);
        }
      }),
      { numRuns: 600, plugins: [fc.interruptAfterTimeLimit(8000)], ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {}) },
    );
    expect(none, 'variants that are no route').to.be.above(0);
    expect(same, 'variants that are the route (an encoded parameter)').to.be.above(0);
  });
});
