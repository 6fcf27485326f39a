/**
 * The checks' probe thread: the same verdicts as the probes on the event loop, whatever the
 * target does; the probes of a thread that dies or cannot start run on the event loop, logged
 * and counted; a closed thread settles what it held and never keeps the process alive.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import winston from 'winston';
import type { CheckConfig } from '../../../src/checks/check-config.js';
import { Checks, targetOf } from '../../../src/checks/checks.js';
import { probeOfTarget, type ProbeTarget } from '../../../src/checks/probe-target.js';
import { ProbeThread } from '../../../src/checks/probe-thread.js';
import type { ThreadEntry } from '../../../src/thread-entry.js';
import { LogCapture } from '../../helpers/differential.js';
import { removeDir, tempDir, waitFor } from '../../helpers/integration.js';
import { freePort } from '../../helpers/pg-process.js';

/** A target answering by path: `/ok` 200 UP, `/down` 503, `/body` 200 without UP, `/hang` never. */
class Target {
  readonly hanging: http.ServerResponse[] = [];
  private readonly server = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('{"status":"UP"}');
    else if (req.url === '/down') res.writeHead(503).end();
    else if (req.url === '/body') res.end('{"status":"DOWN"}');
    else this.hanging.push(res);
  });
  base = '';

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const httpTarget = (url: string, over: Partial<Extract<ProbeTarget, { kind: 'http' }>> = {}): ProbeTarget => ({ kind: 'http', url, status: [200, 399], timeoutMs: 2000, ...over });

/** A thread module answering every probe "as expected" at once, that ends its thread at its `exitOn`-th message. */
const dyingThread = (exitOn: number): ThreadEntry => ({
  url: new URL(
    `data:text/javascript,${encodeURIComponent(
      `import { parentPort } from 'node:worker_threads'; let n = 0;
       parentPort.on('message', (m) => { n += 1; if (n === ${exitOn}) process.exit(3);
         const verdicts = []; for (let i = 0; i < m.probes.length; i += 3) verdicts.push(m.probes[i], null);
         parentPort.postMessage({ verdicts }); });`,
    )}`,
  ),
  options: {},
});

/** A thread module that answers nothing and ends its thread `afterMs` after its first message. */
const silentThenDead = (afterMs: number): ThreadEntry => ({
  url: new URL(
    `data:text/javascript,${encodeURIComponent(
      `import { parentPort } from 'node:worker_threads';
       parentPort.once('message', () => setTimeout(() => process.exit(4), ${afterMs}));`,
    )}`,
  ),
  options: {},
});

const cannotStart: ThreadEntry = { url: new URL(`data:text/javascript,${encodeURIComponent('throw new Error("cannot start")')}`), options: {} };

