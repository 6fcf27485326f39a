/**
 * Active checks against targets the tests start and stop on loopback: a raise after exactly the
 * failure threshold, a clear after the success threshold, the alarm's detail as a person reads
 * it, no probe overlapping the last one of its check, and a hanging target delaying no other.
 * Each target holds every request until the test answers it, so the order of probes and
 * decisions is the test's, not a clock's.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import type { CheckConfig } from '../../src/checks/check-config.js';
import type { Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { waitFor } from '../helpers/integration.js';
import { freePort } from '../helpers/pg-process.js';

type CheckInput = Partial<CheckConfig> & { name: string };

interface AlarmJson {
  id: string;
  source: string;
  status: 'ACTIVATED' | 'CLEARED';
  count: number;
  fields: Record<string, unknown>;
}

/** An HTTP target holding each request until the test answers it. */
class HeldTarget {
  readonly server = http.createServer((req, res) => {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => (this.inFlight -= 1));
    this.received.push(res);
  });
  readonly received: http.ServerResponse[] = [];
  inFlight = 0;
  maxInFlight = 0;

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/health`;
  }

  /** The `n`th request (from 1), once it has arrived. */
  nth(n: number): Promise<http.ServerResponse> {
    return waitFor(`request ${n} at the target`, () => this.received[n - 1]);
  }

  /** Answers the `n`th request with `status` once it has arrived. */
  async answer(n: number, status: number, body = ''): Promise<void> {
    (await this.nth(n)).writeHead(status, { 'content-type': 'text/plain' }).end(body);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('active checks', () => {
  let server: RunningServer | undefined;
  const targets: HeldTarget[] = [];

  afterEach(async () => {
    await server?.close();
    server = undefined;
    for (const t of targets.splice(0)) await t.close();
  });

  async function start(checks: CheckInput[], settings: Partial<Config> = {}): Promise<void> {
    server = await startServer({ port: 0, dataDir: ':memory:', checks: checks as CheckConfig[], ...settings });
  }

  async function target(): Promise<{ t: HeldTarget; url: string }> {
    const t = new HeldTarget();
    targets.push(t);
    return { t, url: await t.listen() };
  }

  const api = () => request((server as RunningServer).url);
  const alarmOf = async (name: string): Promise<AlarmJson | undefined> => {
    const res = await api().get(`/v4/default/admin/alarms?id=BackendConnectionRefuse&source=${name}`).expect(200);
    return (res.body as { alarms: AlarmJson[] }).alarms[0];
  };

  it('raises after exactly the failure threshold and clears after the success threshold', async () => {
    const { t, url } = await target();
    await start([{ name: 'registry', http: url, intervalSeconds: 0.01, failureThreshold: 3, successThreshold: 2 }]);

    // Each probe is decided before the next one is sent: what request n+1 finds is the verdict of request n.
    await t.answer(1, 503);
    await t.nth(2);
    expect(await alarmOf('registry')).to.equal(undefined);
    await t.answer(2, 503);
    await t.nth(3);
    expect(await alarmOf('registry')).to.equal(undefined);
    await t.answer(3, 503);
    await t.nth(4);
    const raised = await alarmOf('registry');
    expect(raised).to.deep.include({ status: 'ACTIVATED', count: 1 });
    expect(raised?.fields).to.deep.equal({ detail: `HTTP 503 from ${url}`, target: `GET ${url}` });

    await t.answer(4, 503);
    await t.answer(5, 200);
    await t.nth(6);
    expect(await alarmOf('registry')).to.deep.include({ status: 'ACTIVATED', count: 1 });
    await t.answer(6, 200);
    await t.nth(7);
    expect(await alarmOf('registry')).to.deep.include({ status: 'CLEARED' });
  });

  it('raises for a refused TCP connection, and clears once the port listens', async () => {
    const port = await freePort();
    await start([{ name: 'etcd', tcp: `127.0.0.1:${port}`, intervalSeconds: 0.02, failureThreshold: 2, successThreshold: 1 }]);

    const raised = await waitFor('the refused port to raise', () => alarmOf('etcd'));

    expect(raised.fields.detail).to.equal(`dial tcp 127.0.0.1:${port}: connection refused`);
    const listening = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    try {
      await waitFor('the listening port to clear', async () => (await alarmOf('etcd'))?.status === 'CLEARED');
    } finally {
      await new Promise((resolve) => listening.close(resolve));
    }
  });

  it('names the expected body text an answer lacks', async () => {
    const { t, url } = await target();
    await start([{ name: 'api', http: url, bodyContains: 'UP', intervalSeconds: 0.01, failureThreshold: 1 }]);

    await t.answer(1, 200, '{"status":"DOWN"}');
    await t.nth(2);

    expect((await alarmOf('api'))?.fields.detail).to.equal(`HTTP 200 from ${url} without "UP" in its body`);
  });

  it('times out a target that never answers, without sending the next probe before', async () => {
    const { t, url } = await target();
    await start([{ name: 'stuck', http: url, intervalSeconds: 0.01, timeoutSeconds: 0.3, failureThreshold: 1 }]);

    const raised = await waitFor('the timeout to raise', () => alarmOf('stuck'));

    expect(raised.fields.detail).to.equal(`GET ${url}: timeout after 0.3 s`);
    // Thirty intervals went by while the first probe waited: none of them sent another.
    expect(t.maxInFlight).to.equal(1);
    await t.nth(2);
    expect(t.maxInFlight).to.equal(1);
  });

  it('keeps probing another target on time while one hangs', async () => {
    const hanging = await target();
    const fast = await target();
    await start([
      { name: 'hanging', http: hanging.url, intervalSeconds: 0.01, timeoutSeconds: 600, failureThreshold: 1 },
      { name: 'fast', http: fast.url, intervalSeconds: 0.01, failureThreshold: 1 },
    ]);

    await hanging.t.nth(1);
    for (let n = 1; n <= 5; n += 1) await fast.t.answer(n, 200);
    await fast.t.nth(6);

    expect(hanging.t.received).to.have.length(1);
    expect(await alarmOf('fast')).to.equal(undefined);
  });

  it('lists the checks of a project with their counts and last error, URLs without credentials', async () => {
    const port = await freePort();
    const { t, url } = await target();
    await start([
      { name: 'db', tcp: `127.0.0.1:${port}`, intervalSeconds: 0.02, failureThreshold: 1 },
      { name: 'web', http: url.replace('http://', 'http://user:secret@'), intervalSeconds: 60, project: 'shop' },
    ]);
    await waitFor('db to raise', () => alarmOf('db'));
    await t.answer(1, 200);

    const res = await api().get('/v4/default/admin/checks').expect(200);
    const [db] = (res.body as { checks: Record<string, unknown>[] }).checks;
    expect(res.body.checks).to.have.length(1);
    expect(db).to.deep.include({ name: 'db', tcp: `127.0.0.1:${port}`, running: true, raised: true, lastError: `dial tcp 127.0.0.1:${port}: connection refused` });
    expect(db?.consecutiveFailures).to.be.at.least(1);
    const shop = await waitFor('web to have run', async () => {
      const checks = (await api().get('/v4/shop/admin/checks').expect(200)).body.checks as Record<string, unknown>[];
      return checks[0]?.lastRunAt === undefined ? undefined : checks[0];
    });
    expect(shop).to.deep.include({ name: 'web', http: url, expectStatus: '200-399', raised: false, consecutiveSuccesses: 1 });
    expect(JSON.stringify(res.body) + JSON.stringify(shop)).to.not.contain('secret');
  });
});
