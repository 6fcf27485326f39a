import { once } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, fillStore, holdCommits, onFileStore, waitFor } from '../helpers/integration.js';

// 401002 (unauthorized) and 403001 (forbidden) are in the error catalog for service-center
// compatibility, but this version has no authentication or authorization: no route answers
// them, so no test provokes them.

const ALARMS = '/v4/p/admin/alarms';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface AlarmJson {
  id: string;
  status: string;
  fields: Record<string, unknown>;
  source: string;
  severity: string;
  count: number;
  raisedAt: string;
  updatedAt: string;
  clearedAt?: string;
  revision: number;
}

interface ListBody {
  alarms: AlarmJson[];
  revision: number;
}

describe('alarms API', () => {
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const raise = (body: unknown, path = ALARMS) => api().post(path).send(body as object).expect(200);
  const list = async (query = '', path = ALARMS, domain?: string): Promise<ListBody> => {
    const req = api().get(`${path}${query}`);
    if (domain) req.set('x-domain-name', domain);
    return (await req.expect(200).expect('content-type', /^application\/json/)).body as ListBody;
  };
  const keys = (body: ListBody) => body.alarms.map((a) => `${a.id}/${a.source}`);

  describe('GET /v4/:project/admin/alarms', () => {
    it('answers an empty list with revision 0 on a fresh store', async () => {
      expect(await list()).to.deep.equal({ alarms: [], revision: 0 });
    });

    describe('with alarms of several statuses, severities and sources', () => {
      beforeEach(async () => {
        await raise({
          alarms: [
            { id: 'A', source: 's1', severity: 'major' },
            { id: 'A', source: 's2', severity: 'minor' },
            { id: 'B', source: 's1', severity: 'critical' },
            { id: 'C' },
          ],
        });
        await raise({ id: 'B', source: 's1', status: 'CLEARED' });
      });

      it('lists every alarm of the project, cleared ones included', async () => {
        expect(keys(await list())).to.have.members(['A/s1', 'A/s2', 'B/s1', 'C/']);
      });

      it('filters by status', async () => {
        expect(keys(await list('?status=CLEARED'))).to.deep.equal(['B/s1']);
        expect(keys(await list('?status=ACTIVATED'))).to.have.members(['A/s1', 'A/s2', 'C/']);
      });

      it('filters by id', async () => {
        expect(keys(await list('?id=A'))).to.have.members(['A/s1', 'A/s2']);
      });

      it('filters by source, the empty source matching alarms raised without one', async () => {
        expect(keys(await list('?source=s1'))).to.have.members(['A/s1', 'B/s1']);
        expect(keys(await list('?source='))).to.deep.equal(['C/']);
      });

      it('filters by severity', async () => {
        expect(keys(await list('?severity=minor'))).to.deep.equal(['A/s2']);
        expect(keys(await list('?severity=indeterminate'))).to.deep.equal(['C/']);
      });

      it('applies every given filter', async () => {
        expect(keys(await list('?id=A&severity=major&status=ACTIVATED'))).to.deep.equal(['A/s1']);
        expect(keys(await list('?id=A&source=s1&severity=minor'))).to.deep.equal([]);
      });

      it('answers the revision of the last committed change', async () => {
        const body = await list();
        expect(body.revision).to.equal(5);
        expect(Math.max(...body.alarms.map((a) => a.revision))).to.equal(5);
      });
    });

    it('scopes alarms by the x-domain-name header: another domain sees nothing', async () => {
      await api().post(ALARMS).set('x-domain-name', 'tenant-a').send({ id: 'Mine' }).expect(200);

      expect(keys(await list('', ALARMS, 'tenant-a'))).to.deep.equal(['Mine/']);
      expect((await list('', ALARMS, 'tenant-b')).alarms).to.deep.equal([]);
      expect((await list()).alarms).to.deep.equal([]);
    });

    it('scopes alarms by project', async () => {
      await raise({ id: 'Mine' }, '/v4/q/admin/alarms');

      expect((await list()).alarms).to.deep.equal([]);
      expect(keys(await list('', '/v4/q/admin/alarms'))).to.deep.equal(['Mine/']);
    });
  });

  describe('POST /v4/:project/admin/alarms', () => {
    it('answers 200 with the stored alarm and the revision after commit', async () => {
      const res = await raise({
        id: 'BackendConnectionRefuse',
        source: 'registry-7f9c',
        severity: 'major',
        fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' },
      });

      expect(res.headers['content-type']).to.match(/^application\/json/);
      const body = res.body as ListBody;
      expect(body.revision).to.equal(1);
      expect(body.alarms).to.have.length(1);
      const alarm = body.alarms[0] as AlarmJson;
      expect(Object.keys(alarm).slice(0, 3), 'service-center keys first').to.deep.equal(['id', 'status', 'fields']);
      expect(alarm).to.deep.include({
        id: 'BackendConnectionRefuse',
        status: 'ACTIVATED',
        fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' },
        source: 'registry-7f9c',
        severity: 'major',
        count: 1,
        revision: 1,
      });
      expect(alarm.raisedAt).to.match(ISO);
      expect(alarm.updatedAt).to.equal(alarm.raisedAt);
      expect(alarm).not.to.have.property('clearedAt');
    });

    it('stores the alarm: the list answers it afterwards', async () => {
      const written = (await raise({ id: 'DiskAlmostFull', source: 'node-3', fields: { detail: '/var at 91%' } })).body as ListBody;

      expect(await list()).to.deep.equal(written);
    });

    it('accepts the largest id, fields and batch', async () => {
      const id = 'i'.repeat(128);
      const fields = { detail: 'x'.repeat(16 * 1024 - '{"detail":""}'.length) };

      await raise({ id, source: 's'.repeat(256), fields });
      await raise({ alarms: Array.from({ length: 1000 }, (_, i) => ({ id: `Bulk-${i}` })) });

      const body = await list();
      expect(body.alarms).to.have.length(1001);
      expect(body.alarms.find((a) => a.id === id)?.fields).to.deep.equal(fields);
    });

    it('defaults the status to ACTIVATED, the source to "" and the severity to indeterminate', async () => {
      const alarm = ((await raise({ id: 'Plain' })).body as ListBody).alarms[0];

      expect(alarm).to.deep.include({ status: 'ACTIVATED', source: '', severity: 'indeterminate', fields: {}, count: 1 });
    });

    it('increments count when an active alarm is raised again, keeping raisedAt and replacing fields', async () => {
      const first = ((await raise({ id: 'Flaky', fields: { detail: 'one' } })).body as ListBody).alarms[0] as AlarmJson;
      const again = (await raise({ id: 'Flaky', fields: { detail: 'two' } })).body as ListBody;

      expect(again.revision).to.equal(2);
      expect(again.alarms[0]).to.deep.include({ count: 2, raisedAt: first.raisedAt, fields: { detail: 'two' }, revision: 2 });
      expect((await list()).alarms).to.deep.equal(again.alarms);
    });

    it('clears an alarm with status CLEARED, which stays listed with clearedAt', async () => {
      await raise({ id: 'Gone', severity: 'minor', fields: { detail: 'was bad' } });

      const cleared = ((await raise({ id: 'Gone', status: 'CLEARED' })).body as ListBody).alarms[0] as AlarmJson;

      expect(cleared).to.deep.include({ id: 'Gone', status: 'CLEARED', fields: { detail: 'was bad' }, severity: 'minor', revision: 2 });
      expect(cleared.clearedAt).to.match(ISO);
      expect((await list()).alarms).to.deep.equal([cleared]);
    });

    it('re-activates a cleared alarm with count 1 and a new raisedAt', async () => {
      await raise({ id: 'Back' });
      await raise({ id: 'Back' });
      await raise({ id: 'Back', status: 'CLEARED' });

      const alarm = ((await raise({ id: 'Back' })).body as ListBody).alarms[0] as AlarmJson;

      expect(alarm).to.deep.include({ status: 'ACTIVATED', count: 1 });
      expect(alarm).not.to.have.property('clearedAt');
    });

    it('leaves a clear of an unknown alarm out of the answer and changes nothing', async () => {
      const res = await raise({ id: 'Never', status: 'CLEARED' });

      expect(res.body).to.deep.equal({ alarms: [], revision: 0 });
      expect(await list()).to.deep.equal({ alarms: [], revision: 0 });
    });

    it('applies a batch in order and answers each alarm as the batch left it', async () => {
      const res = await raise({
        alarms: [{ id: 'A' }, { id: 'B', source: 'x', severity: 'warning' }, { id: 'A', status: 'CLEARED' }],
      });

      const body = res.body as ListBody;
      expect(body.revision).to.equal(3);
      expect(body.alarms.map((a) => [a.id, a.source, a.status, a.revision])).to.deep.equal([
        ['A', '', 'ACTIVATED', 1],
        ['B', 'x', 'ACTIVATED', 2],
        ['A', '', 'CLEARED', 3],
      ]);
      const listed = await list();
      expect(listed.revision).to.equal(3);
      expect(listed.alarms.map((a) => [a.id, a.status])).to.have.deep.members([
        ['A', 'CLEARED'],
        ['B', 'ACTIVATED'],
      ]);
    });

    it('stores nothing of a batch with one invalid item (400001 naming the item)', async () => {
      await raise({ id: 'Existing' });
      const before = await list();

      const res = await api()
        .post(ALARMS)
        .send({ alarms: [{ id: 'A' }, { id: 'B', severity: 'loud' }, { id: 'C' }] });

      expectError(res, '400001', /^body\.alarms\.1\.severity: /);
      expect(await list()).to.deep.equal(before);
    });

    it('answers 429001 with Retry-After when the write queue is full, and stores every write it answered 200', async () => {
      await server.close();
      server = await startServer({ port: 0, dataDir: ':memory:', queueSize: 1 });
      const held = holdCommits(server);
      const answers: request.Response[] = [];

      const writes = Array.from({ length: 20 }, (_, i) =>
        api()
          .post(ALARMS)
          .send({ id: 'Burst', source: `client-${i}` })
          .then((res) => {
            answers.push(res);
            return res;
          }),
      );
      // One write is being committed and one waits in the queue of one: the others must be refused.
      await waitFor('18 refusals while the commit is held', () => answers.length >= 18);
      held.release();
      const all = await Promise.all(writes);

      const refused = all.filter((r) => r.status === 429);
      const accepted = all.filter((r) => r.status === 200);
      expect(refused.length).to.be.at.least(1);
      expect(accepted.length).to.be.at.least(1);
      expect(refused.length + accepted.length, 'every answer is 200 or 429').to.equal(all.length);
      for (const r of refused) {
        expectError(r, '429001');
        expect(r.headers['retry-after']).to.match(/^\d+$/);
      }
      const listed = keys(await list());
      const acknowledged = accepted.map((r) => keys(r.body as ListBody)[0]);
      expect(listed).to.have.members(acknowledged as string[]);
    });
  });

  describe('DELETE /v4/:project/admin/alarms', () => {
    it('answers 200 with an empty body and removes every alarm of the project', async () => {
      await raise({ alarms: [{ id: 'A' }, { id: 'B', source: 'x' }, { id: 'C', status: 'CLEARED' }] });
      await raise({ id: 'B', source: 'x', status: 'CLEARED' });

      const res = await api().delete(ALARMS).expect(200);

      expect(res.text).to.equal('');
      const after = await list();
      expect(after.alarms).to.deep.equal([]);
      expect(after.revision).to.be.above(3);
    });

    it('leaves other projects and other domains untouched', async () => {
      await raise({ id: 'Here' });
      const otherProject = (await raise({ id: 'There' }, '/v4/q/admin/alarms')).body as ListBody;
      await api().post(ALARMS).set('x-domain-name', 'tenant-b').send({ id: 'Elsewhere' }).expect(200);

      await api().delete(ALARMS).expect(200);

      expect((await list()).alarms).to.deep.equal([]);
      expect((await list('', '/v4/q/admin/alarms')).alarms).to.deep.equal(otherProject.alarms);
      expect(keys(await list('', ALARMS, 'tenant-b'))).to.deep.equal(['Elsewhere/']);
    });
  });

  describe('DELETE /v4/:project/admin/alarms/:id', () => {
    it('answers 200 {"alarm":…} with the alarm CLEARED, and it stays listed', async () => {
      await raise({ id: 'Gone', fields: { detail: 'was bad' } });

      const res = await api().delete(`${ALARMS}/Gone`).expect(200).expect('content-type', /^application\/json/);

      expect(Object.keys(res.body)).to.deep.equal(['alarm']);
      const alarm = res.body.alarm as AlarmJson;
      expect(alarm).to.deep.include({ id: 'Gone', source: '', status: 'CLEARED', fields: { detail: 'was bad' }, revision: 2 });
      expect(alarm.clearedAt).to.match(ISO);
      expect((await list()).alarms).to.deep.equal([alarm]);
    });

    it('answers 404001 for an alarm that does not exist, changing nothing', async () => {
      const res = await api().delete(`${ALARMS}/Nope`);

      expectError(res, '404001', /Nope/);
      expect(await list()).to.deep.equal({ alarms: [], revision: 0 });
    });

    it('clears the alarm of the source given by ?source=', async () => {
      await raise({ alarms: [{ id: 'Dup', source: 'a' }, { id: 'Dup', source: 'b' }] });

      const res = await api().delete(`${ALARMS}/Dup?source=b`).expect(200);

      expect(res.body.alarm).to.deep.include({ id: 'Dup', source: 'b', status: 'CLEARED' });
      expect((await list('?id=Dup')).alarms.map((a) => [a.source, a.status])).to.have.deep.members([
        ['a', 'ACTIVATED'],
        ['b', 'CLEARED'],
      ]);
      expectError(await api().delete(`${ALARMS}/Dup`), '404001', /Dup/);
    });
  });

  describe('bad input', () => {
    let baseline: ListBody;

    beforeEach(async () => {
      await raise({ id: 'Baseline', fields: { detail: 'kept' } });
      baseline = await list();
    });

    /** Nothing was stored and the server still answers. */
    async function expectUnchanged(): Promise<void> {
      expect(await list()).to.deep.equal(baseline);
    }

    const json = (body: string) => api().post(ALARMS).set('content-type', 'application/json').send(body);
    const cases: { name: string; send: () => request.Test; code: '400001' | '413001' | '404002'; detail: RegExp }[] = [
      { name: 'malformed JSON', send: () => json('{"id":'), code: '400001', detail: /^body: malformed JSON/ },
      { name: 'a JSON array body', send: () => json('[{"id":"A"}]'), code: '400001', detail: /^body: must be a JSON object/ },
      { name: 'a JSON number body', send: () => json('42'), code: '400001', detail: /^body: / },
      { name: 'a JSON null body', send: () => json('null'), code: '400001', detail: /^body: / },
      {
        name: 'a body that is not application/json',
        send: () => api().post(ALARMS).set('content-type', 'text/plain').send('{"id":"A"}'),
        code: '400001',
        detail: /^body: .*application\/json/,
      },
      {
        name: 'no body at all',
        send: () => api().post(ALARMS),
        code: '400001',
        detail: /^body: /,
      },
      { name: 'an unknown key', send: () => api().post(ALARMS).send({ id: 'A', bogus: 1 }), code: '400001', detail: /bogus/ },
      {
        name: 'an unknown key in a batch',
        send: () => api().post(ALARMS).send({ alarms: [{ id: 'A' }], extra: true }),
        code: '400001',
        detail: /extra/,
      },
      { name: 'a missing id', send: () => api().post(ALARMS).send({ source: 'x' }), code: '400001', detail: /^body\.id: / },
      { name: 'an id of 129 characters', send: () => api().post(ALARMS).send({ id: 'a'.repeat(129) }), code: '400001', detail: /^body\.id: / },
      { name: 'an id with a space', send: () => api().post(ALARMS).send({ id: 'bad id' }), code: '400001', detail: /^body\.id: / },
      { name: 'an id with a slash', send: () => api().post(ALARMS).send({ id: 'a/b' }), code: '400001', detail: /^body\.id: / },
      { name: 'an id that is a number', send: () => api().post(ALARMS).send({ id: 42 }), code: '400001', detail: /^body\.id: / },
      {
        name: 'a source of 257 characters',
        send: () => api().post(ALARMS).send({ id: 'A', source: 's'.repeat(257) }),
        code: '400001',
        detail: /^body\.source: /,
      },
      { name: 'an unknown severity', send: () => api().post(ALARMS).send({ id: 'A', severity: 'loud' }), code: '400001', detail: /^body\.severity: / },
      { name: 'an unknown status', send: () => api().post(ALARMS).send({ id: 'A', status: 'ON' }), code: '400001', detail: /^body\.status: / },
      { name: 'fields that are not an object', send: () => api().post(ALARMS).send({ id: 'A', fields: 'x' }), code: '400001', detail: /^body\.fields: / },
      {
        name: 'fields over 16 KiB',
        send: () => api().post(ALARMS).send({ id: 'A', fields: { detail: 'x'.repeat(16 * 1024) } }),
        code: '400001',
        detail: /^body\.fields: .*16384/,
      },
      {
        name: 'fields over 16 KiB in a batch',
        send: () => api().post(ALARMS).send({ alarms: [{ id: 'A' }, { id: 'B', fields: { detail: 'x'.repeat(16 * 1024) } }] }),
        code: '400001',
        detail: /^body\.alarms\.1\.fields: /,
      },
      {
        name: 'a batch of 1,001 alarms',
        send: () => api().post(ALARMS).send({ alarms: Array.from({ length: 1001 }, (_, i) => ({ id: `A${i}` })) }),
        code: '400001',
        detail: /^body\.alarms: /,
      },
      { name: 'an empty batch', send: () => api().post(ALARMS).send({ alarms: [] }), code: '400001', detail: /^body\.alarms: / },
      { name: 'a batch that is not an array', send: () => api().post(ALARMS).send({ alarms: { id: 'A' } }), code: '400001', detail: /^body\.alarms: / },
      {
        name: 'a bad x-domain-name header',
        send: () => api().post(ALARMS).set('x-domain-name', 'bad domain').send({ id: 'A' }),
        code: '400001',
        detail: /^x-domain-name: /,
      },
      { name: 'a bad project in the path', send: () => api().post('/v4/bad%20project/admin/alarms').send({ id: 'A' }), code: '400001', detail: /^project: / },
      {
        name: 'a body over 1 MiB',
        send: () => api().post(ALARMS).send({ id: 'A', fields: { detail: 'x'.repeat(1024 * 1024) } }),
        code: '413001',
        detail: /^body: .*1048576/,
      },
      { name: 'an unknown method', send: () => api().put(ALARMS).send({ id: 'A' }), code: '404002', detail: /PUT/ },
      { name: 'an unknown route', send: () => api().post('/v4/p/admin/alarmz').send({ id: 'A' }), code: '404002', detail: /alarmz/ },
    ];

    describe('POST /v4/:project/admin/alarms', () => {
      for (const c of cases) {
        it(`answers ${c.code} naming the offending field for ${c.name}, storing nothing`, async () => {
          expectError(await c.send(), c.code, c.detail);
          await expectUnchanged();
        });
      }
    });

    describe('GET /v4/:project/admin/alarms', () => {
      const queries: [string, RegExp][] = [
        ['?status=FOO', /^query\.status: /],
        ['?severity=loud', /^query\.severity: /],
        ['?id=bad%20id', /^query\.id: /],
        [`?source=${'s'.repeat(257)}`, /^query\.source: /],
        ['?status=ACTIVATED&status=CLEARED', /^query\.status: /],
        ['?bogus=1', /^query: .*bogus/],
      ];
      for (const [query, detail] of queries) {
        it(`answers 400001 naming the filter for ${query.slice(0, 40)}`, async () => {
          expectError(await api().get(`${ALARMS}${query}`), '400001', detail);
          await expectUnchanged();
        });
      }

      it('answers 400001 naming x-domain-name for a bad domain', async () => {
        expectError(await api().get(ALARMS).set('x-domain-name', 'a/b'), '400001', /^x-domain-name: /);
      });
    });

    describe('DELETE /v4/:project/admin/alarms/:id', () => {
      it('answers 400001 naming id for a bad id', async () => {
        expectError(await api().delete(`${ALARMS}/bad%20id`), '400001', /^id: /);
        await expectUnchanged();
      });

      it('answers 400001 naming the query for an unknown query parameter', async () => {
        expectError(await api().delete(`${ALARMS}/Baseline?bogus=1`), '400001', /^query: .*bogus/);
        await expectUnchanged();
      });

      it('answers 400001 naming x-domain-name for a bad domain', async () => {
        expectError(await api().delete(`${ALARMS}/Baseline`).set('x-domain-name', ''), '400001', /^x-domain-name: /);
        await expectUnchanged();
      });
    });

    describe('DELETE /v4/:project/admin/alarms', () => {
      it('answers 400001 naming x-domain-name for a bad domain, clearing nothing', async () => {
        expectError(await api().delete(ALARMS).set('x-domain-name', 'x'.repeat(129)), '400001', /^x-domain-name: /);
        await expectUnchanged();
      });
    });

    it('answers 404002 for an unknown route', async () => {
      expectError(await api().get('/v4/p/admin/nothing-here'), '404002', /\/v4\/p\/admin\/nothing-here/);
      await expectUnchanged();
    });
  });

  describe('unexpected failures', () => {
    /** GET the list while the service's list throws `error`. */
    async function listFailingWith(error: Error) {
      const original = server.parts.service.list;
      server.parts.service.list = () => {
        throw error;
      };
      try {
        return await api().get(ALARMS);
      } finally {
        server.parts.service.list = original;
      }
    }

    it('answers 500003 with the error message as detail and raises InternalError with it', async () => {
      const res = await listFailingWith(new Error('index exploded'));

      expectError(res, '500003', 'index exploded');
      const alarm = await waitFor('the InternalError alarm', async () =>
        (await list('?id=InternalError')).alarms.find((a) => a.fields.detail === 'index exploded'),
      );
      expect(alarm).to.deep.include({ status: 'ACTIVATED', source: 'alarm-center' });
    });

    it('leaves detail out of the body when the error has no message', async () => {
      const res = await listFailingWith(new Error(''));

      expectError(res, '500003');
      expect(res.body).to.deep.equal({ errorCode: '500003', errorMessage: 'Internal server error' });
    });
  });

  describe('unavailability', () => {
    it('answers 503001 with Retry-After once shutdown began, storing nothing', async () => {
      server.center.beginShutdown();

      const res = await api().post(ALARMS).send({ id: 'TooLate' });

      expectError(res, '503001', /shutting down/);
      expect(res.headers['retry-after']).to.match(/^\d+$/);
      expectError(await api().get(ALARMS), '503001');
      expect(server.center.list({ domain: 'default', project: 'p' }).alarms).to.deep.equal([]);
    });

    it('does not let a connection that never sent a request hold the shutdown', async () => {
      await server.close();
      server = await startServer({ port: 0, dataDir: ':memory:', shutdownTimeoutMs: 60_000 });
      const idle = net.connect(server.port, server.host);
      await once(idle, 'connect');
      const closed = once(idle, 'close');

      await server.close();

      // Without the fix this waited for the 60 s timeout, past mocha's limit.
      await closed;
    });

    describe('when the store fails', () => {
      onFileStore('alarms-api', { get: () => server, set: (s) => (server = s) });

      it('answers 503001, lists its own BackendConnectionRefuse alarm, is unhealthy, and recovers', async () => {
        await raise({ id: 'Before' });
        const restore = await fillStore(server);

        const res = await api()
          .post(ALARMS)
          .send({ id: 'Lost', fields: { detail: 'not stored' } });

        expectError(res, '503001', /^store unavailable: database or disk is full/);
        expect(res.headers['retry-after']).to.match(/^\d+$/);
        const failing = await list();
        expect(keys(failing)).to.have.members(['BackendConnectionRefuse/alarm-center', 'Before/']);
        expect(failing.alarms.find((a) => a.source === 'alarm-center')).to.deep.include({
          status: 'ACTIVATED',
          fields: { detail: 'database or disk is full' },
        });
        expectError(await api().get('/health'), '400002', 'BackendConnectionRefuse/alarm-center: database or disk is full');

        restore();
        await raise({ id: 'After' });

        const recovered = await list();
        expect(keys(recovered)).to.have.members(['BackendConnectionRefuse/alarm-center', 'Before/', 'After/']);
        expect(recovered.alarms.find((a) => a.source === 'alarm-center')?.status).to.equal('CLEARED');
        await api().get('/health').expect(200);
      });

      it('answers 404001 to a DELETE of its own alarm, which clears itself only when the store works', async () => {
        await fillStore(server);

        expectError(await api().delete(`${ALARMS}/BackendConnectionRefuse?source=alarm-center`), '404001', /alarm-center/);
        expect((await list('?source=alarm-center')).alarms.map((a) => a.status)).to.deep.equal(['ACTIVATED']);
      });

      it('keeps reporting the failure after writes that change nothing', async () => {
        await fillStore(server);

        // Neither commits a row, so neither proves that the store works again.
        await api().delete('/v4/empty/admin/alarms');
        await api().post(ALARMS).send({ id: 'NeverRaised', status: 'CLEARED' });

        expect((await list('?source=alarm-center')).alarms.map((a) => a.status)).to.deep.equal(['ACTIVATED']);
        expectError(await api().get('/health'), '400002', 'BackendConnectionRefuse/alarm-center: database or disk is full');
        await api().get('/readyz').expect(503);
      });
    });
  });
});
