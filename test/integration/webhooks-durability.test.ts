/**
 * What durable webhooks keep over failures: a kill -9 of Alarm Center in the middle of
 * deliveries, and, with replicas on PostgreSQL, the replica holding the jobs lease stopped. In
 * both, the receiver gets every change at least once, none skipped, each first arrival in
 * revision order.
 */
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import type { RunningServer } from '../../src/root.js';
import { binGroup, postJson } from '../helpers/bin.js';
import { waitFor } from '../helpers/integration.js';
import { freshDatabase } from '../helpers/postgres.js';
import { leaseHolders, replicaGroup } from '../helpers/replicas.js';
import { Receiver, type Arrival } from '../helpers/webhook-receiver.js';

/** The revisions in order of their first arrival. */
function firstArrivals(arrivals: readonly Arrival[]): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const a of arrivals) {
    if (seen.has(a.revision)) continue;
    seen.add(a.revision);
    order.push(a.revision);
  }
  return order;
}

/** Asserts that revisions 1..n all arrived, nothing else did, and each first arrival came in revision order. */
function expectEveryChangeOnce(arrivals: readonly Arrival[], n: number, context: string): void {
  const order = firstArrivals(arrivals);
  expect(order, `${context}: first arrivals in revision order`).to.deep.equal([...order].sort((a, b) => a - b));
  expect(order, `${context}: every revision 1..${n}`).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1));
}

describe('durable webhooks over failures', function () {
  this.timeout(60_000);
  let receiver: Receiver;

  beforeEach(async () => {
    receiver = await Receiver.start();
  });

  afterEach(() => receiver.close());

  describe('a kill -9 in the middle of deliveries', () => {
    const bins = binGroup('webhooks-crash');

    it('sends every change after the restart: none skipped, each first arrival in revision order', async () => {
      const dir = bins.dataDir();
      const config = path.join(dir, 'config.json');
      fs.writeFileSync(config, JSON.stringify({ webhooks: [{ name: 'crash', url: receiver.url() }] }));
      const args = ['--port', '0', '--data-dir', dir, '--config', config];
      const bin = bins.run(args);
      const url = `${await bin.url()}/v4/crash/admin/alarms`;
      // A random moment: once the receiver got somewhere between 20 and 120 changes.
      const killAfter = 20 + Math.floor(Math.random() * 100);
      receiver.react = () => {
        if (receiver.arrivals.length === killAfter) bin.child.kill('SIGKILL');
        return 200;
      };
      const agent = new http.Agent({ keepAlive: true });
      try {
        for (let i = 0; ; i += 1) {
          const body = i % 3 === 2 ? { id: `A${i % 10}`, status: 'CLEARED' } : { id: `A${i % 10}`, fields: { detail: `raise ${i}` } };
          const res = await postJson(agent, url, body).catch(() => undefined);
          if (res?.status !== 200) break;
        }
      } finally {
        agent.destroy();
      }
      await bin.exited;
      expect(bin.signal, `killed after ${killAfter} deliveries`).to.equal('SIGKILL');
      const before = receiver.arrivals.length;

      const again = bins.run(args);
      const base = await again.url();
      const revision = (await request(base).get('/v4/crash/admin/alarms').expect(200)).body.revision as number;
      expect(revision, 'changes were committed after the last delivery').to.be.greaterThan(0);
      await waitFor(`every revision up to ${revision}`, () => new Set(receiver.arrivals.map((a) => a.revision)).size >= revision, 30_000, 20);
      expect(receiver.arrivals.length).to.be.greaterThan(before);
      expectEveryChangeOnce(receiver.arrivals, revision, `killed after ${killAfter} deliveries`);
      for (const a of receiver.arrivals) expect(a.headers['idempotency-key']).to.equal(`crash-${a.json.revision as number}`);
    });
  });

  describe('replicas on PostgreSQL', () => {
    const replicas = replicaGroup();
    const write = (s: RunningServer, i: number) => request(s.url).post('/v4/p/admin/alarms').send({ id: `R${i}` }).expect(200);
    const delivering = async (s: RunningServer) => ((await request(s.url).get('/v4/p/admin/webhooks').expect(200)).body.webhooks[0].delivering as boolean);

    it('delivers from the lease holder only, and from the other replica, resuming at the cursor, once the holder stops', async function () {
      const db = await freshDatabase(this);
      const webhooks = [{ name: 'shared', url: receiver.url(), format: 'alarm' as const, sendResolved: true, timeoutSeconds: 10, maxAttempts: 10 }];
      const first = await replicas.start(db, { webhooks });
      await waitFor('the first replica to take the jobs lease', async () => (await leaseHolders(db, 'jobs')).length === 1, 10_000, 20);
      const second = await replicas.start(db, { webhooks });
      expect([await delivering(first), await delivering(second)]).to.deep.equal([true, false]);

      // Writes on both replicas; the holder delivers the other's too, each once.
      for (let i = 1; i <= 10; i += 1) await write(i % 2 === 0 ? first : second, i);
      await receiver.waitForCount('/hook', 10, 15_000);
      expect(receiver.arrivals.map((a) => a.revision)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 1));

      // The holder stops with a delivery hanging; the other takes over from the cursor.
      receiver.react = () => 'hang';
      await write(first, 11);
      await receiver.waitForCount('/hook', 11, 15_000);
      receiver.react = () => 200;
      await first.close();
      for (let i = 12; i <= 20; i += 1) await write(second, i);
      await waitFor('the survivor to deliver revision 20', () => receiver.arrivals.some((a) => a.revision === 20), 20_000, 20);
      expect(await delivering(second)).to.equal(true);
      expectEveryChangeOnce(receiver.arrivals, 20, 'after the take-over');
      expect(receiver.arrivals.filter((a) => a.revision <= 10), 'delivered once before the take-over').to.have.length(10);
    });
  });
});
