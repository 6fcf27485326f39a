/**
 * Input shaped to slip past validation: query strings past the parser's limit, and `fields`
 * keys that copying an object would drop or turn into a prototype. Each is refused with 400001
 * naming the field or the limit, and nothing is stored.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError } from '../helpers/integration.js';

describe('hostile input', () => {
  let server: RunningServer;
  const P = { domain: 'default', project: 'p' };
  const api = () => request(server.url);

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  describe('query strings', () => {
    it('refuses more than 1000 parameters with 400001 instead of dropping the ones past it', async () => {
      await server.center.raise(P, { id: 'A' });
      const ids = Array.from({ length: 1000 }, (_, i) => `id=X${i}`).join('&');
      // Past the 1000th parameter a parser that cuts would drop the filter and answer ACTIVATED alarms.
      expectError(await api().get(`/v4/p/admin/alarms?${ids}&status=CLEARED`), '400001', /^query: more than 1000 parameters/);
    });

    it('takes 1000 parameters, every one applied', async () => {
      await server.center.raise(P, { id: 'A' });
      const ids = Array.from({ length: 999 }, (_, i) => `id=X${i}`).join('&');
      const res = await api().get(`/v4/p/admin/alarms?${ids}&id=A`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.alarms.map((a: { id: string }) => a.id)).to.deep.equal(['A']);
      const cleared = await api().get(`/v4/p/admin/alarms?${ids}&status=CLEARED`);
      expect(cleared.status, cleared.text).to.equal(200);
      expect(cleared.body.alarms).to.deep.equal([]);
    });

    it('refuses more than 1000 parameters on the fast path\'s routes too', async () => {
      const many = Array.from({ length: 1001 }, (_, i) => `x${i}=1`).join('&');
      expectError(await api().post(`/v4/p/admin/alarms?${many}`).send({ id: 'A' }), '400001', /^query: more than 1000 parameters/);
      expectError(await api().get(`/health?${many}`), '400001', /^query: more than 1000 parameters/);
      expect(server.center.list(P).alarms).to.deep.equal([]);
    });
  });

  describe('fields.__proto__', () => {
    for (const [name, fields, path] of [
      ['at the top', '{"__proto__":{"polluted":true},"detail":"d"}', 'fields.__proto__'],
      ['nested in an object', '{"a":{"__proto__":{"polluted":true}}}', 'fields.a.__proto__'],
      ['in an array', '{"a":[1,{"__proto__":1}]}', 'fields.a.1.__proto__'],
    ] as const) {
      it(`refuses a key __proto__ ${name} with 400001 naming it, storing nothing`, async () => {
        const body = `{"id":"A","fields":${fields}}`;
        const res = await api().post('/v4/p/admin/alarms').set('content-type', 'application/json').send(body);
        expectError(res, '400001', new RegExp(`^body\\.${path.replace(/\./g, '\\.')}: a key named __proto__ is refused`));
        const batch = await api().post('/v4/p/admin/alarms').set('content-type', 'application/json').send(`{"alarms":[{"id":"B"},${body}]}`);
        expectError(batch, '400001', new RegExp(`^body\\.alarms\\.1\\.${path.replace(/\./g, '\\.')}: `));
        expect(server.center.list(P).alarms).to.deep.equal([]);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }

    it('refuses it from an embedder too', async () => {
      const fields = JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>;
      let caught: unknown;
      await server.center.raise(P, { id: 'A', fields }).catch((err: unknown) => (caught = err));
      expect(caught).to.have.property('code', '400001');
      expect(server.center.list(P).alarms).to.deep.equal([]);
    });
  });
});
