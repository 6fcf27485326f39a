/**
 * Durable webhooks over HTTP, against receivers on loopback: which changes each webhook gets and
 * in what order, both body formats, the signature and Idempotency-Key, the retry policy and dead
 * letters, isolation from a receiver that hangs, and the admin routes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { expect } from 'chai';
import request from 'supertest';
import winston from 'winston';
import { z } from 'zod';
import type { Config } from '../../src/config.js';
import { labelFingerprint } from '../../src/intake/labels.js';
import { NotifyThread } from '../../src/notify/notify-thread.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { LogCapture } from '../helpers/differential.js';
import { removeDir, tempDir, waitFor } from '../helpers/integration.js';
import { Receiver, type Arrival } from '../helpers/webhook-receiver.js';

type Hook = NonNullable<Config['webhooks']>[number];
type HookInput = Partial<Hook> & { name: string; url: string };

/** Alertmanager's webhook body as its docs and `template.Data` define it (notify/webhook `Message`). */
const KV = z.record(z.string(), z.string());
const RFC3339 = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
const AlertmanagerAlert = z.strictObject({
  status: z.enum(['firing', 'resolved']),
  labels: KV,
  annotations: KV,
  startsAt: RFC3339,
  endsAt: RFC3339,
  generatorURL: z.string(),
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
});
const AlertmanagerWebhook = z.strictObject({
  version: z.literal('4'),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().min(0),
  receiver: z.string(),
  status: z.enum(['firing', 'resolved']),
  alerts: z.array(AlertmanagerAlert).min(1),
  groupLabels: KV,
  commonLabels: KV,
  commonAnnotations: KV,
  externalURL: z.string(),
});

const revisions = (arrivals: readonly Arrival[]) => arrivals.map((a) => a.revision);

/** Where the deliveries run: on the event loop (a database in memory), or in the notifications thread (a database file). */
const MODES = [
  { name: 'on the event loop', thread: false },
  { name: 'by the notifications thread', thread: true },
] as const;

