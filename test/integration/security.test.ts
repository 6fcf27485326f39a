import { Writable } from 'node:stream';
import { expect } from 'chai';
import request from 'supertest';
import type { Config } from '../../src/config.js';
import { hashToken, type TokenSpec } from '../../src/http/auth.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError } from '../helpers/integration.js';
import { SseClient, WsClient } from '../helpers/watch.js';

const TOKENS = { read: 'r-secret-1', write: 'w-secret-2', admin: 'a-secret-3', scoped: 's-secret-4' };
const SPECS: TokenSpec[] = [
  { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
  { name: 'writer', role: 'write', sha256: hashToken(TOKENS.write) },
  { name: 'boss', role: 'admin', sha256: hashToken(TOKENS.admin) },
  { name: 'p1-only', role: 'admin', sha256: hashToken(TOKENS.scoped), scopes: ['default/p1'] },
];

type Credential = 'none' | 'bad' | 'read' | 'write' | 'admin';
const RANK: Record<Credential, number> = { none: 0, bad: 0, read: 1, write: 2, admin: 3 };

interface Route {
  method: 'get' | 'post' | 'delete';
  path: string;
  need: 'open' | 'read' | 'write' | 'admin';
  body?: object;
  headers?: Record<string, string>;
}

/** Every route and the role it needs, probes open (the default). */
const ROUTES: Route[] = [
  { method: 'get', path: '/v4/p/admin/alarms', need: 'read' },
  { method: 'get', path: '/v4/p/admin/alarms/history', need: 'read' },
  { method: 'post', path: '/v4/p/admin/alarms', need: 'write', body: { id: 'A' } },
  { method: 'delete', path: '/v4/p/admin/alarms/A', need: 'write' },
  { method: 'delete', path: '/v4/p/admin/alarms', need: 'admin' },
  { method: 'post', path: '/v4/p/admin/alarms/A/ack', need: 'write', body: { by: 'ops' } },
  { method: 'post', path: '/v4/p/admin/alarms/A/unack', need: 'write' },
  { method: 'post', path: '/v4/p/admin/alarms/clear', need: 'admin', body: { ids: ['A'] } },
  { method: 'get', path: '/v4/p/registry/health', need: 'open' },
  { method: 'get', path: '/health', need: 'open' },
  { method: 'get', path: '/livez', need: 'open' },
  { method: 'get', path: '/readyz', need: 'open' },
  { method: 'get', path: '/readyz/store', need: 'open' },
  { method: 'get', path: '/livez/ping', need: 'open' },
  { method: 'get', path: '/metrics', need: 'open' },
  { method: 'get', path: '/openapi.yaml', need: 'open' },
  // No route is 404002 whatever the credentials: the route table is public (openapi.yaml).
  { method: 'get', path: '/no/such/route', need: 'open' },
];

function header(c: Credential): Record<string, string> {
  if (c === 'none') return {};
  if (c === 'bad') return { authorization: 'Bearer not-a-token' };
  return { authorization: `Bearer ${TOKENS[c]}` };
}

describe('security', () => {
  let server: RunningServer;
  let logs: string;

  async function start(settings: Partial<Config> = {}): Promise<void> {
    logs = '';
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs += String(chunk);
        cb();
      },
    });
    server = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS, ...settings }, { logger: createLogger({ out }) });
  }

  afterEach(() => server?.close());

  const api = () => request(server.url);
  const call = (r: Route, c: Credential) => {
    const req = api()[r.method](r.path).set(header(c));
    return r.body ? req.send(r.body) : req;
  };

  describe('roles on every route', () => {
    beforeEach(() => start());

    for (const route of ROUTES) {
      for (const c of ['none', 'bad', 'read', 'write', 'admin'] as Credential[]) {
        const expected =
          route.need === 'open' || (c !== 'none' && c !== 'bad' && RANK[c] >= RANK[route.need])
            ? 'allowed'
            : c === 'none' || c === 'bad'
              ? '401002'
              : '403001';
        it(`${route.method.toUpperCase()} ${route.path} with ${c} token: ${expected}`, async () => {
          // The alarm the clear-one route clears.
          await server.center.raise({ domain: 'default', project: 'p' }, { id: 'A' });
          const before = server.parts.index.revision;
          const res = await call(route, c);
          if (expected === 'allowed') {
            expect(res.status, res.text).to.be.oneOf(route.path === '/no/such/route' ? [404] : [200]);
            return;
          }
          expectError(res, expected as '401002' | '403001');
          if (expected === '401002') expect(res.headers['www-authenticate']).to.match(/^Bearer /);
          expect(server.parts.index.revision, 'a refused request changes nothing').to.equal(before);
        });
      }
    }

    it('words why a token is refused without repeating it', async () => {
      expectError(await api().get('/v4/p/admin/alarms'), '401002', 'authorization: a bearer token is required');
      expectError(await api().get('/v4/p/admin/alarms').set('authorization', `Basic ${TOKENS.read}`), '401002', 'authorization: must be "Bearer <token>"');
      expectError(await api().get('/v4/p/admin/alarms').set(header('bad')), '401002', 'authorization: unknown token');
      expectError(await api().delete('/v4/p/admin/alarms').set(header('write')), '403001', 'token writer has role write; this needs admin');
    });

    it('keeps a scoped token to its domain/project', async () => {
      const scoped = { authorization: `Bearer ${TOKENS.scoped}` };
      await api().post('/v4/p1/admin/alarms').set(scoped).send({ id: 'A' }).expect(200);
      await api().delete('/v4/p1/admin/alarms').set(scoped).expect(200);
      expectError(await api().post('/v4/p2/admin/alarms').set(scoped).send({ id: 'A' }), '403001', /may not use domain default, project p2/);
      expectError(await api().get('/v4/p1/admin/alarms').set(scoped).set('x-domain-name', 'd2'), '403001', /domain d2/);
      expect(server.center.list({ domain: 'default', project: 'p2' }).alarms).to.deep.equal([]);
    });

    it('asks a read token of the scope for a WebSocket or SSE watch', async () => {
      const refused = await WsClient.open(server.url, '/v4/p/admin/alarms/watch', { headers: { 'x-request-id': 'ws-7' } }).then(
        () => expect.fail('the upgrade was accepted'),
        (e: unknown) => e as { status: number; body: string; headers: Record<string, string> },
      );
      expect(refused.status).to.equal(401);
      expect(JSON.parse(refused.body)).to.include({ errorCode: '401002' });
      // Written outside express, with the same headers as its answers.
      expect(refused.headers).to.include({
        'x-request-id': 'ws-7',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'www-authenticate': 'Bearer realm="alarm-center"',
      });
      const scoped = await WsClient.open(server.url, '/v4/p2/admin/alarms/watch', { headers: { authorization: `Bearer ${TOKENS.scoped}` } }).then(
        () => expect.fail('the upgrade was accepted'),
        (e: unknown) => e as { status: number },
      );
      expect(scoped.status).to.equal(403);
      const ws = await WsClient.open(server.url, '/v4/p/admin/alarms/watch', { headers: header('read') });
      ws.close();
      const sse = await SseClient.open(`${server.url}/v4/p/admin/alarms/watch`, header('read'));
      expect(sse.status).to.equal(200);
      sse.close();
      const noToken = await SseClient.open(`${server.url}/v4/p/admin/alarms/watch`);
      expect(noToken.status).to.equal(401);
      noToken.close();
    });

    it('logs the token\'s name and the request id, never the token', async () => {
      await api().post('/v4/p/admin/alarms').set(header('write')).set('x-request-id', 'req-42').send({ id: 'B' }).expect(200);
      await api().get('/v4/p/admin/alarms').set('authorization', 'Bearer guessed-secret-9');
      await server.close();
      const lines = logs.split('\n').filter((l) => l.includes('"message":"request"'));
      expect(lines.some((l) => l.includes('"requestId":"req-42"') && l.includes('"token":"writer"'))).to.equal(true);
      for (const secret of [...Object.values(TOKENS), 'guessed-secret-9']) expect(logs).not.to.contain(secret);
    });
  });

  describe('with probes closed', () => {
    beforeEach(() => start({ probesOpen: false }));

    for (const path of ['/health', '/v4/p/registry/health', '/livez', '/readyz', '/metrics']) {
      it(`asks for a read token on ${path}`, async () => {
        expectError(await api().get(path), '401002');
        await api().get(path).set(header('read')).expect(200);
      });
    }

    it('keeps a scoped token to the health of its own projects', async () => {
      const scoped = { authorization: `Bearer ${TOKENS.scoped}` };
      await api().get('/v4/p1/registry/health').set(scoped).expect(200);
      expectError(await api().get('/v4/p2/registry/health').set(scoped), '403001');
      // /health is the default project's.
      expectError(await api().get('/health').set(scoped), '403001', /project default/);
    });
  });

  describe('limits', () => {
    it('answers 429001 with Retry-After past the write rate, per token, storing nothing refused', async () => {
      await start({ writeRateLimit: 3 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => api().post('/v4/p/admin/alarms').set(header('write')).send({ id: `R${i}` })),
      );
      const accepted = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status !== 200);
      // Ten quick requests fall in at most two one-second windows.
      expect(accepted.length).to.be.within(3, 6);
      for (const r of refused) {
        expectError(r, '429001', /more than 3 writes in one second/);
        expect(Number(r.headers['retry-after'])).to.be.within(1, 1);
      }
      expect(server.center.list({ domain: 'default', project: 'p' }).alarms).to.have.length(accepted.length);
      // Another token has its own budget; reads are not limited.
      await api().post('/v4/p/admin/alarms').set(header('admin')).send({ id: 'other' }).expect(200);
      await api().get('/v4/p/admin/alarms').set(header('write')).expect(200);
    });

    it('limits writes per client address when no tokens are configured', async () => {
      await start({ tokens: [], writeRateLimit: 2 });
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api().post('/v4/p/admin/alarms').send({ id: `R${i}` })));
      expect(results.filter((r) => r.status === 429).length).to.be.at.least(4);
    });

    it('refuses a watcher past the most per domain with 429002, over both transports', async () => {
      await start({ tokens: [], maxWatchersPerDomain: 2 });
      const a = await WsClient.open(server.url, '/v4/p/admin/alarms/watch');
      const b = await SseClient.open(`${server.url}/v4/q/admin/alarms/watch`);
      const third = await WsClient.open(server.url, '/v4/p/admin/alarms/watch').then(
        () => expect.fail('the upgrade was accepted'),
        (e: unknown) => e as { status: number; body: string },
      );
      expect(third.status).to.equal(429);
      expect(JSON.parse(third.body)).to.include({ errorCode: '429002' });
      const sse = await request(server.url).get('/v4/p/admin/alarms/watch').set('accept', 'text/event-stream');
      expectError(sse, '429002', /domain default has 2 watchers open/);
      const elsewhere = await WsClient.open(server.url, '/v4/p/admin/alarms/watch', { headers: { 'x-domain-name': 'd2' } });
      elsewhere.close();
      a.close();
      await a.untilClosed();
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 5000;
        const check = () => {
          if (server.parts.hub.size <= 1) resolve();
          else if (Date.now() > deadline) reject(new Error('the closed watcher was not released'));
          else setImmediate(check);
        };
        check();
      });
      const again = await WsClient.open(server.url, '/v4/p/admin/alarms/watch');
      again.close();
      b.close();
    });

    it('caps alarms per domain/project with 429002, writing nothing of a refused batch', async () => {
      await start({ tokens: [], maxAlarmsPerScope: 3 });
      const post = (body: object) => api().post('/v4/p/admin/alarms').send(body);
      expectError(await post({ alarms: [{ id: 'A' }, { id: 'B' }, { id: 'C' }, { id: 'D' }] }), '429002', /3 more would pass|4 more would pass/);
      expect(server.parts.index.revision).to.equal(0);
      await post({ alarms: [{ id: 'A' }, { id: 'B' }, { id: 'C' }] }).expect(200);
      expectError(await post({ id: 'D' }), '429002', /holds 3 alarms; 1 more would pass the limit of 3/);
      await post({ id: 'A' }).expect(200);
      await post({ id: 'A', status: 'CLEARED' }).expect(200);
      await api().post('/v4/q/admin/alarms').send({ id: 'D' }).expect(200);
      await api().delete('/v4/p/admin/alarms').expect(200);
      await post({ id: 'D' }).expect(200);
    });

    it('answers a request head over the limit with 431001', async () => {
      await start({ tokens: [], headerLimitBytes: 2048 });
      const res = await api().get('/livez').set('x-padding', 'x'.repeat(4096));
      expect(res.status).to.equal(431);
      expect(res.body).to.deep.equal({
        errorCode: '431001',
        errorMessage: 'Request header fields too large',
        detail: 'headers: larger than the limit of 2048 bytes',
      });
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['content-security-policy']).to.equal("default-src 'none';frame-ancestors 'none'");
      expect(res.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
      await api().get('/livez').expect(200);
    });
  });

  describe('headers', () => {
    beforeEach(() => start({ tokens: [] }));

    it('sets security headers on answers of every kind', async () => {
      for (const res of [await api().get('/livez'), await api().get('/v4/p/admin/alarms'), await api().get('/nope'), await api().post('/v4/p/admin/alarms').send({})]) {
        expect(res.headers['x-content-type-options']).to.equal('nosniff');
        expect(res.headers['x-frame-options']).to.equal('SAMEORIGIN');
        expect(res.headers['content-security-policy']).to.equal("default-src 'none';frame-ancestors 'none'");
        expect(res.headers['referrer-policy']).to.equal('no-referrer');
        expect(res.headers['strict-transport-security']).to.equal(undefined);
      }
    });

    it('echoes a valid x-request-id and makes one up otherwise', async () => {
      expect((await api().get('/livez').set('x-request-id', 'abc-123')).headers['x-request-id']).to.equal('abc-123');
      const made = (await api().get('/livez')).headers['x-request-id'] as string;
      expect(made).to.match(/^[0-9a-f-]{36}$/);
      const bad = (await api().get('/livez').set('x-request-id', 'has spaces')).headers['x-request-id'] as string;
      expect(bad).to.match(/^[0-9a-f-]{36}$/);
    });
  });
});