describe('ProbeThread', () => {
  const target = new Target();
  const threads: ProbeThread[] = [];
  let logs: LogCapture;
  let lost: number;

  const open = (entry?: ThreadEntry): ProbeThread => {
    const t = new ProbeThread({ logger: winston.createLogger({ transports: [logs] }), metrics: { probeThreadLost: () => (lost += 1) }, ...(entry && { entry }) });
    threads.push(t);
    return t;
  };
  const errors = () => logs.entries.filter((e) => e.level === 'error').map((e) => e.message);

  before(() => target.listen());
  after(() => target.close());
  beforeEach(() => {
    logs = new LogCapture();
    lost = 0;
  });
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((t) => t.close()));
    for (const res of target.hanging.splice(0)) res.destroy();
  });

  describe('#probeOf', () => {
    const cases: [string, () => Promise<{ target: ProbeTarget; verdict: string | undefined }>][] = [
      ['an HTTP target answering 200', async () => ({ target: httpTarget(`${target.base}/ok`), verdict: undefined })],
      ['an HTTP target answering 503', async () => ({ target: httpTarget(`${target.base}/down`), verdict: `HTTP 503 from ${target.base}/down` })],
      [
        'an answer without the expected body text',
        async () => ({ target: httpTarget(`${target.base}/body`, { bodyContains: 'UP' }), verdict: `HTTP 200 from ${target.base}/body without "UP" in its body` }),
      ],
      ['a target that never answers', async () => ({ target: httpTarget(`${target.base}/hang`, { timeoutMs: 200 }), verdict: `GET ${target.base}/hang: timeout after 0.2 s` })],
      [
        'a refused TCP connection',
        async () => {
          const port = await freePort();
          return { target: { kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 }, verdict: `dial tcp 127.0.0.1:${port}: connection refused` };
        },
      ],
    ];
    for (const [what, make] of cases) {
      it(`answers ${what} as the probe on the event loop does`, async () => {
        const { target: t, verdict } = await make();
        const thread = open();

        const [there, here] = await Promise.all([thread.probeOf(t)(), probeOfTarget(t)()]);

        expect(there).to.equal(verdict);
        expect(here).to.equal(verdict);
        expect(thread.onEventLoop).to.equal(false);
        expect(lost).to.equal(0);
      });
    }

    it('answers TCP targets that listen', async () => {
      const listening = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = listening.address() as AddressInfo;
        expect(await open().probeOf({ kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 })()).to.equal(undefined);
      } finally {
        await new Promise((resolve) => listening.close(resolve));
      }
    });

    it('answers many probes asked for together, each its own verdict', async () => {
      const thread = open();
      const paths = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? '/down' : '/ok'));
      const probes = paths.map((p) => thread.probeOf(httpTarget(`${target.base}${p}`)));

      const verdicts = await Promise.all(probes.map((p) => p()));

      expect(verdicts).to.deep.equal(paths.map((p) => (p === '/down' ? `HTTP 503 from ${target.base}/down` : undefined)));
    });
  });

  describe('when the thread fails', () => {
    it('runs the probes a dead thread held on the event loop, logs and counts it, and starts another thread', async () => {
      const thread = open(dyingThread(2));
      const probe = thread.probeOf(httpTarget(`${target.base}/down`));

      const first = await probe();
      const held = await probe();
      const next = await probe();

      expect(first, 'answered by the thread').to.equal(undefined);
      expect(held, 'the dead thread held it: probed on the event loop').to.equal(`HTTP 503 from ${target.base}/down`);
      expect(next, 'answered by the next thread').to.equal(undefined);
      expect(lost).to.equal(1);
      expect(errors()).to.deep.equal(['probe thread lost; its probes ran on the event loop, another starts at the next probe']);
    });

    it('gives a probe the dead thread held only what was left of its timeout, its failure naming the whole timeout', async () => {
      const thread = open(silentThenDead(100));

      const verdict = await thread.probeOf(httpTarget(`${target.base}/hang`, { timeoutMs: 300 }))();

      expect(verdict).to.equal(`GET ${target.base}/hang: timeout after 0.3 s`);
      expect(target.hanging, 'asked of the event loop once the thread died').to.have.length(1);
    });

    it('probes on the event loop for good when its thread cannot start', async () => {
      const thread = open(cannotStart);
      const probe = thread.probeOf(httpTarget(`${target.base}/down`));

      const verdicts = [await probe(), await probe()];

      expect(verdicts).to.deep.equal([`HTTP 503 from ${target.base}/down`, `HTTP 503 from ${target.base}/down`]);
      expect(thread.onEventLoop).to.equal(true);
      expect(lost).to.equal(1);
      expect(errors()).to.deep.equal(['probe thread could not start; probing on the event loop']);
    });

    it('keeps a check raising when its thread cannot start', async () => {
      const port = await freePort();
      const thread = open(cannotStart);
      const applied: unknown[] = [];
      const config = { name: 'etcd', tcp: `127.0.0.1:${port}`, intervalSeconds: 0.01, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1, severity: 'major', domain: 'default', project: 'default' } as CheckConfig;
      const checks = new Checks({
        checks: [config],
        alarms: { apply: async (_scope, inputs) => applied.push(...inputs) },
        index: { get: () => undefined },
        logger: winston.createLogger({ transports: [logs] }),
        probeOf: (c) => thread.probeOf(targetOf(c)),
      });
      checks.start();
      try {
        const raise = await waitFor('the check to raise', () => applied[0]);
        expect(raise).to.deep.include({ id: 'BackendConnectionRefuse', status: 'ACTIVATED', source: 'etcd' });
        expect((raise as { fields: { detail: string } }).fields.detail).to.equal(`dial tcp 127.0.0.1:${port}: connection refused`);
      } finally {
        checks.close();
      }
    });
  });

  describe('#close', () => {
    it('settles the probes it holds at once, and a stopped check counts them for nothing', async () => {
      const thread = open();
      const probed: string[] = [];
      const config = { name: 'stuck', http: `${target.base}/hang`, intervalSeconds: 0.01, timeoutSeconds: 600, failureThreshold: 1, successThreshold: 1, severity: 'major', domain: 'default', project: 'default' } as CheckConfig;
      const checks = new Checks({
        checks: [config],
        alarms: { apply: async () => expect.fail('nothing to raise') },
        index: { get: () => undefined },
        logger: winston.createLogger({ transports: [logs] }),
        metrics: { probed: (check) => probed.push(check), stopped() {}, writeFailed() {}, probeThreadLost() {} },
        probeOf: (c) => thread.probeOf(targetOf(c)),
      });
      const held = thread.probeOf(httpTarget(`${target.base}/hang`, { timeoutMs: 600_000 }))();
      checks.start();
      await waitFor('both probes at the target', () => target.hanging.length === 2);

      checks.close();
      await thread.close();

      expect(await held).to.be.a('string');
      expect(probed).to.deep.equal([]);
      expect(checks.list({ domain: 'default', project: 'default' })[0]).to.deep.include({ running: false, consecutiveFailures: 0 });
    });

    it('leaves nothing keeping the process alive, even unclosed', function () {
      this.timeout(30_000);
      const module = new URL('../../../src/checks/probe-thread.ts', import.meta.url).href;
      const dir = tempDir('probe-thread');
      const script = path.join(dir, 'probe-once.mts');
      fs.writeFileSync(
        script,
        `import net from 'node:net';
         import { ProbeThread } from ${JSON.stringify(module)};
         const s = net.createServer();
         await new Promise((r) => s.listen(0, '127.0.0.1', r));
         const { port } = s.address();
         await new Promise((r) => s.close(r));
         const thread = new ProbeThread({ logger: { error: (m) => console.error(m) } });
         // Alive until the verdict comes: the thread itself keeps nothing alive.
         const waiting = setInterval(() => undefined, 1000);
         console.log(await thread.probeOf({ kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 })());
         console.log(thread.onEventLoop ? 'on the event loop' : 'in the thread');
         clearInterval(waiting);`,
      );

      try {
        const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 10_000 });

        expect(run.signal, 'ended by itself').to.equal(null);
        expect(run.stderr).to.equal('');
        expect(run.stdout.trim().split('\n')).to.have.length(2);
        expect(run.stdout).to.match(/^dial tcp 127\.0\.0\.1:\d+: connection refused\nin the thread\n$/);
        expect(run.status).to.equal(0);
      } finally {
        removeDir(dir);
      }
    });
  });
});