for (const mode of MODES)
describe(`durable webhooks, delivered ${mode.name}`, function () {
  this.timeout(30_000);
  let receiver: Receiver;
  let server: RunningServer | undefined;
  let logs: LogCapture;
  let dir: string | undefined;

  beforeEach(async () => {
    receiver = await Receiver.start();
    logs = new LogCapture();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await receiver.close();
    if (dir !== undefined) removeDir(dir);
    dir = undefined;
  });

  async function start(hooks: HookInput[], settings: Partial<Config> = {}): Promise<RunningServer> {
    const logger = winston.createLogger({ level: 'debug', transports: [logs] });
    dir = mode.thread ? tempDir('webhooks') : undefined;
    server = await startServer({ port: 0, dataDir: dir ?? ':memory:', webhooks: hooks as Hook[], ...settings }, { logger });
    expect(server.parts.webhooks instanceof NotifyThread).to.equal(mode.thread);
    return server;
  }

  /** Raises (or clears, with status CLEARED) in `project`; answers the change's revision. */
  async function write(project: string, body: Record<string, unknown>): Promise<number> {
    const res = await request((server as RunningServer).url).post(`/v4/${project}/admin/alarms`).send(body).expect(200);
    return res.body.revision as number;
  }


  describe('what is sent', () => {
    it('posts each change once, in revision order, to each webhook exactly the changes its match takes', async () => {
      await start([
        { name: 'all', url: receiver.url('/all') },
        { name: 'p1', url: receiver.url('/p1'), match: { project: 'p1' } },
        { name: 'ab', url: receiver.url('/ab'), match: { id: ['A', 'B'] } },
        { name: 'severe', url: receiver.url('/severe'), match: { minSeverity: 'major' } },
      ]);
      const r1 = await write('p1', { id: 'A', severity: 'major' });
      const r2 = await write('p2', { id: 'B', severity: 'critical' });
      const r3 = await write('p1', { id: 'C', severity: 'warning' });
      const r4 = await write('p1', { id: 'A', status: 'CLEARED' });
      const ack = await request((server as RunningServer).url).post('/v4/p2/admin/alarms/B/ack').send({ by: 'ops' }).expect(200);
      const r5 = ack.body.alarm.revision as number;
      const r6 = await write('p1', { id: 'C', severity: 'critical' });
      // A last change every webhook takes: once it arrived, everything before it did.
      const last = await write('p1', { id: 'A', severity: 'critical' });
      const expected: Record<string, number[]> = {
        '/all': [r1, r2, r3, r4, r5, r6, last],
        '/p1': [r1, r3, r4, r6, last],
        '/ab': [r1, r2, r4, r5, last],
        '/severe': [r1, r2, r4, r5, r6, last],
      };
      for (const [path, want] of Object.entries(expected)) {
        await waitFor(`${path} to get revision ${last}`, () => receiver.at(path).some((a) => a.revision === last));
        expect(revisions(receiver.at(path)), path).to.deep.equal(want);
      }
    });

    it('sends in the alarm format the history entry exactly as the history route answers it, keyed by webhook and revision', async () => {
      await start([{ name: 'hook-1', url: receiver.url() }]);
      await write('p1', { id: 'A', fields: { detail: 'disk full' } });
      await write('p1', { id: 'A', status: 'CLEARED' });
      const arrivals = await receiver.waitForCount('/hook', 2);
      const history = await request((server as RunningServer).url).get('/v4/p1/admin/alarms/history').expect(200);
      expect(arrivals.map((a) => a.json)).to.deep.equal(history.body.history);
      expect(arrivals.map((a) => a.headers['idempotency-key'])).to.deep.equal(['hook-1-1', 'hook-1-2']);
      for (const a of arrivals) expect(a.headers['content-type']).to.equal('application/json');
    });

    it('signs each body with the secret and adds the configured headers', async () => {
      const secret = 'webhook-secret-7f3a';
      await start([{ name: 'signed', url: receiver.url(), secret, headers: { 'X-Team': 'storage' } }]);
      await write('p1', { id: 'A' });
      const [arrival] = await receiver.waitForCount('/hook', 1);
      const a = arrival as Arrival;
      // The README's verification, as a receiver writes it.
      const expectedSig = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(a.raw).digest('hex')}`);
      const given = Buffer.from(String(a.headers['x-alarm-center-signature']));
      expect(given.length === expectedSig.length && crypto.timingSafeEqual(given, expectedSig)).to.equal(true);
      expect(a.headers['x-team']).to.equal('storage');
    });

    it('sends no clears or expiries with sendResolved false', async () => {
      await start([{ name: 'firing', url: receiver.url(), sendResolved: false }]);
      await write('p1', { id: 'A' });
      await write('p1', { id: 'A', status: 'CLEARED' });
      const last = await write('p1', { id: 'B' });
      await waitFor('the last raise', () => receiver.at('/hook').some((a) => a.revision === last));
      expect(revisions(receiver.at('/hook'))).to.deep.equal([1, last]);
    });

    it("sends in the alertmanager format Alertmanager's webhook body, one alert per change, labels and fingerprint as Alertmanager's", async () => {
      const s = await start([{ name: 'am', url: receiver.url(), format: 'alertmanager' }]);
      const fields = { detail: 'node down', labels: { alertname: 'NodeDown', job: 'node', instance: 'h1:9100' }, annotations: { runbook: 'https://runbooks/node' }, generatorURL: 'http://prom/graph' };
      await write('p1', { id: 'NodeDown', source: 'h1', severity: 'critical', fields });
      await write('p1', { id: 'NodeDown', source: 'h1', status: 'CLEARED' });
      const [firing, resolved] = (await receiver.waitForCount('/hook', 2)).map((a) => AlertmanagerWebhook.parse(a.json));
      const labels = { alertname: 'NodeDown', source: 'h1', domain: 'default', project: 'p1', severity: 'critical', job: 'node', instance: 'h1:9100' };
      expect(firing).to.include({ receiver: 'am', status: 'firing', version: '4', externalURL: s.url, truncatedAlerts: 0 });
      expect(firing?.alerts).to.have.length(1);
      expect(firing?.alerts[0]).to.deep.include({ status: 'firing', labels, endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prom/graph', fingerprint: labelFingerprint(labels) });
      expect(firing?.alerts[0]?.annotations).to.deep.equal({ summary: 'node down', runbook: 'https://runbooks/node' });
      expect(firing?.commonLabels).to.deep.equal(labels);
      expect(resolved?.status).to.equal('resolved');
      expect(resolved?.alerts[0]?.fingerprint).to.equal(firing?.alerts[0]?.fingerprint);
      expect(Date.parse(resolved?.alerts[0]?.endsAt ?? '')).to.be.greaterThan(0);
    });

    it("is taken unchanged by a receiver of Alertmanager's webhook: another Alarm Center mirrors the alarm", async () => {
      const mirror = await startServer({ port: 0, dataDir: ':memory:' });
      try {
        await start([{ name: 'mirror', url: `${mirror.url}/v4/mirrored/integrations/alertmanager`, format: 'alertmanager' }]);
        await write('p1', { id: 'DiskFull', source: 'h2', severity: 'major' });
        const list = async () => (await request(mirror.url).get('/v4/mirrored/admin/alarms').expect(200)).body.alarms as { id: string; status: string }[];
        await waitFor('the mirrored raise', async () => (await list()).some((a) => a.id === 'DiskFull' && a.status === 'ACTIVATED'), 10_000, 20);
        await write('p1', { id: 'DiskFull', source: 'h2', status: 'CLEARED' });
        await waitFor('the mirrored clear', async () => (await list()).some((a) => a.id === 'DiskFull' && a.status === 'CLEARED'), 10_000, 20);
      } finally {
        await mirror.close();
      }
    });
  });

  describe('retries and dead letters', () => {
    const failed = (name: string, project = 'p1') => request((server as RunningServer).url).get(`/v4/${project}/admin/webhooks/${name}/failed`).expect(200);

    it('tries a change again after a 500 until a 2xx, then goes on', async () => {
      await start([{ name: 'flaky', url: receiver.url() }]);
      receiver.react = (a, n) => (n <= 2 ? 500 : 200);
      await write('p1', { id: 'A' });
      await write('p1', { id: 'B' });
      const arrivals = await receiver.waitForCount('/hook', 4);
      expect(revisions(arrivals)).to.deep.equal([1, 1, 1, 2]);
      expect((await failed('flaky')).body).to.deep.equal({ failures: [], total: 0 });
    });

    it('tries a change again after a timeout', async () => {
      await start([{ name: 'slow', url: receiver.url(), timeoutSeconds: 1 }]);
      receiver.react = (a, n) => (n === 1 ? 'hang' : 200);
      await write('p1', { id: 'A' });
      const arrivals = await receiver.waitForCount('/hook', 2);
      expect(revisions(arrivals)).to.deep.equal([1, 1]);
      await waitFor('the cursor to pass it', async () => (await request((server as RunningServer).url).get('/v4/p1/admin/webhooks')).body.webhooks[0].cursor === 1);
    });

    it('waits as long as a 429 Retry-After says', async () => {
      await start([{ name: 'limited', url: receiver.url() }]);
      receiver.react = (a, n) => (n === 1 ? { status: 429, headers: { 'Retry-After': '2' } } : 200);
      await write('p1', { id: 'A' });
      const [first, second] = await receiver.waitForCount('/hook', 2);
      // Without Retry-After the first retry comes within the backoff's first second.
      expect((second as Arrival).at - (first as Arrival).at).to.be.at.least(1900);
    });

    it('makes a dead letter of a change answered 400 at once, without retrying, and goes on', async () => {
      await start([{ name: 'picky', url: receiver.url() }]);
      receiver.react = (a) => (a.revision === 1 ? 400 : 200);
      await write('p1', { id: 'A' });
      await write('p1', { id: 'B' });
      const arrivals = await receiver.waitForCount('/hook', 2);
      expect(revisions(arrivals)).to.deep.equal([1, 2]);
      const body = (await failed('picky')).body;
      expect(body.total).to.equal(1);
      expect(body.failures[0]).to.deep.include({ revision: 1, action: 'RAISE', attempts: 1, lastError: 'HTTP 400', queued: false });
      expect(body.failures[0].alarm).to.deep.equal({ domain: 'default', project: 'p1', id: 'A', source: '' });
      expect(Date.parse(body.failures[0].failedAt)).to.be.greaterThan(0);
    });

    it('makes a dead letter after maxAttempts, and sends it again when asked', async () => {
      await start([{ name: 'down', url: receiver.url(), maxAttempts: 2 }]);
      receiver.react = () => 503;
      await write('p1', { id: 'A' });
      await waitFor('the dead letter', async () => (await failed('down')).body.total === 1, 10_000, 20);
      expect((await failed('down')).body.failures[0]).to.deep.include({ revision: 1, attempts: 2, lastError: 'HTTP 503' });
      // Another project's dead letters are not this one's.
      expect((await failed('down', 'p2')).body).to.deep.equal({ failures: [], total: 0 });
      const other = await request((server as RunningServer).url).post('/v4/p2/admin/webhooks/down/failed').send({}).expect(200);
      expect(other.body).to.deep.equal({ queued: 0 });

      receiver.react = () => 200;
      const retried = await request((server as RunningServer).url).post('/v4/p1/admin/webhooks/down/failed').send({ revisions: [1] }).expect(200);
      expect(retried.body).to.deep.equal({ queued: 1 });
      const arrivals = await receiver.waitForCount('/hook', 3);
      expect(arrivals.map((a) => a.headers['idempotency-key'])).to.deep.equal(['down-1', 'down-1', 'down-1']);
      await waitFor('the dead letter to go', async () => (await failed('down')).body.total === 0, 10_000, 20);
    });

    it('answers 404002 for a webhook that is not configured, and 400001 naming a bad field', async () => {
      await start([{ name: 'known', url: receiver.url() }]);
      const url = (server as RunningServer).url;
      const missing = await request(url).get('/v4/p1/admin/webhooks/nope/failed').expect(404);
      expect(missing.body.errorCode).to.equal('404002');
      const bad = await request(url).post('/v4/p1/admin/webhooks/known/failed').send({ revisions: ['x'] }).expect(400);
      expect(bad.body.detail).to.match(/^body\.revisions\.0: /);
      const limit = await request(url).get('/v4/p1/admin/webhooks/known/failed?limit=0').expect(400);
      expect(limit.body.detail).to.match(/^query\.limit: /);
    });
  });

  describe('isolation', () => {
    it('delivers to one webhook while another one’s receiver never answers', async () => {
      await start([
        { name: 'stuck', url: receiver.url('/stuck'), timeoutSeconds: 600 },
        { name: 'live', url: receiver.url('/live') },
      ]);
      receiver.react = (a) => (a.path === '/stuck' ? 'hang' : 200);
      const written: number[] = [];
      for (let i = 0; i < 20; i += 1) written.push(await write('p1', { id: `A${i}` }));
      const live = await receiver.waitForCount('/live', 20, 5000);
      expect(revisions(live)).to.deep.equal(written);
      expect(revisions(receiver.at('/stuck'))).to.deep.equal([1]);
    });
  });

  describe('GET …/admin/webhooks', () => {
    it('shows each webhook’s cursor, lag and last error, and never its secret, credentials or header values', async () => {
      const secrets = ['s3cret-signing-key', 'p4ssw0rd-in-url', 'h3ader-token-value'];
      const url = receiver.url('/x').replace('http://', `http://user:${secrets[1]}@`);
      await start([
        { name: 'broken', url, secret: secrets[0], headers: { Authorization: `Bearer ${secrets[2]}` }, maxAttempts: 100 },
        { name: 'fine', url: receiver.url('/fine'), format: 'alertmanager' },
      ]);
      receiver.react = (a) => (a.path === '/x' ? 500 : 200);
      await write('p1', { id: 'A' });
      await write('p1', { id: 'B' });
      await receiver.waitForCount('/fine', 2);
      const list = async () => (await request((server as RunningServer).url).get('/v4/any/admin/webhooks').expect(200)).body;
      const answer = await waitFor('the failed attempt', async () => {
        const body = await list();
        return body.webhooks[0].lastError ? body : undefined;
      });
      const [broken, fine] = answer.webhooks;
      expect(broken).to.deep.include({ name: 'broken', url: receiver.url('/x'), format: 'alarm', cursor: 0, lag: 2, delivering: true, lastError: 'HTTP 500', deadLetters: 0 });
      expect(Date.parse(broken.lastErrorAt)).to.be.greaterThan(0);
      expect(broken).to.not.have.property('lastSuccessAt');
      expect(fine).to.deep.include({ name: 'fine', format: 'alertmanager', cursor: 2, lag: 0, deadLetters: 0 });
      expect(Date.parse(fine.lastSuccessAt)).to.be.greaterThan(0);
      expect(fine).to.not.have.property('lastError');
      const metrics = (await request((server as RunningServer).url).get('/metrics').expect(200)).text;
      expect(metrics).to.match(/alarm_center_webhook_deliveries_total\{webhook="broken",outcome="retry"\} [1-9]/);
      expect(metrics).to.match(/alarm_center_webhook_lag_revisions\{webhook="broken"\} 2/);
      const seen = [JSON.stringify(answer), JSON.stringify(logs.entries), metrics];
      for (const text of seen) for (const s of secrets) expect(text).to.not.contain(s);
    });
  });
});

