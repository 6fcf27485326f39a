import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, SETTINGS, loadConfig, usage } from '../../src/config.js';

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-config-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const { config, help } = loadConfig([], {});
    expect(help).to.equal(false);
    expect(config).to.include({ host: '127.0.0.1', port: 30100, dataDir: './data', logLevel: 'info', durability: 'full' });
    expect(config.unhealthyAlarmIds).to.deep.equal(['BackendConnectionRefuse']);
  });

  it('lets flags win over environment variables, and those over the config file', () => {
    const file = tempFile('ac.yaml', 'port: 1111\nhost: 0.0.0.0\ndataDir: /srv/file\nlogLevel: debug\n');
    const env = { ALARM_CENTER_PORT: '2222', ALARM_CENTER_DATA_DIR: '/srv/env' };
    const { config } = loadConfig(['--config', file, '--port', '3333'], env);
    expect(config.port).to.equal(3333);
    expect(config.dataDir).to.equal('/srv/env');
    expect(config.host).to.equal('0.0.0.0');
    expect(config.logLevel).to.equal('debug');
  });

  it('splits comma-separated alarm ids from the environment', () => {
    const { config } = loadConfig([], { ALARM_CENTER_UNHEALTHY_ALARM_IDS: 'BackendConnectionRefuse, DiskFull' });
    expect(config.unhealthyAlarmIds).to.deep.equal(['BackendConnectionRefuse', 'DiskFull']);
  });

  it('names the setting and its source when a value is invalid', () => {
    expect(() => loadConfig(['--port', '70000'], {})).to.throw(ConfigError, /port \(from --port\)/);
    expect(() => loadConfig([], { ALARM_CENTER_LOG_LEVEL: 'loud' })).to.throw(ConfigError, /logLevel \(from ALARM_CENTER_LOG_LEVEL\)/);
    expect(() => loadConfig([], { ALARM_CENTER_DURABILITY: 'maybe' })).to.throw(ConfigError, /durability/);
  });

  it('refuses unknown flags and unknown keys of a config file', () => {
    expect(() => loadConfig(['--colour', 'red'], {})).to.throw(ConfigError, /colour/);
    const file = tempFile('ac.json', '{"prot": 1}');
    expect(() => loadConfig(['--config', file], {})).to.throw(ConfigError, /unknown setting\(s\) prot/);
  });

  it('says which config file cannot be read or parsed', () => {
    expect(() => loadConfig(['--config', '/nonexistent/ac.yaml'], {})).to.throw(ConfigError, /cannot read config file/);
    const bad = tempFile('bad.yaml', 'port: [1\n');
    expect(() => loadConfig(['--config', bad], {})).to.throw(ConfigError, /not valid YAML or JSON/);
  });

  it('reports --help', () => {
    expect(loadConfig(['--help'], {}).help).to.equal(true);
  });
});

describe('usage', () => {
  it('lists every setting with its flag and environment variable', () => {
    const text = usage();
    for (const s of SETTINGS) {
      expect(text).to.contain(`--${s.flag}`);
      expect(text).to.contain(s.env);
    }
  });
});

describe('README configuration table', () => {
  it('documents every setting with its flag and environment variable', () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const s of SETTINGS) {
      expect(readme, s.key).to.match(new RegExp(`\\| \`${s.key}\` \\| \`--${s.flag}\` \\| \`${s.env}\` \\|`));
    }
  });
});
