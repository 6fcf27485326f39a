import { expect } from 'chai';
import type { Request } from 'express';
import { projectOfPath, scopeOf, scopeOfPath } from '../../../src/http/scope.js';
import { AlarmCenterError } from '../../../src/errors.js';

function request(path: string, params: Record<string, string>, domain?: string): Request {
  const headers = domain === undefined ? {} : { 'x-domain-name': domain };
  return { path, url: path, params, headers, get: (name: string) => (name.toLowerCase() === 'x-domain-name' ? domain : undefined) } as unknown as Request;
}

describe('scopeOf', () => {
  it('takes the domain from x-domain-name and the project from the route', () => {
    expect(scopeOf(request('/v4/p1/admin/alarms', { project: 'p1' }, 'tenant-a'))).to.deep.equal({ domain: 'tenant-a', project: 'p1' });
  });

  it('refuses a bad domain with 400001 naming x-domain-name', () => {
    expect(() => scopeOf(request('/v4/p1/admin/alarms', { project: 'p1' }, 'a b')))
      .to.throw(AlarmCenterError, /x-domain-name/)
      .with.property('code', '400001');
  });
});

describe('scopeOfPath', () => {
  it('reads the project from a /v4 path once the route params are gone', () => {
    expect(scopeOfPath(request('/v4/p1/admin/alarms', {}, 'tenant-a'))).to.deep.equal({ domain: 'tenant-a', project: 'p1' });
  });

  it('falls back to the default scope for a path without a project or with an invalid scope', () => {
    expect(scopeOfPath(request('/metrics', {}))).to.deep.equal({ domain: 'default', project: 'default' });
    expect(scopeOfPath(request('/v4/p1/admin/alarms', {}, 'a b'))).to.deep.equal({ domain: 'default', project: 'default' });
  });
});

describe('projectOfPath', () => {
  it('reads and decodes the project of a /v4 path, and nothing from other paths', () => {
    expect(projectOfPath('/v4/p1/admin/alarms/watch')).to.equal('p1');
    expect(projectOfPath('/v4/a%2Eb/registry/health')).to.equal('a.b');
    expect(projectOfPath('/health')).to.equal(undefined);
  });

  it('refuses a malformed percent-encoding with 400001 naming the project', () => {
    expect(() => projectOfPath('/v4/%zz/admin/alarms'))
      .to.throw(AlarmCenterError, /project: malformed percent-encoding/)
      .with.property('code', '400001');
    // The error handler's reading falls back to the default scope instead.
    expect(scopeOfPath(request('/v4/%zz/admin/alarms', {}))).to.deep.equal({ domain: 'default', project: 'default' });
  });
});
