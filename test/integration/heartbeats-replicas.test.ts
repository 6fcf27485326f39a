/**
 * Heartbeats with replicas on one PostgreSQL database: beats taken by any replica, lapses judged
 * by the replica holding the jobs lease, and a takeover that neither repeats a raise nor loses one.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { CheckConfig } from '../../src/checks/check-config.js';
import request from 'supertest';
import { waitFor } from '../helpers/integration.js';
import { freshDatabase } from '../helpers/postgres.js';
import { leaseHolders, replicaGroup } from '../helpers/replicas.js';

const HEARTBEATS = '/v4/p/admin/heartbeats';
const ALARMS = '/v4/p/admin/alarms';

interface Entry {
  action: string;
  alarm: { id: string; source: string; count: number };
}

describe('heartbeats on replicas', function () {
  this.timeout(60_000);
  const replicas = replicaGroup();

  const statusOf = async (url: string, name: string): Promise<string | undefined> =>
    (await request(url).get(`${ALARMS}?id=HeartbeatMissing&source=${name}`).expect(200)).body.alarms[0]?.status as string | undefined;
  const changesOf = async (url: string, name: string): Promise<string[]> => {
    const res = await request(url).get(`${ALARMS}/history?id=HeartbeatMissing&source=${name}`).expect(200);
    return (res.body.history as Entry[]).map((e) => `${e.action} ${e.alarm.count}`);
  };

  it('raises each lapse once on the lease holder, beats taken anywhere, across a takeover', async function () {
    const db = await freshDatabase(this);
    const holder = await replicas.start(db);
    await waitFor('the first replica to take the jobs lease', async () => (await leaseHolders(db, 'jobs')).length === 1, 10_000);
    const other = await replicas.start(db);

    // Registered and beaten on the replica that does not judge.
    await request(other.url).put(`${HEARTBEATS}/job`).send({ timeoutSeconds: 1 }).expect(200);
    await request(other.url).put(`${HEARTBEATS}/job`).expect(200);
    await waitFor('the holder to raise the lapse', async () => (await statusOf(other.url, 'job')) === 'ACTIVATED', 10_000, 50);
    await request(other.url).put(`${HEARTBEATS}/job`).expect(200);
    expect(await statusOf(other.url, 'job')).to.equal('CLEARED');
    await waitFor('the holder to see the clear', async () => (await statusOf(holder.url, 'job')) === 'CLEARED', 10_000, 50);
    await waitFor('the lapse after the beat', async () => (await statusOf(other.url, 'job')) === 'ACTIVATED', 10_000, 50);

    // The holder goes; a heartbeat lapses while no replica judges.
    await holder.close();
    await request(other.url).put(`${HEARTBEATS}/gap`).send({ timeoutSeconds: 1 }).expect(200);

    await waitFor('the heir to raise the lapse of the gap', async () => (await statusOf(other.url, 'gap')) === 'ACTIVATED', 15_000, 50);
    expect(await changesOf(other.url, 'job')).to.deep.equal(['RAISE 1', 'CLEAR 1', 'RAISE 1']);
    expect(await changesOf(other.url, 'gap')).to.deep.equal(['RAISE 1']);
    await request(other.url).put(`${HEARTBEATS}/job`).expect(200);
    expect(await statusOf(other.url, 'job')).to.equal('CLEARED');
  });

  it('runs checks on the lease holder only: one raise, kept over a takeover, cleared by the heir', async function () {
    const db = await freshDatabase(this);
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const checks = [{ name: 'etcd', tcp: `127.0.0.1:${port}`, intervalSeconds: 0.05, failureThreshold: 2, project: 'p' }] as CheckConfig[];
    const holder = await replicas.start(db, { checks });
    await waitFor('the first replica to take the jobs lease', async () => (await leaseHolders(db, 'jobs')).length === 1, 10_000);
    const other = await replicas.start(db, { checks });
    const changes = async () => ((await request(other.url).get(`${ALARMS}/history?source=etcd`).expect(200)).body.history as Entry[]).map((e) => e.action);

    await waitFor('the raise', async () => (await changes()).length === 1, 10_000, 20);
    const running = async (url: string) => ((await request(url).get('/v4/p/admin/checks').expect(200)).body.checks[0] as { running: boolean }).running;
    expect([await running(holder.url), await running(other.url)]).to.deep.equal([true, false]);
    await holder.close();
    await waitFor('the heir to run the check', () => running(other.url), 15_000, 50);
    await waitFor('the heir to probe twice', async () => ((await request(other.url).get('/v4/p/admin/checks').expect(200)).body.checks[0] as { consecutiveFailures: number }).consecutiveFailures >= 3, 10_000, 20);

    expect(await changes()).to.deep.equal(['RAISE']);
    const listening = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    try {
      await waitFor('the heir to clear', async () => (await changes()).length === 2, 10_000, 20);
    } finally {
      await new Promise((resolve) => listening.close(resolve));
    }
    expect(await changes()).to.deep.equal(['RAISE', 'CLEAR']);
  });
});