describe('the notifications thread', function () {
  this.timeout(30_000);
  let receiver: Receiver;
  let server: RunningServer | undefined;
  let dir: string;
  const logs = new LogCapture();

  beforeEach(async () => {
    receiver = await Receiver.start();
    dir = tempDir('webhook-thread');
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await receiver.close();
    removeDir(dir);
  });

  async function start(settings: Partial<Config> = {}): Promise<RunningServer> {
    const logger = winston.createLogger({ level: 'debug', transports: [logs] });
    server = await startServer({ port: 0, dataDir: dir, webhooks: [{ name: 'hook', url: receiver.url() }] as Hook[], ...settings }, { logger });
    return server;
  }

  const write = async (id: string) => (await request((server as RunningServer).url).post('/v4/p1/admin/alarms').send({ id }).expect(200)).body.revision as number;
  const metric = async (name: string) => {
    const text = (await request((server as RunningServer).url).get('/metrics').expect(200)).text;
    return text.split('\n').find((l) => l.startsWith(`${name} `));
  };

  it('is started again when it ends unasked, counted and logged, and sends every change from its cursor', async () => {
    await start();
    await write('A');
    await receiver.waitForCount('/hook', 1);
    // Ends the thread as a crash in it would.
    await ((server as RunningServer).parts.webhooks as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await write('B');
    await write('C');
    await waitFor('changes 2 and 3', () => new Set(revisions(receiver.at('/hook'))).size === 3, 10_000);
    // At least once: A may come again when the thread ended between its arrival and its 2xx.
    expect([...new Set(revisions(receiver.at('/hook')))]).to.deep.equal([1, 2, 3]);
    expect(await metric('alarm_center_notify_thread_failures_total')).to.equal('alarm_center_notify_thread_failures_total 1');
    expect(logs.entries.some((e) => e.message === 'notifications thread ended; starting it again' && e.level === 'error')).to.equal(true);
  });

  /** The nice values of this process's threads (Linux). */
  const niceValues = (): number[] =>
    fs.readdirSync('/proc/self/task').flatMap((task) => {
      try {
        // The fields after the command's closing parenthesis; nice is the 19th field of the line.
        return [Number(fs.readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]?.split(' ')[16])];
      } catch {
        return [];
      }
    });

  it('runs at the nice value notifyNice gives it, on Linux, leaving the process at its own', async function () {
    if (process.platform !== 'linux') this.skip();
    const before = niceValues().filter((n) => n === 7).length;
    await start({ notifyNice: 7 });
    await write('A');
    await receiver.waitForCount('/hook', 1);
    expect(niceValues().filter((n) => n === 7).length).to.equal(before + 1);
    expect(os.getPriority()).to.equal(0);
  });
});
