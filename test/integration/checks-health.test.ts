/**
 * What heartbeats and checks show beyond their alarms: cluster health answers that name the
 * alarms (and so the checks and heartbeats) making the cluster unhealthy, and their metrics,
 * checked by promtool.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { CheckConfig } from '../../src/checks/check-config.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, waitFor } from '../helpers/integration.js';
import { PROMTOOL, promtoolCheck, requirePrograms } from '../helpers/programs.js';
import { freePort } from '../helpers/pg-process.js';

/** The value of a sample line `name{labels} value` of a scrape. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('health answers and metrics of checks and heartbeats', () => {
  let server: RunningServer;
  let port: number;

  beforeEach(async () => {
    port = await freePort();
    const checks = [{ name: 'etcd', tcp: `127.0.0.1:${port}`, intervalSeconds: 0.02, failureThreshold: 1 }] as CheckConfig[];
    server = await startServer({ port: 0, dataDir: ':memory:', checks, unhealthyAlarmIds: ['BackendConnectionRefuse', 'HeartbeatMissing'] });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const refused = () => `dial tcp 127.0.0.1:${port}: connection refused`;
  const raisedByCheck = () =>
    waitFor('the check to raise', async () => (await api().get('/v4/default/admin/alarms?source=etcd').expect(200)).body.alarms.length === 1);

  it("names the failing check in service-center's health answer", async () => {
    await raisedByCheck();

    expectError(await api().get('/health'), '400002', `BackendConnectionRefuse/etcd: ${refused()}`);
    expectError(await api().get('/v4/default/registry/health'), '400002', `BackendConnectionRefuse/etcd: ${refused()}`);
  });

  it('names every alarm that makes the cluster unhealthy, a lapsed heartbeat among them, one per line with ?verbose', async () => {
    await raisedByCheck();
    await api().put('/v4/default/admin/heartbeats/backup').send({ timeoutSeconds: 1 }).expect(200);
    await api().post('/v4/default/admin/alarms').send({ id: 'BackendConnectionRefuse', source: 'db-1', fields: { detail: 'dial tcp 10.0.0.5:5432: i/o timeout' } }).expect(200);
    const lapsed = await waitFor(
      'the heartbeat to lapse',
      async () => (await api().get('/v4/default/admin/alarms?id=HeartbeatMissing').expect(200)).body.alarms[0] as { fields: { detail: string } } | undefined,
      5000,
      50,
    );

    const verbose = await api().get('/health?verbose').expect(400);
    const terse = await api().get('/health');

    const reasons = [
      `BackendConnectionRefuse/db-1: dial tcp 10.0.0.5:5432: i/o timeout`,
      `BackendConnectionRefuse/etcd: ${refused()}`,
      `HeartbeatMissing/backup: ${lapsed.fields.detail}`,
    ];
    expect(verbose.headers['content-type']).to.match(/^text\/plain/);
    expect(verbose.text.split('\n').slice(0, -2).sort()).to.deep.equal(reasons.map((r) => `[-]alarms failed: ${r}`).sort());
    expect(verbose.text.endsWith('cluster check failed\n')).to.equal(true);
    expect(terse.body.detail.split('; ').sort()).to.deep.equal([...reasons].sort());
  });

  it('answers the verbose list with 200 while healthy', async () => {
    const healthy = await startServer({ port: 0, dataDir: ':memory:' });
    try {
      const res = await request(healthy.url).get('/v4/p/registry/health?verbose').expect(200);
      expect(res.text).to.equal('[+]alarms ok\ncluster check passed\n');
    } finally {
      await healthy.close();
    }
  });

  it('exposes up, duration and consecutive failures per check and the time since the last beat per heartbeat, promtool-clean', async function () {
    requirePrograms(this, [PROMTOOL]);
    await api().put('/v4/default/admin/heartbeats/backup').send({ timeoutSeconds: 3600 }).expect(200);
    await waitFor('two failed probes', async () => (sample((await api().get('/metrics')).text, 'alarm_center_check_consecutive_failures{check="etcd"}') ?? 0) >= 2);

    const { text } = await api().get('/metrics').expect(200);

    expect(sample(text, 'alarm_center_check_up{check="etcd"}')).to.equal(0);
    expect(sample(text, 'alarm_center_check_duration_seconds{check="etcd"}')).to.be.a('number').at.least(0);
    expect(sample(text, 'alarm_center_heartbeat_since_last_beat_seconds{domain="default",project="default",heartbeat="backup"}')).to.be.a('number').at.least(0);
    expect(sample(text, 'alarm_center_check_alarm_write_errors_total{job="checks"}')).to.equal(0);
    const families = /alarm_center_(check|heartbeat)_/;
    const ours = text.split('\n').filter((l) => families.test(l)).join('\n');
    const { code, output } = await promtoolCheck(`${ours}\n`);
    expect(output.trim(), 'promtool findings').to.equal('');
    expect(code).to.equal(0);
  });
});
