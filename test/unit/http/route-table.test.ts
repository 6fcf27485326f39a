import { expect } from 'chai';
import { AlarmCenterError } from '../../../src/errors.js';
import {
  MAX_QUERY_PARAMETERS,
  RouteTable,
  checkQuerySize,
  decodeParams,
  expressRoute,
  fastRoute,
  requirementOfRoute,
  type Route,
} from '../../../src/http/route-table.js';

const plain = { counted: false, whileStopping: false, body: false, handle: () => undefined } as const;

function table(): RouteTable {
  return new RouteTable([
    fastRoute({ ...plain, method: 'GET', template: '/health', access: 'probe', scope: 'default' }),
    expressRoute({ ...plain, method: 'GET', template: '/v4/:project/admin/alarms', access: 'read', scope: 'path' }),
    expressRoute({ ...plain, method: 'POST', template: '/v4/:project/admin/alarms/clear', access: 'admin', scope: 'path' }),
    expressRoute({ ...plain, method: 'POST', template: '/v4/:project/admin/alarms/:id', access: 'write', scope: 'path' }),
  ]);
}

describe('RouteTable', () => {
  describe('#match', () => {
    it('matches a route in exactly its form, naming its raw parameters', () => {
      const found = table().match('GET', '/v4/p-1/admin/alarms');
      expect(found?.route.template).to.equal('/v4/:project/admin/alarms');
      expect(found?.raw).to.deep.equal({ project: 'p-1' });
    });

    it('matches no variant of a path: case, trailing or doubled slash, dot segment, encoded literal', () => {
      const t = table();
      for (const path of [
        '/V4/p/admin/alarms',
        '/v4/p/ADMIN/alarms',
        '/v4/p/admin/Alarms',
        '/v4/p/admin/alarms/',
        '/v4//admin/alarms',
        '//v4/p/admin/alarms',
        '/v4/p//admin/alarms',
        '/v4/p/admin/./alarms',
        '/v4/p/x/../admin/alarms',
        '/v4/p/%61dmin/alarms',
        '/v4/p/admin/alarms%2F',
        '/HEALTH',
        '/health/',
        '/health/.',
        '',
        '*',
      ]) {
        expect(t.match('GET', path), path).to.equal(undefined);
      }
    });

    it('takes a percent-encoded parameter as the same route', () => {
      expect(table().match('GET', '/v4/%70/admin/alarms')?.raw).to.deep.equal({ project: '%70' });
    });

    it('routes HEAD as GET and nothing else across methods', () => {
      const t = table();
      expect(t.match('HEAD', '/health')?.route.template).to.equal('/health');
      expect(t.match('POST', '/health')).to.equal(undefined);
      expect(t.match('get', '/health')).to.equal(undefined);
      expect(t.match('DELETE', '/v4/p/admin/alarms')).to.equal(undefined);
    });

    it('prefers the literal segment listed first over a parameter at the same place', () => {
      expect(table().match('POST', '/v4/p/admin/alarms/clear')?.route.access).to.equal('admin');
      expect(table().match('POST', '/v4/p/admin/alarms/A')?.route.access).to.equal('write');
    });
  });

  it('refuses a table that lists a route twice or a template it cannot match exactly', () => {
    const r = expressRoute({ ...plain, method: 'GET', template: '/x', access: 'read', scope: 'none' });
    expect(() => new RouteTable([r, { ...r }] as Route[])).to.throw(/twice/);
    expect(() => new RouteTable([{ ...r, template: '/x/' }])).to.throw(/empty segment/);
    expect(() => new RouteTable([{ ...r, template: '/X Y' }])).to.throw(/plain/);
  });
});

describe('decodeParams', () => {
  it('decodes percent-encoded parameters', () => {
    expect(decodeParams({ project: 'a%2Eb', id: 'A' })).to.deep.equal({ project: 'a.b', id: 'A' });
  });

  it('refuses a malformed percent-encoding with 400001 naming the parameter', () => {
    expect(() => decodeParams({ project: '%zz' }))
      .to.throw(AlarmCenterError, /project: malformed percent-encoding/)
      .with.property('code', '400001');
  });
});

describe('checkQuerySize', () => {
  it(`takes ${MAX_QUERY_PARAMETERS} parameters and refuses one more with 400001 naming the limit`, () => {
    const query = (n: number) => Array.from({ length: n }, (_, i) => `id=${i}`).join('&');
    expect(() => checkQuerySize(undefined)).to.not.throw();
    expect(() => checkQuerySize(query(MAX_QUERY_PARAMETERS))).to.not.throw();
    expect(() => checkQuerySize(query(MAX_QUERY_PARAMETERS + 1)))
      .to.throw(AlarmCenterError, new RegExp(`query: more than ${MAX_QUERY_PARAMETERS} parameters`))
      .with.property('code', '400001');
  });
});

describe('requirementOfRoute', () => {
  it('opens probes unless they are closed, when they need read', () => {
    expect(requirementOfRoute('probe', true)).to.equal('open');
    expect(requirementOfRoute('probe', false)).to.equal('read');
    expect(requirementOfRoute('admin', true)).to.equal('admin');
    expect(requirementOfRoute('open', false)).to.equal('open');
  });
});
