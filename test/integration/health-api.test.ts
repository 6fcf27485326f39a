import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, fillStore, onFileStore, waitFor } from '../helpers/integration.js';

const REFUSED = { id: 'BackendConnectionRefuse', source: 'etcd-1', fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' } };

describe('health API', () => {
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const raise = (project: string, body: object, domain = 'default') =>
    api().post(`/v4/${project}/admin/alarms`).set('x-domain-name', domain).send(body).expect(200);

  for (const [route, project, path] of [
    ['GET /v4/:project/registry/health', 'p', '/v4/p/registry/health'],
    ['GET /health', 'default', '/health'],
  ] as const) {
    describe(route, () => {
      it('answers 200 with this instance, its endpoints holding the server\'s rest:// address', async () => {
        const res = await api().get(path).expect(200).expect('content-type', /^application\/json/);

        expect(Object.keys(res.body)).to.deep.equal(['instances']);
        expect(res.body.instances).to.have.length(1);
        const instance = res.body.instances[0];
        expect(instance.endpoints).to.include(server.url.replace(/^http:/, 'rest:'));
        expect(instance).to.include({ status: 'UP', serviceId: 'alarm-center' });
      });

      it('answers 400002 "Server is Unhealthy" naming the alarm and its detail while BackendConnectionRefuse is ACTIVATED', async () => {
        await raise(project, REFUSED);

        const res = await api().get(path);

        expectError(res, '400002');
        expect(res.body).to.deep.equal({
          errorCode: '400002',
          errorMessage: 'Server is Unhealthy',
          detail: 'BackendConnectionRefuse/etcd-1: dial tcp 10.0.0.5:2379: connection refused',
        });
      });

      it('stays unhealthy until every source of BackendConnectionRefuse is cleared', async () => {
        await raise(project, REFUSED);
        await raise(project, { ...REFUSED, source: 'etcd-2' });

        await api().delete(`/v4/${project}/admin/alarms/BackendConnectionRefuse?source=etcd-1`).expect(200);
        expectError(await api().get(path), '400002');
        await raise(project, { ...REFUSED, source: 'etcd-2', status: 'CLEARED' });

        await api().get(path).expect(200);
      });

      it('is healthy again once the alarm is cleared', async () => {
        await raise(project, REFUSED);
        expectError(await api().get(path), '400002');

        await api().delete(`/v4/${project}/admin/alarms/BackendConnectionRefuse?source=etcd-1`).expect(200);

        await api().get(path).expect(200);
      });

      it('is healthy again after a clear-all', async () => {
        await raise(project, REFUSED);

        await api().delete(`/v4/${project}/admin/alarms`).expect(200);

        await api().get(path).expect(200);
      });

      it('is never made unhealthy by InternalError alarms', async () => {
        await raise(project, { id: 'InternalError', source: 'alarm-center', severity: 'critical', fields: { detail: 'boom' } });

        await api().get(path).expect(200);
      });

      it('is not affected by an unhealthy other project or other domain', async () => {
        await raise('elsewhere', REFUSED);
        await raise(project, REFUSED, 'tenant-b');

        await api().get(path).expect(200);
        expectError(await api().get('/v4/elsewhere/registry/health'), '400002');
        expectError(await api().get(path).set('x-domain-name', 'tenant-b'), '400002');
      });

      it('names the alarm id as detail when the alarm has no fields.detail', async () => {
        await raise(project, { id: 'BackendConnectionRefuse' });

        expectError(await api().get(path), '400002', 'BackendConnectionRefuse');
      });

      it('sends a detail that is not a string as its JSON text', async () => {
        await raise(project, { id: 'BackendConnectionRefuse', fields: { detail: { host: '10.0.0.5', port: 2379 } } });

        expectError(await api().get(path), '400002', 'BackendConnectionRefuse: {"host":"10.0.0.5","port":2379}');
      });

      it('answers 400001 naming x-domain-name for a bad domain', async () => {
        expectError(await api().get(path).set('x-domain-name', 'bad domain'), '400001', /^x-domain-name: /);
      });
    });
  }

  it('keeps a real 500 answer, which raises InternalError, from making the cluster unhealthy', async () => {
    const original = server.parts.service.list;
    server.parts.service.list = () => {
      throw new Error('list failed');
    };
    try {
      expectError(await api().get('/v4/default/admin/alarms'), '500003', 'list failed');
    } finally {
      server.parts.service.list = original;
    }
    await waitFor('the InternalError alarm', async () => {
      const res = await api().get('/v4/default/admin/alarms?id=InternalError').expect(200);
      return (res.body as { alarms: unknown[] }).alarms.length > 0;
    });

    await api().get('/health').expect(200);
  });

  describe('GET /livez and GET /readyz', () => {
    for (const probe of ['livez', 'readyz']) {
      it(`/${probe} answers 200 "ok" as text/plain`, async () => {
        const res = await api().get(`/${probe}`).expect(200).expect('content-type', /^text\/plain/);

        expect(res.text).to.equal('ok');
      });
    }

    it('/livez?verbose lists the ping check', async () => {
      const res = await api().get('/livez?verbose').expect(200);

      expect(res.text.split('\n')).to.include.members(['[+]ping ok', 'livez check passed']);
    });

    it('/readyz?verbose lists every readiness check as [+]name ok', async () => {
      const res = await api().get('/readyz?verbose').expect(200);

      expect(res.text.split('\n')).to.include.members(['[+]store ok', '[+]bus ok', '[+]lifecycle ok', 'readyz check passed']);
    });

    it('/readyz?exclude=name leaves that check out', async () => {
      const res = await api().get('/readyz?verbose&exclude=store').expect(200);

      expect(res.text).not.to.contain('store');
      expect(res.text.split('\n')).to.include.members(['[+]bus ok', '[+]lifecycle ok']);
    });

    it('/readyz/store runs that check alone', async () => {
      expect((await api().get('/readyz/store').expect(200)).text).to.equal('ok');
      expect((await api().get('/readyz/store?verbose').expect(200)).text.split('\n')).to.include('[+]store ok');
      expect((await api().get('/livez/ping').expect(200)).text).to.equal('ok');
    });

    it('/readyz/nope answers 404002 naming the check', async () => {
      expectError(await api().get('/readyz/nope'), '404002', /nope/);
      expectError(await api().get('/livez/nope'), '404002', /nope/);
    });

    it('readiness fails with [-]lifecycle once shutdown began, while liveness stays 200', async () => {
      server.center.beginShutdown();

      const ready = await api().get('/readyz').expect(503).expect('content-type', /^text\/plain/);

      expect(ready.text).to.match(/^\[-\]lifecycle failed: .+$/m);
      expect(ready.text).to.contain('readyz check failed');
      await api().get('/readyz/lifecycle').expect(503);
      expect((await api().get('/livez').expect(200)).text).to.equal('ok');
    });

    describe('when the store fails', () => {
      onFileStore('health-api', { get: () => server, set: (s) => (server = s) });

      it('keeps liveness at 200 while readiness fails on the store, and both pass once it recovers', async () => {
        const restore = await fillStore(server);

        expect((await api().get('/livez').expect(200)).text).to.equal('ok');
        expect((await api().get('/livez?verbose').expect(200)).text).to.contain('[+]ping ok');
        const ready = await api().get('/readyz?verbose').expect(503);
        expect(ready.text.split('\n')).to.include.members(['[-]store failed: database or disk is full', '[+]bus ok', '[+]lifecycle ok']);
        await api().get('/readyz?exclude=store').expect(200);

        restore();
        await api().post('/v4/default/admin/alarms').send({ id: 'Works' }).expect(200);

        await api().get('/readyz').expect(200);
        await api().get('/health').expect(200);
      });
    });
  });
});
