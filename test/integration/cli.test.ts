import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { SETTINGS } from '../../src/settings.js';
import { binGroup, postJson, ROOT, type Bin } from '../helpers/bin.js';

const HELP_HINT = 'Run alarm-center --help for the settings.';

describe('alarm-center (the bin)', function () {
  this.timeout(30_000);
  const { run, dataDir } = binGroup('cli');

  const post = (url: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  describe('--help', () => {
    it('prints the usage with every option and exits 0', async () => {
      const bin = run(['--help']);

      expect(await bin.exited).to.equal(0);
      const text = bin.lines.map((l) => l.unparsed ?? JSON.stringify(l)).join('\n');
      expect(text).to.contain('Usage: alarm-center');
      for (const flag of ['--config', '--host', '--port', '--data-dir', '--log-level']) expect(text).to.contain(flag);
    });

    it('lists every flag and environment variable of the settings, and --config, --help and --version', async () => {
      const bin = run(['--help']);

      expect(await bin.exited).to.equal(0);
      const text = bin.lines.map((l) => l.unparsed ?? JSON.stringify(l)).join('\n');
      const flags = SETTINGS.flatMap((s) => (s.flag === null ? [] : [`--${s.flag}`]));
      const missing = [...flags, ...SETTINGS.map((s) => s.env), '--config', '--help', '--version'].filter(
        (name) => !new RegExp(`(^|\\s)${name}([\\s,]|$)`, 'm').test(text),
      );
      expect(missing).to.deep.equal([]);
    });
  });

  describe('--version', () => {
    it('prints the name and the version of the package and exits 0', async () => {
      const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const bin = run(['--version']);

      expect(await bin.exited).to.equal(0);
      expect(bin.lines).to.deep.equal([{ unparsed: `alarm-center ${version}` }]);
    });
  });

  describe('a bad setting', () => {
    const cases: { name: string; args?: string[]; env?: Record<string, string>; config?: string; names: string[] }[] = [
      { name: '--port 70000', args: ['--port', '70000'], names: ['port', '--port'] },
      { name: '--port -1', args: ['--port', '-1'], names: ['--port', 'must be a whole number from 0 to 65535 (got "-1")'] },
      { name: '--port abc', args: ['--port', 'abc'], names: ['--port', 'must be a whole number from 0 to 65535 (got "abc")'] },
      { name: '--log-format xml', args: ['--log-format', 'xml'], names: ['logFormat', '--log-format', '"pretty"|"json"'] },
      { name: 'ALARM_CENTER_LOG_LEVEL=loud', env: { ALARM_CENTER_LOG_LEVEL: 'loud' }, names: ['logLevel', 'ALARM_CENTER_LOG_LEVEL'] },
      { name: 'an unknown flag', args: ['--colour', 'blue'], names: ['--colour'] },
      { name: 'a config file with an unknown key', config: 'port: 0\nbogusKey: 1\n', names: ['bogusKey'] },
      { name: 'a config file with a bad value', config: 'queueSize: 0\n', names: ['queueSize', 'config file'] },
      {
        name: 'a non-loopback host without tokens',
        args: ['--host', '0.0.0.0'],
        names: ['host', 'not a loopback address and no tokens are configured', 'ALARM_CENTER_TOKENS', '--insecure'],
      },
    ];
    for (const c of cases) {
      it(`stops start-up with exit 2, a line naming it and a line pointing at --help: ${c.name}`, async () => {
        const dir = dataDir();
        const args = [...(c.args ?? [])];
        if (c.config !== undefined) {
          const file = path.join(dir, 'settings.yaml');
          fs.writeFileSync(file, c.config);
          args.push('--config', file);
        }
        // Safe fall-backs, so that a setting wrongly accepted cannot bind the default port or write ./data.
        const env = { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: dir, ...c.env };

        const bin = run(args, env);

        const code = await bin.exited;
        expect(code, bin.stderr).to.equal(2);
        const lines = bin.stderr.trimEnd().split('\n');
        expect(lines, bin.stderr).to.have.length(2);
        for (const name of c.names) expect(lines[0]).to.contain(name);
        expect(lines[1]).to.equal(HELP_HINT);
      });
    }

    for (const [what, token] of [
      ['a space', 'abc def'],
      ['a tab', 'abc\tdef'],
    ] as const) {
      it(`stops start-up on a token holding ${what}, naming its entry but not the token`, async () => {
        const dir = dataDir();

        const bin = run([], { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: dir, ALARM_CENTER_TOKENS: `read:fine,write:${token}` });

        expect(await bin.exited, bin.stderr).to.equal(2);
        expect(bin.stderr).to.match(/^alarm-center: invalid setting tokens \(from ALARM_CENTER_TOKENS\): entry 2 \(env-2-write\): the token contains white space/);
        expect(bin.stderr).not.to.match(/abc|def|fine/);
        expect(bin.lines, 'nothing was logged: the server did not start').to.deep.equal([]);
      });
    }
  });

  describe('a start-up that cannot succeed', () => {
    it('stops with exit 2 and one sentence naming the address when the port is in use', async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as net.AddressInfo;
      try {
        const bin = run(['--port', String(port), '--data-dir', dataDir()]);

        expect(await bin.exited, bin.stderr).to.equal(2);
        expect(bin.stderr).to.equal(`alarm-center: cannot listen on 127.0.0.1:${port}: the address is already in use\n`);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    });

    it('stops with exit 2 and one sentence naming the database path and the reason when the data folder cannot be opened', async () => {
      const plain = path.join(dataDir(), 'plain');
      fs.writeFileSync(plain, 'a regular file, not a folder');

      const bin = run([], { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: plain });

      expect(await bin.exited, bin.stderr).to.equal(2);
      expect(bin.stderr).to.equal(`alarm-center: cannot open the database ${path.join(plain, 'alarms.db')}: not a directory\n`);
    });

    it('stops with exit 2 and one sentence naming the folder when another instance uses the data folder', async () => {
      const dir = dataDir();
      const first = run(['--port', '0', '--data-dir', dir]);
      await first.url();

      const second = run(['--port', '0', '--data-dir', dir]);

      expect(await second.exited, second.stderr).to.equal(2);
      expect(second.stderr).to.match(/^alarm-center: [^\n]+\n$/);
      expect(second.stderr).to.contain(dir);
      expect(second.lines, 'nothing was logged: the second did not start').to.deep.equal([]);
      expect(await first.stop()).to.equal(0);
    });
  });

  describe('settings', () => {
    it('takes the port and data dir from ALARM_CENTER_* variables', async () => {
      const dir = dataDir();
      const bin = run([], { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: dir });

      const url = await bin.url();

      expect(Number(new URL(url).port)).to.be.above(0).and.not.equal(30100);
      expect((await bin.waitForLine('"listening"', (l) => l.message === 'listening')).dataDir).to.equal(dir);
      expect((await post(`${url}/v4/p/admin/alarms`, { id: 'FromEnv' })).status).to.equal(200);
      expect(fs.existsSync(path.join(dir, 'alarms.db'))).to.equal(true);
      expect(await bin.stop()).to.equal(0);
    });

    it('takes settings from a YAML file given with --config', async () => {
      const dir = dataDir();
      const file = path.join(dir, 'settings.yaml');
      fs.writeFileSync(file, `port: 0\ndataDir: ${JSON.stringify(path.join(dir, 'db'))}\nunhealthyAlarmIds:\n  - DiskFull\n`);
      const bin = run(['--config', file]);

      const url = await bin.url();
      await post(`${url}/v4/default/admin/alarms`, { id: 'DiskFull', fields: { detail: '/var at 99%' } });

      expect(Number(new URL(url).port)).to.be.above(0).and.not.equal(30100);
      expect(fs.existsSync(path.join(dir, 'db', 'alarms.db'))).to.equal(true);
      const health = await fetch(`${url}/health`);
      expect(health.status).to.equal(400);
      expect(await health.json()).to.deep.include({ errorCode: '400002', detail: 'DiskFull: /var at 99%' });
      expect(await bin.stop()).to.equal(0);
    });

    it('lets a flag win over the environment', async () => {
      const dir = dataDir();
      const bin = run(['--port', '0'], { ALARM_CENTER_PORT: '70000', ALARM_CENTER_DATA_DIR: dir });

      const url = await bin.url();

      expect(Number(new URL(url).port)).to.be.above(0);
      expect((await fetch(`${url}/livez`)).status).to.equal(200);
      expect(await bin.stop()).to.equal(0);
    });
  });

  describe('logs', () => {
    it('writes one JSON line per request with method, route, status and durationMs', async () => {
      const bin = run(['--port', '0', '--data-dir', dataDir()]);
      const url = await bin.url();

      expect((await fetch(`${url}/v4/p/admin/alarms?status=ACTIVATED`)).status).to.equal(200);

      const line = await bin.waitForLine('for the request', (l) => l.message === 'request' && l.method === 'GET');
      expect(line).to.include({ method: 'GET', route: '/v4/:project/admin/alarms', status: 200 });
      expect(line.durationMs).to.be.a('number').that.is.at.least(0);
      expect(await bin.stop()).to.equal(0);
    });

    /** Polled paths answered 2xx, one that fails, then a plain request whose line marks the end. */
    async function pollThenList(bin: Bin): Promise<void> {
      const url = await bin.url();
      for (const p of ['/livez', '/readyz', '/readyz/store', '/health', '/v4/p/registry/health', '/metrics']) {
        expect((await fetch(`${url}${p}`)).status, p).to.equal(200);
      }
      const beat = (name: string, body: string) => fetch(`${url}/v4/p/admin/heartbeats/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      expect((await beat('nightly', '{"timeoutSeconds":3600}')).status).to.equal(200);
      expect((await beat('unknown', '')).status, 'a first beat without timeoutSeconds').to.equal(400);
      expect((await fetch(`${url}/readyz/nonexistent`)).status).to.equal(404);
      expect((await fetch(`${url}/v4/p/admin/alarms`)).status).to.equal(200);
      await bin.waitForLine('for the last request', (l) => l.message === 'request' && l.route === '/v4/:project/admin/alarms');
    }

    const requestLines = (bin: Bin) => bin.lines.filter((l) => l.message === 'request').map((l) => `${l.level} ${l.status} ${l.path}`);

    it("logs the successful requests of probes, scrapers and heartbeats' beats only at debug, and their failures at info", async () => {
      const bin = run(['--port', '0', '--data-dir', dataDir()]);

      await pollThenList(bin);

      expect(requestLines(bin)).to.deep.equal(['info 400 /v4/p/admin/heartbeats/unknown', 'info 404 /readyz/nonexistent', 'info 200 /v4/p/admin/alarms']);
      expect(await bin.stop()).to.equal(0);
    });

    it("logs the successful requests of probes, scrapers and heartbeats' beats at --log-level debug", async () => {
      const bin = run(['--port', '0', '--data-dir', dataDir(), '--log-level', 'debug']);

      await pollThenList(bin);

      expect(requestLines(bin)).to.deep.equal([
        'debug 200 /livez',
        'debug 200 /readyz',
        'debug 200 /readyz/store',
        'debug 200 /health',
        'debug 200 /v4/p/registry/health',
        'debug 200 /metrics',
        'debug 200 /v4/p/admin/heartbeats/nightly',
        'info 400 /v4/p/admin/heartbeats/unknown',
        'info 404 /readyz/nonexistent',
        'info 200 /v4/p/admin/alarms',
      ]);
      expect(await bin.stop()).to.equal(0);
    });

    it('writes a readable line per entry with --log-format pretty: time, level, message, then key=value', async () => {
      const bin = run(['--port', '0', '--data-dir', dataDir(), '--log-format', 'pretty']);
      const pretty = (what: string, pattern: RegExp) =>
        bin.waitForLine(what, (l) => typeof l.unparsed === 'string' && pattern.test(l.unparsed)).then((l) => l.unparsed as string);

      const listening = await pretty('"listening"', / info {2}listening /);
      const url = /url=(\S+)/.exec(listening)?.[1] as string;
      await fetch(`${url}/v4/p/admin/alarms`);
      const request = await pretty('for the request', / request /);

      expect(listening).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}listening url=http:\/\/127\.0\.0\.1:\d+ store=sqlite dataDir=\S+ durability=full authentication=off tokens=0 config=null$/);
      expect(request).to.match(/ info {2}request component=http method=GET route=\/v4\/:project\/admin\/alarms path=\/v4\/p\/admin\/alarms status=200 durationMs=[\d.]+ requestId=\S+$/);
      expect(bin.lines.filter((l) => l.unparsed === undefined), 'no JSON line').to.deep.equal([]);
      expect(await bin.stop()).to.equal(0);
    });

    it('says at start-up whether tokens are on, how many there are, and which config file was read', async () => {
      const dir = dataDir();
      const file = path.join(dir, 'settings.yaml');
      fs.writeFileSync(file, 'port: 0\n');
      const plain = run(['--port', '0', '--data-dir', dataDir()]);
      const secured = run(['--config', file, '--data-dir', dir], { ALARM_CENTER_TOKENS: 'read:first-token,admin:second-token' });

      const [off, on] = await Promise.all([plain, secured].map((bin) => bin.waitForLine('"listening"', (l) => l.message === 'listening')));

      expect(off).to.include({ authentication: 'off', tokens: 0, config: null });
      expect(on).to.include({ authentication: 'tokens', tokens: 2, config: file });
      expect(JSON.stringify(secured.lines)).not.to.match(/first-token|second-token/);
    });
  });

  describe('SIGTERM', () => {
    it('commits every acknowledged raise, refuses the rest with 503001 or a closed connection, and exits 0', async () => {
      const dir = dataDir();
      const first = run(['--port', '0', '--data-dir', dir]);
      const url = `${await first.url()}/v4/sigterm/admin/alarms`;
      const agent = new http.Agent({ keepAlive: true });
      const CLIENTS = 20;
      const THRESHOLD = 300;
      const acknowledged = new Set<string>();
      const unexpected: string[] = [];
      let terminated = false;

      const client = async (c: number) => {
        for (let i = 0; first.running; i += 1) {
          const source = `client-${c}-${i}`;
          let res: { status: number; headers: http.IncomingHttpHeaders; text: string };
          try {
            res = await postJson(agent, url, { id: 'Load', source });
          } catch (err) {
            if (!terminated) unexpected.push(`${source}: ${String(err)} before SIGTERM`);
            return;
          }
          if (res.status === 200) {
            acknowledged.add(source);
            if (acknowledged.size >= THRESHOLD && !terminated) {
              terminated = true;
              first.child.kill('SIGTERM');
            }
            continue;
          }
          const refused = terminated && res.status === 503 && (JSON.parse(res.text) as { errorCode?: unknown }).errorCode === '503001';
          if (!refused) unexpected.push(`${source}: ${res.status} ${res.text}`);
          return;
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
      agent.destroy();

      expect(unexpected).to.deep.equal([]);
      expect(terminated).to.equal(true);
      expect(await first.exited, first.stderr).to.equal(0);
      expect(first.lines.some((l) => l.message === 'stopped')).to.equal(true);

      const second = run(['--port', '0', '--data-dir', dir]);
      const res = await fetch(`${await second.url()}/v4/sigterm/admin/alarms?id=Load`);
      const listed = new Set(((await res.json()) as { alarms: { source: string }[] }).alarms.map((a) => a.source));
      const lost = [...acknowledged].filter((s) => !listed.has(s));

      expect(acknowledged.size).to.be.at.least(THRESHOLD);
      expect(lost, `${lost.length} acknowledged raises lost`).to.deep.equal([]);
      expect(await second.stop()).to.equal(0);
    });

    it('stops gracefully on a SIGTERM sent as soon as "listening" is logged', async () => {
      // A supervisor may stop the process the moment it reports it is listening; repeated
      // because a missing signal handler shows only when the signal wins the race.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const bin = run(['--port', '0', '--data-dir', dataDir()]);
        await bin.url();
        bin.child.kill('SIGTERM');

        const code = await bin.exited;

        expect({ attempt, code, signal: bin.signal }).to.deep.equal({ attempt, code: 0, signal: null });
        expect(bin.lines.some((l) => l.message === 'stopped'), 'logged "stopped"').to.equal(true);
      }
    });

    it('answers a request in flight with Connection: close and exits without waiting for the client to hang up', async () => {
      const dir = dataDir();
      // A long shutdown timeout: the process must not need it to exit.
      const bin = run(['--port', '0', '--data-dir', dir, '--shutdown-timeout-ms', '60000']);
      const url = new URL(`${await bin.url()}/v4/sigterm/admin/alarms`);
      const agent = new http.Agent({ keepAlive: true });
      const body = JSON.stringify({ id: 'InFlight' });
      try {
        const req = http.request(url, {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
        });
        const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
          req.once('response', resolve);
          req.once('error', reject);
        });
        // 100 Continue: the server has read the headers and routed the request; the body is still to come.
        await new Promise<void>((resolve) => req.once('continue', resolve));
        bin.child.kill('SIGTERM');
        await bin.waitForLine('"shutting down"', (l) => l.message === 'shutting down');
        req.end(body);
        const res = await answered;
        res.resume();

        expect(res.statusCode).to.equal(200);
        expect(res.headers.connection, 'an answer sent during shutdown closes its connection').to.equal('close');
        const exited = await Promise.race([bin.exited.then(() => true), deadline(10_000).then(() => false)]);
        expect(exited, 'exited while an idle keep-alive connection stayed open').to.equal(true);
        expect(await bin.exited).to.equal(0);
      } finally {
        agent.destroy();
      }
    });
  });
});

/** Resolves after `ms`; only to bound a wait that should end much sooner. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
