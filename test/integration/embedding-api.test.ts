import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';

const SCOPE = { domain: 'default', project: 'p1' };
const BASE = '/v4/p1/admin/alarms';

/**
 * The embedding API answers the shapes the routes answer, as values: the same instance is asked
 * the same thing both ways and the answers compared.
 */
describe('the embedding API beside the routes', () => {
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(async () => {
    await server.close();
  });

  const http = () => request(server.url);
  const listed = async (id: string) =>
    ((await http().get(BASE)).body as { alarms: { id: string }[] }).alarms.find((a) => a.id === id);

  it('answers a raise, an ack, an unack and a clear with the alarm as the list route shows it', async () => {
    const raised = await server.center.raise(SCOPE, { id: 'A', source: 's', severity: 'major', fields: { detail: 'x' }, ttlSeconds: 60 });
    expect(raised).to.deep.equal(await listed('A'));
    expect(raised).to.not.have.property('fieldsJson');
    expect(raised.raisedAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const acked = await server.center.ack(SCOPE, 'A', { by: 'ops', comment: 'looking', source: 's' });
    expect(acked).to.deep.equal(await listed('A'));
    const byRoute = await http().post(`${BASE}/A/unack?source=s`).send({});
    const unacked = await server.center.unack(SCOPE, 'A', 's');
    expect(unacked).to.deep.equal(byRoute.body.alarm);
    const cleared = await server.center.clear(SCOPE, 'A', 's');
    expect(cleared).to.deep.equal(await listed('A'));
    expect(cleared.clearedAt).to.be.a('string');
  });

  it('answers a batch as the POST route does', async () => {
    const byRoute = await http().post(BASE).send({ alarms: [{ id: 'A' }, { id: 'B', status: 'CLEARED' }] });
    const embedded = await server.center.apply(SCOPE, [{ id: 'A' }, { id: 'B', status: 'CLEARED' }]);
    expect(Object.keys(embedded)).to.deep.equal(Object.keys(byRoute.body));
    expect(embedded.alarms.map((a) => Object.keys(a))).to.deep.equal(
      (byRoute.body.alarms as object[]).map((a) => Object.keys(a)),
    );
    expect(embedded.alarms[0]).to.deep.equal(await listed('A'));
  });

  it('lists, pages and reads the history exactly as the routes answer', async () => {
    for (const id of ['A', 'B', 'C']) await server.center.raise(SCOPE, { id, source: 's1' });
    await server.center.clear(SCOPE, 'B', 's1');

    expect(server.center.list(SCOPE)).to.deep.equal((await http().get(BASE)).body);
    expect(server.center.list(SCOPE, { limit: 2 })).to.deep.equal((await http().get(`${BASE}?limit=2`)).body);
    expect(server.center.list(SCOPE, { status: 'CLEARED' })).to.deep.equal((await http().get(`${BASE}?status=CLEARED`)).body);
    expect(await server.center.history(SCOPE)).to.deep.equal((await http().get(`${BASE}/history`)).body);
    expect(await server.center.history(SCOPE, { limit: 2 })).to.deep.equal((await http().get(`${BASE}/history?limit=2`)).body);
  });

  it('answers a bulk clear with its count and revision, as the route does', async () => {
    for (const id of ['A', 'B', 'C', 'D']) await server.center.raise(SCOPE, { id, source: id < 'C' ? 's1' : 's2' });
    const byRoute = await http().post(`${BASE}/clear`).send({ source: 's1' });
    const embedded = await server.center.clearMatching(SCOPE, { source: 's2' });
    expect(byRoute.body).to.deep.equal({ count: 2, revision: 6 });
    expect(embedded).to.deep.equal({ count: 2, revision: 8 });
  });
});
