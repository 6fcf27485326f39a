/**
 * Every route of the route table under variants of its path — another case, a trailing or
 * doubled slash, a dot segment, a percent-encoded literal or parameter — with every kind of
 * credential, over HTTP (on the fast path and through express), Server-Sent Events and
 * WebSocket upgrades. A variant is either the route itself (a percent-encoded parameter), and
 * answers exactly as the route does, or no route: 404002, whatever the credentials, with
 * nothing stored or cleared.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import type { Route } from '../../src/http/route-table.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { CREDENTIALS, P1, SPECS, authorization, bodyOf, canonicalPath as canonical, errorCodeOf as codeOf, resetP1 } from '../helpers/route-variants.js';

/** A variant of a path: `same` when it names the same route, otherwise it names none. */
interface Variant {
  path: string;
  same: boolean;
  how: string;
}

/** The variants of a path: each literal segment in another case or percent-encoded, slashes added, dot segments, an encoded parameter. */
function variantsOf(route: Route): Variant[] {
  const path = canonical(route);
  const segments = path.slice(1).split('/');
  const templateSegments = route.template.slice(1).split('/');
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const out: Variant[] = [
    { path: `${path}/`, same: false, how: 'trailing slash' },
    { path: `/${path}`, same: false, how: 'leading doubled slash' },
    { path: `${join(segments.slice(0, 1))}/.${path.slice(segments[0]!.length + 1)}`, same: false, how: 'dot segment' },
    { path: `${join(segments.slice(0, 1))}/x/..${path.slice(segments[0]!.length + 1)}`, same: false, how: 'dot-dot segment' },
    { path: `${path}/.`, same: false, how: 'trailing dot segment' },
  ];
  segments.forEach((segment, i) => {
    const literal = !templateSegments[i]!.startsWith(':');
    if (literal && segment !== '') {
      const upper = segment.toUpperCase() === segment ? segment.toLowerCase() : segment.toUpperCase();
      out.push({ path: join(segments.map((s, j) => (j === i ? upper : s))), same: false, how: `case of ${segment}` });
      const encoded = `%${segment.charCodeAt(0).toString(16).toUpperCase()}${segment.slice(1)}`;
      out.push({ path: join(segments.map((s, j) => (j === i ? encoded : s))), same: false, how: `encoded ${segment}` });
    } else {
      const encoded = [...segment].map((ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`).join('');
      out.push({ path: join(segments.map((s, j) => (j === i ? encoded : s))), same: true, how: `encoded parameter ${segment}` });
    }
    if (i > 0) out.push({ path: join([...segments.slice(0, i), '', ...segments.slice(i)]), same: false, how: `doubled slash before ${segment}` });
  });
  return out;
}

interface Answer {
  status: number;
  code: string | undefined;
}

/** Sends a request exactly as given (the target untouched) and reads its status and error code. */
function send(port: number, method: string, target: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: all, agent: false }, (res) => {
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, code: undefined });
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: codeOf(text) }));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, code: undefined });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('path variants of every route', function () {
  this.timeout(120_000);

  for (const probesOpen of [true, false]) {
    describe(`with tokens, probes ${probesOpen ? 'open' : 'closed'}`, () => {
      let server: RunningServer;

      before(async () => {
        server = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS, probesOpen });
      });

      after(() => server.close());

      /** The same alarms before every request: A ACTIVATED in default/p1. */
      const reset = () => resetP1(server);

      const kinds: { name: string; suffix: string; headers: Record<string, string> }[] = [
        { name: 'HTTP on the fast path', suffix: '', headers: {} },
        { name: 'HTTP through express', suffix: '?', headers: {} },
        { name: 'Server-Sent Events', suffix: '', headers: { accept: 'text/event-stream' } },
        {
          name: 'WebSocket',
          suffix: '',
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': crypto.randomBytes(16).toString('base64') },
        },
      ];

      it('answers each variant as the route itself, or 404002 with nothing changed', async () => {
        const routes = server.app.table.routes;
        expect(routes.length).to.be.above(10);
        let compared = 0;
        for (const route of routes) {
          const body = bodyOf(route);
          for (const kind of kinds) {
            if (kind.name !== 'HTTP on the fast path' && kind.name !== 'HTTP through express' && route.method !== 'GET') continue;
            for (const c of CREDENTIALS) {
              const headers = { ...kind.headers, ...authorization(c) };
              await reset();
              const expected = await send(server.port, route.method, canonical(route) + kind.suffix, headers, body);
              for (const v of variantsOf(route)) {
                // `/livez/.` is no variant of /livez but the check route /livez/:check, tested as itself.
                const other = server.app.table.match(route.method, v.path)?.route;
                if (!v.same && other !== undefined && other !== route) continue;
                const before = await reset();
                const got = await send(server.port, route.method, v.path + kind.suffix, headers, body);
                const where = `${kind.name}: ${route.method} ${v.path}${kind.suffix} (${v.how}) with ${c} token`;
                if (v.same) {
                  expect(got, `${where} answers as ${canonical(route)}`).to.deep.equal(expected);
                } else {
                  expect(got, where).to.deep.equal({ status: 404, code: '404002' });
                  expect(server.parts.index.revision, `${where} changes nothing`).to.equal(before);
                  expect(server.center.list(P1).alarms.map((a) => [a.id, a.status]), where).to.deep.equal([['A', 'ACTIVATED']]);
                }
                compared += 1;
              }
            }
          }
        }
        expect(compared).to.be.above(1000);
      });

      it('counts a variant of a write against nobody: it is no route, so it writes nothing', async () => {
        for (const path of ['/V4/p1/admin/alarms', '/v4/p1/ADMIN/alarms', '/v4/p1/admin/alarms/']) {
          const before = await reset();
          const got = await send(server.port, 'POST', path, authorization('read'), '{"id":"B"}');
          expect(got, path).to.deep.equal({ status: 404, code: '404002' });
          const del = await send(server.port, 'DELETE', path, authorization('write'));
          expect(del, path).to.deep.equal({ status: 404, code: '404002' });
          expect(server.parts.index.revision, path).to.equal(before);
        }
      });
    });
  }
});
