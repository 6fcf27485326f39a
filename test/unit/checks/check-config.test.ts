import { expect } from 'chai';
import { ConfigError, validateConfig, usage } from '../../../src/config.js';

/** The message start-up stops with for these checks, or undefined when they are valid. */
function refusal(checks: unknown): string | undefined {
  try {
    validateConfig({ checks }, { checks: 'config file alarm-center.yaml' });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

describe('the checks setting', () => {
  it('takes http and tcp checks, with the defaults of what they leave out', () => {
    const config = validateConfig({ checks: [{ name: 'etcd', tcp: '127.0.0.1:2379' }, { name: 'api', http: 'https://api.internal/healthz', expectStatus: '200', bodyContains: 'UP' }] });

    expect(config.checks[0]).to.deep.equal({
      name: 'etcd',
      tcp: '127.0.0.1:2379',
      intervalSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
      severity: 'major',
      domain: 'default',
      project: 'default',
    });
    expect(config.checks[1]).to.include({ http: 'https://api.internal/healthz', expectStatus: '200', bodyContains: 'UP' });
  });

  it('names the entry and field of a bad check, and where it came from', () => {
    expect(refusal([{ name: 'a', tcp: 'localhost' }])).to.match(/^invalid setting checks\[0\]\.tcp \(from config file alarm-center\.yaml\): must be host:port/);
    expect(refusal([{ name: 'a', tcp: 'h:1', http: 'http://h/' }])).to.match(/checks\[0\].*give exactly one target: http or tcp/);
    expect(refusal([{ name: 'a' }])).to.match(/give exactly one target/);
    expect(refusal([{ name: 'a', tcp: 'h:1', bodyContains: 'x' }])).to.match(/checks\[0\]\.bodyContains.*applies to an http check only/);
    expect(refusal([{ name: 'a', http: 'http://h/', expectStatus: '399-200' }])).to.match(/checks\[0\]\.expectStatus/);
    expect(refusal([{ name: 'a', tcp: 'h:1', failureThreshold: 0 }])).to.match(/checks\[0\]\.failureThreshold/);
    expect(refusal([{ name: 'a', tcp: 'h:1' }, { name: 'a', tcp: 'h:2' }])).to.match(/checks\[1\]\.name.*another check is named a/);
    expect(refusal([{ name: 'a', tcp: 'h:1', every: 5 }])).to.match(/checks\[0\].*every/);
  });

  it('never repeats a URL, which may hold a password, in its errors', () => {
    const message = refusal([{ name: 'a', http: 'ftp://user:hunter2@h/' }]) ?? '';

    expect(message).to.match(/checks\[0\]\.http \(from .*\): must be an absolute http/);
    expect(message).to.not.contain('hunter2');
  });

  it('refuses the environment variable, whose text holds no list', () => {
    expect(refusal('[{"name":"a"}]')).to.match(/must be a list of checks, given in the config file/);
  });

  it('is listed by --help as a config file setting', () => {
    expect(usage()).to.match(/\(config file only\)\s+ALARM_CENTER_CHECKS/);
  });
});
