import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { PROMTOOL, promtoolCheck, requirePrograms } from '../helpers/programs.js';
import { WsClient } from '../helpers/watch.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  const found = samples.find(
    (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
  );
  return found?.value;
}

/** The declared type of a metric family (`# TYPE name type`). */
function typeOf(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
}

/**
 * promtool lint findings that are deliberate: the bus metrics keep service-center's names
 * (`notify_pending_total` and `notify_subscriber_total` are gauges, latencies are in
 * microseconds), and prom-client's default Node.js gauges end in `_total`.
 */
const LINT_EXCEPTIONS = [
  /^alarm_center_notify_(pending|subscriber)_total non-counter metrics should not have "_total" suffix$/,
  /^alarm_center_notify_(publish|pending)_durations_microseconds use base unit "seconds" instead of "microseconds"$/,
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
];

const ALARMS = '/v4/p/admin/alarms';

describe('GET /metrics', () => {
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const scrape = async () => {
    const res = await api().get('/metrics').expect(200);
    return { text: res.text, samples: parseSamples(res.text), type: res.headers['content-type'] as string };
  };

  it('answers the Prometheus text format', async () => {
    const { type, samples } = await scrape();

    expect(type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(samples.length).to.be.above(0);
  });

  it('counts ALARM events handled, growing with every raise', async () => {
    const before = valueOf((await scrape()).samples, 'alarm_center_notify_publish_total', { source: 'ALARM', status: 'SUCCESS' }) ?? 0;

    for (let i = 0; i < 3; i += 1) await api().post(ALARMS).send({ id: 'Counted', source: `s${i}` }).expect(200);

    const { text, samples } = await scrape();
    expect(typeOf(text, 'alarm_center_notify_publish_total')).to.equal('counter');
    expect(valueOf(samples, 'alarm_center_notify_publish_total', { source: 'ALARM', status: 'SUCCESS' })).to.equal(before + 3);
  });

  it('exposes the bus latency summaries, pending gauge, subscriber gauge and queue depth', async () => {
    await api().post(ALARMS).send({ id: 'A' }).expect(200);

    const { text, samples } = await scrape();

    expect(typeOf(text, 'alarm_center_notify_publish_durations_microseconds')).to.equal('summary');
    expect(valueOf(samples, 'alarm_center_notify_publish_durations_microseconds_count', { source: 'ALARM', status: 'SUCCESS' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_notify_publish_durations_microseconds', { source: 'ALARM', status: 'SUCCESS', quantile: '0.99' }))
      .to.be.a('number').that.is.at.least(0);
    expect(typeOf(text, 'alarm_center_notify_pending_total')).to.equal('gauge');
    expect(valueOf(samples, 'alarm_center_notify_pending_total', { source: 'ALARM' })).to.equal(0);
    expect(typeOf(text, 'alarm_center_notify_pending_durations_microseconds')).to.equal('summary');
    expect(valueOf(samples, 'alarm_center_notify_pending_durations_microseconds_count', { source: 'ALARM' })).to.equal(1);
    expect(typeOf(text, 'alarm_center_notify_subscriber_total')).to.equal('gauge');
    const subscribers = samples.filter((s) => s.name === 'alarm_center_notify_subscriber_total');
    expect(subscribers.reduce((n, s) => n + s.value, 0)).to.be.at.least(1);
    expect(typeOf(text, 'alarm_center_bus_queue_depth')).to.equal('gauge');
    expect(valueOf(samples, 'alarm_center_bus_queue_depth', { type: 'ALARM' })).to.equal(0);
  });

  it('counts alarms held by status and severity', async () => {
    await api()
      .post(ALARMS)
      .send({ alarms: [{ id: 'A', severity: 'major' }, { id: 'B', severity: 'major' }, { id: 'C', severity: 'minor' }, { id: 'D' }] })
      .expect(200);
    await api().delete(`${ALARMS}/C`).expect(200);
    await api().post('/v4/q/admin/alarms').send({ id: 'E', severity: 'critical' }).expect(200);

    const { text, samples } = await scrape();

    expect(typeOf(text, 'alarm_center_alarms')).to.equal('gauge');
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'ACTIVATED', severity: 'major' })).to.equal(2);
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'ACTIVATED', severity: 'indeterminate' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'ACTIVATED', severity: 'critical' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'CLEARED', severity: 'minor' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'ACTIVATED', severity: 'minor' }) ?? 0).to.equal(0);
  });

  it('counts committed changes by action', async () => {
    await api().post(ALARMS).send({ id: 'A' }).expect(200);
    await api().post(ALARMS).send({ id: 'A' }).expect(200);
    await api().post(ALARMS).send({ id: 'B' }).expect(200);
    await api().delete(`${ALARMS}/A`).expect(200);
    await api().delete(ALARMS).expect(200);

    const { text, samples } = await scrape();

    expect(typeOf(text, 'alarm_center_alarm_changes_total')).to.equal('counter');
    expect(valueOf(samples, 'alarm_center_alarm_changes_total', { action: 'raise' })).to.equal(2);
    expect(valueOf(samples, 'alarm_center_alarm_changes_total', { action: 'reraise' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_alarm_changes_total', { action: 'clear' })).to.equal(1);
    expect(valueOf(samples, 'alarm_center_alarm_changes_total', { action: 'clear-all' })).to.equal(2);
    expect(valueOf(samples, 'alarm_center_alarms', { status: 'ACTIVATED', severity: 'indeterminate' }) ?? 0).to.equal(0);
  });

  it('observes HTTP request durations by method, route template and status code', async () => {
    await api().post(ALARMS).send({ id: 'A' }).expect(200);
    await api().post(ALARMS).send({ id: 'A' }).expect(200);
    await api().post(ALARMS).send({ id: 'bad id' }).expect(400);
    await api().get('/nowhere').expect(404);

    const { text, samples } = await scrape();

    const name = 'alarm_center_http_request_duration_seconds';
    expect(typeOf(text, name)).to.equal('histogram');
    const post = { method: 'POST', route: '/v4/:project/admin/alarms' };
    expect(valueOf(samples, `${name}_count`, { ...post, status_code: '200' })).to.equal(2);
    expect(valueOf(samples, `${name}_count`, { ...post, status_code: '400' })).to.equal(1);
    expect(valueOf(samples, `${name}_bucket`, { ...post, status_code: '200', le: '+Inf' })).to.equal(2);
    const unmatched = samples.find((s) => s.name === `${name}_count` && s.labels.status_code === '404');
    expect(unmatched?.labels.route, 'an unmatched path is not a label value').not.to.equal('/nowhere');
  });

  it('observes WebSocket upgrades under the watch route, accepted (101) and refused', async () => {
    const ws = await WsClient.open(server.url, '/v4/p/admin/alarms/watch');
    ws.ws.terminate();
    const refused = await api().get('/v4/p/admin/alarms/watch?since=x').set({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(refused.status).to.equal(400);

    const { samples } = await scrape();
    const name = 'alarm_center_http_request_duration_seconds_count';
    const watch = { method: 'GET', route: '/v4/:project/admin/alarms/watch' };
    expect(valueOf(samples, name, { ...watch, status_code: '101' })).to.equal(1);
    expect(valueOf(samples, name, { ...watch, status_code: '400' })).to.equal(1);
  });

  it('includes the process default metrics', async () => {
    const { text, samples } = await scrape();

    expect(typeOf(text, 'process_cpu_user_seconds_total')).to.equal('counter');
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).to.be.a('number').that.is.at.least(0);
  });

  it('passes promtool check metrics, with no lint findings but the deliberate names', async function () {
    requirePrograms(this, [PROMTOOL]);
    await api().post(ALARMS).send({ id: 'A', severity: 'major' }).expect(200);
    await api().delete(`${ALARMS}/A`).expect(200);
    const { text } = await scrape();

    const { code, output } = await promtoolCheck(text);

    // promtool exits 1 when the text does not parse and 3 when it parses but has lint problems.
    // The only lint problems allowed are names kept on purpose (see LINT_EXCEPTIONS).
    const problems = output.split('\n').filter((l) => l.trim() !== '');
    const unexpected = problems.filter((p) => !LINT_EXCEPTIONS.some((allowed) => allowed.test(p)));
    expect(unexpected, `promtool check metrics (exit ${code}):\n${output}`).to.deep.equal([]);
    expect(code, `promtool check metrics:\n${output}`).to.equal(problems.length === 0 ? 0 : 3);
  });
});
