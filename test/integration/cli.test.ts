import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { binGroup, postJson } from '../helpers/bin.js';

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
  });

  describe('a bad setting', () => {
    const cases: { name: string; args?: string[]; env?: Record<string, string>; config?: string; names: string[] }[] = [
      { name: '--port 70000', args: ['--port', '70000'], names: ['port', '--port'] },
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
      it(`stops start-up with a non-zero exit and a message naming it: ${c.name}`, async () => {
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
        expect(code, bin.stderr).to.be.a('number').that.is.not.equal(0);
        for (const name of c.names) expect(bin.stderr).to.contain(name);
      });
    }
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
      expect(await health.json()).to.deep.include({ errorCode: '400002', detail: '/var at 99%' });
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

  it('stops start-up with exit 1 and a line naming the database path and the reason when the data folder cannot be opened', async () => {
    const plain = path.join(dataDir(), 'plain');
    fs.writeFileSync(plain, 'a regular file, not a folder');

    const bin = run([], { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: plain });

    expect(await bin.exited, bin.stderr).to.equal(1);
    expect(bin.lines.find((l) => l.message === 'start failed')).to.include({
      level: 'error',
      error: `cannot open the database ${path.join(plain, 'alarms.db')}: not a directory`,
    });
  });
});

/** Resolves after `ms`; only to bound a wait that should end much sooner. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
