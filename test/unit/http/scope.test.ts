import { expect } from 'chai';
import type { Request } from 'express';
import { scopeOf, scopeOfPath } from '../../../src/http/scope.js';
import { AlarmCenterError } from '../../../src/errors.js';

function request(path: string, params: Record<string, string>, domain?: string): Request {
  return { path, params, get: (name: string) => (name.toLowerCase() === 'x-domain-name' ? domain : undefined) } as unknown as Request;
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
