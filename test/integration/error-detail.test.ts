import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError } from '../helpers/integration.js';

const ALARMS = '/v4/p/admin/alarms';

/** Every route names a bad field from the part of the request it came in: `body.…`, `query.…`. */
describe('error detail naming', () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
    await request(server.url).post(ALARMS).send({ id: 'A' }).expect(200);
  });

  after(async () => {
    await server.close();
  });

  const cases: [string, () => request.Test, string][] = [
    ['a raise with a bad severity', () => request(server.url).post(ALARMS).send({ id: 'A', severity: 'loud' }), 'body.severity: '],
    ['a batch with a bad severity', () => request(server.url).post(ALARMS).send({ alarms: [{ id: 'A' }, { id: 'B', severity: 'loud' }] }), 'body.alarms.1.severity: '],
    ['a raise with a misspelt key', () => request(server.url).post(ALARMS).send({ id: 'A', severty: 'major' }), 'body: unrecognized key "severty"'],
    ['a batch entry with a misspelt key', () => request(server.url).post(ALARMS).send({ alarms: [{ id: 'A', sev: 1 }] }), 'body.alarms.0: unrecognized key "sev"'],
    ['a bulk clear with a misspelt key', () => request(server.url).post(`${ALARMS}/clear`).send({ sorce: 'x', source: 'y' }), 'body: unrecognized key "sorce"'],
    ['a bulk clear with a bad id', () => request(server.url).post(`${ALARMS}/clear`).send({ ids: [1] }), 'body.ids.0: '],
    ['an ack without a name', () => request(server.url).post(`${ALARMS}/A/ack`).send({ by: '' }), 'body.by: '],
    ['an ack with an unknown key', () => request(server.url).post(`${ALARMS}/A/ack`).send({ by: 'ops', why: 'x' }), 'body: unrecognized key "why"'],
    ['a raise whose source holds NUL, which no store keeps', () => request(server.url).post(ALARMS).send({ id: 'A', source: 'a\u0000b' }), 'body.source: must not contain the NUL character'],
    ['a list selecting a source that holds NUL', () => request(server.url).get(`${ALARMS}?source=a%00b`), 'query.source: must not contain the NUL character'],
    ['a list with a bad limit', () => request(server.url).get(`${ALARMS}?limit=0`), 'query.limit: '],
    ['a history read with an unknown parameter', () => request(server.url).get(`${ALARMS}/history?sinse=1`), 'query: unrecognized key "sinse"'],
  ];
  for (const [name, send, prefix] of cases) {
    it(`names the field of ${name}: ${prefix}…`, async () => {
      const res = await send();
      expectError(res, '400001');
      expect(res.body.detail as string).to.satisfy((d: string) => d.startsWith(prefix), `detail ${JSON.stringify(res.body.detail)}`);
    });
  }
});
