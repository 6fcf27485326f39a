import { expect } from 'chai';
import { scopeFromNames } from '../../../src/http/scope.js';
import { AlarmCenterError } from '../../../src/errors.js';

describe('scopeFromNames', () => {
  it('takes a valid domain and project as they are', () => {
    expect(scopeFromNames('tenant-a', 'p1')).to.deep.equal({ domain: 'tenant-a', project: 'p1' });
  });

  it('refuses a bad domain with 400001 naming x-domain-name', () => {
    expect(() => scopeFromNames('a b', 'p1'))
      .to.throw(AlarmCenterError, /x-domain-name/)
      .with.property('code', '400001');
  });

  it('refuses a bad project with 400001 naming the project', () => {
    expect(() => scopeFromNames('default', 'a/b'))
      .to.throw(AlarmCenterError, /project/)
      .with.property('code', '400001');
  });
});
