import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, usage } from '../../../src/config.js';
import { targetOf } from '../../../src/notify/alertmanager-config.js';

function configFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-alertmanagers-'));
  const file = path.join(dir, 'alarm-center.yaml');
  fs.writeFileSync(file, text);
  return file;
}

/** The message of the ConfigError loading throws. */
function configError(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the config loaded');
}

describe('the alertmanagers setting', () => {
  it('has none, a resend every 60 s and no external URL by default', () => {
    const { config } = loadConfig([], {});
    expect(config).to.deep.include({ alertmanagers: [], alertmanagerResendSeconds: 60 });
    expect(config.externalUrl).to.equal(undefined);
  });

  it('takes URLs from a comma list in the environment, or from the flag repeated or with commas', () => {
    const env = { ALARM_CENTER_ALERTMANAGER_URLS: 'http://am-1:9093, http://am-2:9093/' };
    expect(loadConfig([], env).config.alertmanagers).to.deep.equal([{ url: 'http://am-1:9093' }, { url: 'http://am-2:9093' }]);

    const flags = ['--alertmanager-url', 'http://am-3:9093', '--alertmanager-url', 'http://am-4:9093,https://am-5/prefix'];
    expect(loadConfig(flags, env).config.alertmanagers.map((a) => a.url)).to.deep.equal(['http://am-3:9093', 'http://am-4:9093', 'https://am-5/prefix']);
  });

  it('takes URLs and objects with a bearer token or basic authentication from a config file', () => {
    const file = configFile(
      [
        'alertmanagers:',
        '  - http://am-1:9093',
        '  - url: https://am-2.example.com/alertmanager/',
        '    bearerToken: t0ken',
        '  - url: http://am-3:9093',
        '    basicAuth: {username: ac, password: pa55}',
        'alertmanagerResendSeconds: 5',
        'externalUrl: https://alarms.example.com',
      ].join('\n'),
    );

    const { config } = loadConfig(['--config', file], {});

    expect(config.alertmanagers).to.deep.equal([
      { url: 'http://am-1:9093' },
      { url: 'https://am-2.example.com/alertmanager', bearerToken: 't0ken' },
      { url: 'http://am-3:9093', basicAuth: { username: 'ac', password: 'pa55' } },
    ]);
    expect(config).to.include({ alertmanagerResendSeconds: 5, externalUrl: 'https://alarms.example.com' });
  });

  it('takes a user and password in a URL as its basic authentication, and names it by the URL without them', () => {
    const [entry] = loadConfig([], { ALARM_CENTER_ALERTMANAGER_URLS: 'http://ac%40ops:p%3Ass@am:9093' }).config.alertmanagers;

    expect(entry).to.deep.equal({ url: 'http://am:9093', basicAuth: { username: 'ac@ops', password: 'p:ss' } });
    expect(targetOf(entry as never)).to.deep.equal({
      endpoint: 'http://am:9093/api/v2/alerts',
      name: 'http://am:9093',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('ac@ops:p:ss').toString('base64')}` },
    });
    expect(targetOf({ url: 'http://am:9093', bearerToken: 't0ken' }).headers.authorization).to.equal('Bearer t0ken');
  });

  it('names the setting, the entry and where it came from when an entry is bad', () => {
    expect(configError([], { ALARM_CENTER_ALERTMANAGER_URLS: 'http://am-1:9093,ftp://am-2' })).to.equal(
      'invalid setting alertmanagers[1].url (from ALARM_CENTER_ALERTMANAGER_URLS): must be an http:// or https:// URL without query or fragment',
    );
    expect(configError(['--alertmanager-url', 'http://am:9093?x=1'])).to.match(/^invalid setting alertmanagers\[0\]\.url \(from --alertmanager-url\): /);
    expect(configError(['--alertmanager-url', 'http://am-1:9093', '--alertmanager-url', 'http://am-1:9093/'])).to.match(
      /alertmanagers\[1\]\.url .*: the same Alertmanager as entry \[0\]/,
    );
    expect(configError(['--alertmanager-resend-seconds', '0'])).to.match(/^invalid setting alertmanagerResendSeconds \(from --alertmanager-resend-seconds\)/);
    expect(configError(['--external-url', 'alarms.example.com'])).to.match(/^invalid setting externalUrl/);
  });

  it('never repeats a token or a password in its errors', () => {
    const file = configFile(
      [
        'alertmanagers:',
        '  - url: http://am-1:9093',
        '    token: s3cret-1',
        '  - url: http://am-2:9093',
        '    bearerToken: s3cret-2',
        '    basicAuth: {username: ac, password: s3cret-3}',
        '  - url: ftp://ac:s3cret-4@am-3',
        '  - url: http://am-4:9093',
        '    basicAuth: {username: ac, password: 5}',
      ].join('\n'),
    );

    const message = configError(['--config', file]);

    expect(message.split('; ')).to.deep.equal([
      `invalid setting alertmanagers[0] (from config file ${file}): unknown key(s) token`,
      `invalid setting alertmanagers[1].url (from config file ${file}): give one of bearerToken, basicAuth, or a user and password in the URL`,
      `invalid setting alertmanagers[2].url (from config file ${file}): must be an http:// or https:// URL without query or fragment`,
      `invalid setting alertmanagers[3].basicAuth.password (from config file ${file}): Invalid input: expected string, received number`,
    ]);
    expect(message).not.to.match(/s3cret/);
  });

  it('is listed by --help with its flag and variable', () => {
    expect(usage()).to.match(/--alertmanager-url URL\s+ALARM_CENTER_ALERTMANAGER_URLS/);
  });
});
