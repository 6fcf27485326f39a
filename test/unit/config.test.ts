import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, SETTINGS, loadConfig, usage } from '../../src/config.js';
import { hashToken } from '../../src/http/auth.js';

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
    const file = tempFile('ac.yaml', 'port: 1111\nhost: 0.0.0.0\ninsecure: true\ndataDir: /srv/file\nlogLevel: debug\n');
    const env = { ALARM_CENTER_PORT: '2222', ALARM_CENTER_DATA_DIR: '/srv/env' };
    const { config } = loadConfig(['--config', file, '--port', '3333'], env);
    expect(config.port).to.equal(3333);
    expect(config.dataDir).to.equal('/srv/env');
    expect(config.host).to.equal('0.0.0.0');
    expect(config.logLevel).to.equal('debug');
  });

  it('takes the limits over all domains from their defaults, environment variables and flags', () => {
    expect(loadConfig([], {}).config).to.include({ maxWatchers: 20_000, maxAlarms: 50_000, maxFieldsBytes: 64 * 1024 * 1024 });
    const env = { ALARM_CENTER_MAX_WATCHERS: '5', ALARM_CENTER_MAX_FIELDS_BYTES: '1048576' };
    expect(loadConfig(['--max-alarms', '0'], env).config).to.include({ maxWatchers: 5, maxAlarms: 0, maxFieldsBytes: 1_048_576 });
    expect(() => loadConfig(['--max-fields-bytes', '1.5'], {})).to.throw(ConfigError, /maxFieldsBytes \(from --max-fields-bytes\)/);
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

  it('refuses a non-loopback host without tokens, saying why and how to proceed', () => {
    for (const host of ['0.0.0.0', '10.1.2.3', '::']) {
      expect(() => loadConfig(['--host', host], {}), host).to.throw(ConfigError, /not a loopback address and no tokens are configured.*--insecure/);
    }
    expect(loadConfig(['--host', '0.0.0.0', '--insecure'], {}).config.insecure).to.equal(true);
    expect(loadConfig([], { ALARM_CENTER_HOST: '0.0.0.0', ALARM_CENTER_INSECURE: 'true' }).config.host).to.equal('0.0.0.0');
    expect(loadConfig(['--host', '0.0.0.0'], { ALARM_CENTER_TOKENS: 'read:r1' }).config.tokens).to.have.length(1);
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', 'localhost']) expect(loadConfig(['--host', host], {}).config.host).to.equal(host);
  });

  it('reads tokens from the environment as digests, never keeping the token text', () => {
    const { config } = loadConfig([], { ALARM_CENTER_TOKENS: 'read:alpha, admin:beta' });
    expect(config.tokens.map((t) => t.role)).to.deep.equal(['read', 'admin']);
    expect(JSON.stringify(config)).not.to.match(/alpha|beta/);
    expect(config.tokens[0]?.sha256).to.equal(hashToken('alpha'));
  });

  it('refuses a malformed token entry without echoing it', () => {
    let message = '';
    try {
      loadConfig([], { ALARM_CENTER_TOKENS: 'read:ok,root:s3cret' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.match(/tokens \(from ALARM_CENTER_TOKENS\): entry 2 must be role:TOKEN/);
    expect(message).not.to.contain('s3cret');
  });

  it('takes token digests, roles and scopes from a config file, and names a bad one', () => {
    const good = tempFile('t.yaml', `tokens:\n  - name: ci\n    role: write\n    sha256: ${hashToken('t')}\n    scopes: [default/p1, tenant-b/*]\n`);
    expect(loadConfig(['--config', good], {}).config.tokens).to.deep.equal([
      { name: 'ci', role: 'write', sha256: hashToken('t'), scopes: ['default/p1', 'tenant-b/*'] },
    ]);
    const bad = tempFile('t.yaml', 'tokens:\n  - role: write\n    sha256: abc\n');
    expect(() => loadConfig(['--config', bad], {})).to.throw(ConfigError, /tokens\[0\]\.sha256 .*64 hex digits/);
    const plain = tempFile('t.yaml', 'tokens:\n  - role: write\n    token: plain\n');
    expect(() => loadConfig(['--config', plain], {})).to.throw(ConfigError, /tokens/);
  });

  it('reports --help', () => {
    expect(loadConfig(['--help'], {}).help).to.equal(true);
  });

  it('reports --help and --version even when a setting is bad, reading nothing else', () => {
    const env = { ALARM_CENTER_PORT: 'abc', ALARM_CENTER_CONFIG: '/nonexistent/ac.yaml' };
    expect(loadConfig(['--help'], env)).to.include({ help: true, version: false });
    expect(loadConfig(['--version'], env)).to.include({ help: false, version: true });
  });

  it('says which config file it read, from --config or ALARM_CENTER_CONFIG', () => {
    const file = tempFile('ac.yaml', 'port: 0\n');
    expect(loadConfig([], {}).configFile).to.equal(null);
    expect(loadConfig(['--config', file], {}).configFile).to.equal(file);
    expect(loadConfig([], { ALARM_CENTER_CONFIG: file }).configFile).to.equal(file);
  });

  describe('a number out of range or not a number', () => {
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      ['--port abc', ['--port', 'abc'], {}, /^invalid setting port \(from --port\): must be a whole number from 0 to 65535 \(got "abc"\)$/],
      ['--port -1', ['--port', '-1'], {}, /^invalid setting port \(from --port\): must be a whole number from 0 to 65535 \(got "-1"\)$/],
      ['--port=-1', ['--port=-1'], {}, /from 0 to 65535 \(got "-1"\)$/],
      ['--port 1e3', ['--port', '1e3'], {}, /from 0 to 65535 \(got "1e3"\)$/],
      ['an empty --port', ['--port', ''], {}, /from 0 to 65535 \(got ""\)$/],
      ['ALARM_CENTER_QUEUE_SIZE=0', [], { ALARM_CENTER_QUEUE_SIZE: '0' }, /queueSize \(from ALARM_CENTER_QUEUE_SIZE\): must be a whole number from 1 to 1000000 \(got "0"\)$/],
    ];
    for (const [name, argv, env, message] of cases) {
      it(`is refused naming the setting, its source and the accepted range: ${name}`, () => {
        expect(() => loadConfig(argv, env)).to.throw(ConfigError, message);
      });
    }
  });

  it('explains a flag it cannot read in one line', () => {
    const messageOf = (argv: string[]) => {
      try {
        loadConfig(argv, {});
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    expect(messageOf(['--colour', 'red'])).to.equal('unknown flag --colour');
    expect(messageOf(['--port'])).to.match(/^--port: needs a value/);
    expect(messageOf(['--host', '-x'])).to.match(/^--host: needs a value/);
    expect(messageOf(['--insecure=yes'])).to.equal('--insecure: takes no value');
    expect(messageOf(['serve'])).to.match(/^unexpected argument "serve"/);
  });

  describe('logFormat', () => {
    it('is json when stdout is not a terminal and pretty when it is', () => {
      expect(loadConfig([], {}, false).config.logFormat).to.equal('json');
      expect(loadConfig([], {}, true).config.logFormat).to.equal('pretty');
    });

    it('takes --log-format, ALARM_CENTER_LOG_FORMAT and the config file over that default', () => {
      expect(loadConfig(['--log-format', 'json'], {}, true).config.logFormat).to.equal('json');
      expect(loadConfig([], { ALARM_CENTER_LOG_FORMAT: 'pretty' }, false).config.logFormat).to.equal('pretty');
      const file = tempFile('ac.yaml', 'logFormat: json\n');
      expect(loadConfig(['--config', file], {}, true).config.logFormat).to.equal('json');
    });

    it('refuses another format, naming the choices', () => {
      expect(() => loadConfig(['--log-format', 'xml'], {})).to.throw(ConfigError, /logFormat \(from --log-format\): .*"pretty"\|"json" \(got "xml"\)/);
    });
  });

  it('refuses a token holding white space, naming its entry and never echoing it', () => {
    for (const env of ['read:ok, write:abc def', 'read:ok,write:abc\tdef']) {
      let message = '';
      try {
        loadConfig([], { ALARM_CENTER_TOKENS: env });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).to.match(/^invalid setting tokens \(from ALARM_CENTER_TOKENS\): entry 2 \(env-2-write\): the token contains white space/);
      expect(message).not.to.match(/abc|def/);
    }
  });
});

describe('usage', () => {
  it('lists every setting with its flag and environment variable', () => {
    const text = usage();
    for (const s of SETTINGS) {
      if (s.flag !== null) expect(text).to.contain(`--${s.flag}`);
      expect(text).to.contain(s.env);
    }
  });
});
