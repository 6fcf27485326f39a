/**
 * The intakes over HTTP, as their senders use them: Alertmanager's API v2 (Prometheus posts its
 * alerts there, amtool lists them), an Alertmanager webhook receiver, and PagerDuty's Events
 * API v2; each checked through what a user then sees in the alarm list, the history and watchers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import request from 'supertest';
import type { AlarmJson } from '../../src/alarm/model.js';
import type { Config } from '../../src/config.js';
import { hashToken, type TokenSpec } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, fillStore, removeDir, tempDir } from '../helpers/integration.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { WsClient, metricValue } from '../helpers/watch.js';
import { webhookBody } from '../helpers/intake-bodies.js';

const T0 = Date.parse('2026-11-23T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const DEFAULT = { domain: 'default', project: 'default' };
const P1 = { domain: 'default', project: 'p1' };
const AM_ALERTS = '/api/v2/alerts';
const WEBHOOK = '/v4/default/integrations/alertmanager';
const PAGERDUTY = '/v4/default/integrations/pagerduty';
const LIST = '/v4/default/admin/alarms';

/** What Prometheus posts for a firing alert. */
const alert = (labels: Record<string, string>, over: Record<string, unknown> = {}) => ({
  labels: { alertname: 'HostDown', ...labels },
  annotations: { summary: 'host is down', description: 'no scrape for 5m' },
  startsAt: '2026-11-23T11:55:00Z',
  endsAt: iso(T0 + 4 * 60_000),
  generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
  ...over,
});

const webhook = webhookBody;

/** A PagerDuty Events API v2 event. */
const event = (action: string, over: Record<string, unknown> = {}) => ({
  routing_key: 'R0UT1NGKEY',
  event_action: action,
  ...(action === 'trigger' && { payload: { summary: 'disk full on db-1', source: 'db-1', severity: 'critical' } }),
  ...over,
});

describe('intake API (Alertmanager, PagerDuty)', () => {
  let server: RunningServer;
  let clock: ManualClock;
  const clients: { close(): void }[] = [];

  async function start(settings: Partial<Config> = {}): Promise<void> {
    await server?.close();
    clock = new ManualClock(T0);
    server = await startServer({ port: 0, dataDir: ':memory:', resolveTimeoutSeconds: 120, ...settings }, { clock: clock.now });
  }

  beforeEach(() => start());

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
  });

  const api = () => request(server.url);
  const postAlerts = (body: unknown, path = AM_ALERTS) => api().post(path).send(body as object);
  const listed = async (path = LIST): Promise<AlarmJson[]> => ((await api().get(path).expect(200)).body as { alarms: AlarmJson[] }).alarms;
  const one = async (id: string, source: string): Promise<AlarmJson | undefined> => (await listed()).find((a) => a.id === id && a.source === source);
  const revision = () => server.parts.index.revision;
  const history = async () =>
    ((await api().get(`${LIST}/history`).expect(200)).body as { history: { action: string; alarm: AlarmJson }[] }).history.map((e) => [e.action, e.alarm.id, e.alarm.source]);
  const metrics = async () => (await api().get('/metrics').expect(200)).text;

  describe('POST /api/v2/alerts', () => {
    it('answers 200 with an empty body once the alarms are stored, one per alert, with the alert in their fields', async () => {
      const res = await postAlerts([
        alert({ instance: 'h1', job: 'node', severity: 'critical' }),
        alert({ instance: 'h2', job: 'node' }, { endsAt: undefined, annotations: { description: 'only a description' }, generatorURL: undefined }),
      ]);

      expect(res.status).to.equal(200);
      expect(res.text).to.equal('');
      expect(res.headers['content-length']).to.equal('0');
      const alarms = await listed();
      expect(alarms.map((a) => [a.id, a.source, a.status, a.severity, a.count])).to.deep.equal([
        ['HostDown', '{instance="h1",job="node",severity="critical"}', 'ACTIVATED', 'critical', 1],
        ['HostDown', '{instance="h2",job="node"}', 'ACTIVATED', 'indeterminate', 1],
      ]);
      expect(alarms[0]?.fields).to.deep.equal({
        labels: { alertname: 'HostDown', instance: 'h1', job: 'node', severity: 'critical' },
        annotations: { summary: 'host is down', description: 'no scrape for 5m' },
        generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
        startsAt: '2026-11-23T11:55:00Z',
        detail: 'host is down',
      });
      expect(alarms[0]?.expiresAt, 'endsAt').to.equal(iso(T0 + 4 * 60_000));
      expect(alarms[1]?.fields).to.deep.equal({
        labels: { alertname: 'HostDown', instance: 'h2', job: 'node' },
        annotations: { description: 'only a description' },
        startsAt: '2026-11-23T11:55:00Z',
        detail: 'only a description',
      });
      expect(alarms[1]?.expiresAt, 'now + resolveTimeoutSeconds without endsAt').to.equal(iso(T0 + 120_000));
    });

    it('takes the alarm severity from the severity label, whatever its case; indeterminate when absent or unknown', async () => {
      const table: [string | undefined, string][] = [
        ['critical', 'critical'],
        ['CRITICAL', 'critical'],
        ['error', 'major'],
        ['high', 'major'],
        ['major', 'major'],
        ['medium', 'minor'],
        ['minor', 'minor'],
        ['warning', 'warning'],
        ['Warn', 'warning'],
        ['low', 'warning'],
        ['info', 'indeterminate'],
        ['page', 'indeterminate'],
        ['', 'indeterminate'],
        [undefined, 'indeterminate'],
      ];
      await postAlerts(table.map(([severity], i) => alert({ n: String(i), ...(severity !== undefined && { severity }) }))).expect(200);

      const alarms = await listed();
      for (const [i, [label, severity]] of table.entries()) {
        const got = alarms.find((a) => (a.fields.labels as Record<string, string>).n === String(i));
        expect(got?.severity, `severity label ${JSON.stringify(label)}`).to.equal(severity);
      }
    });

    it('caps an endsAt past a year from now at a year', async () => {
      await postAlerts([alert({}, { endsAt: iso(T0 + 2 * 366 * 86_400_000) })]).expect(200);

      expect((await listed())[0]?.expiresAt).to.equal(iso(T0 + 366 * 86_400_000));
    });

    describe('identity', () => {
      it('makes one alarm of one label set, however its labels are ordered, and two of sets differing in one label', async () => {
        await postAlerts([alert({ job: 'node', instance: 'h1' }), alert({ instance: 'h1', job: 'node' }), alert({ instance: 'h1', job: 'other' })]).expect(200);

        expect((await listed()).map((a) => [a.id, a.source])).to.deep.equal([
          ['HostDown', '{instance="h1",job="node"}'],
          ['HostDown', '{instance="h1",job="other"}'],
        ]);
      });

      it('escapes label values as Prometheus writes them and drops labels with an empty value', async () => {
        await postAlerts([alert({ path: 'C:\\dir "x"\nend', empty: '' })]).expect(200);

        expect((await listed())[0]?.source).to.equal('{path="C:\\\\dir \\"x\\"\\nend"}');
      });

      it('names a label set whose text passes 256 characters by sha256: and the 64 hex digits of its hash', async () => {
        const labels = { instance: 'h1', note: 'x'.repeat(240) };
        const text = `{instance="h1",note="${'x'.repeat(240)}"}`;
        expect(text.length).to.be.above(256);

        await postAlerts([alert(labels)]).expect(200);

        const source = (await listed())[0]?.source;
        expect(source).to.equal(`sha256:${crypto.createHash('sha256').update(text).digest('hex')}`);
        expect(source).to.match(/^sha256:[0-9a-f]{64}$/);
      });
    });

    it('clears the alarm of an alert whose endsAt is now or before, and raises nothing for an unknown one', async () => {
      await postAlerts([alert({ instance: 'h1' }), alert({ instance: 'h2' })]).expect(200);
      clock.advance(1000);

      await postAlerts([alert({ instance: 'h1' }, { endsAt: iso(T0 + 1000) }), alert({ instance: 'h2' }, { endsAt: iso(T0) }), alert({ instance: 'h3' }, { endsAt: iso(T0) })]).expect(200);

      expect((await listed()).map((a) => [a.source, a.status])).to.deep.equal([
        ['{instance="h1"}', 'CLEARED'],
        ['{instance="h2"}', 'CLEARED'],
      ]);
    });

    describe('re-sends', () => {
      it('moves only the expiry of a firing alert re-sent unchanged: count 1, no history entry, nothing to watchers', async () => {
        await postAlerts([alert({ instance: 'h1' })]).expect(200);
        const watcher = await WsClient.open(server.url, '/v4/default/admin/alarms/watch');
        clients.push(watcher);
        clock.advance(60_000);

        await postAlerts([alert({ instance: 'h1' }, { endsAt: iso(T0 + 5 * 60_000) })]).expect(200);

        const alarm = await one('HostDown', '{instance="h1"}');
        expect(alarm).to.deep.include({ count: 1, revision: 1, expiresAt: iso(T0 + 5 * 60_000) });
        expect(await history()).to.deep.equal([['RAISE', 'HostDown', '{instance="h1"}']]);
        // A later change reaches the watcher: had the re-send sent anything, it would be before it.
        await postAlerts([alert({ instance: 'marker' })]).expect(200);
        await watcher.untilRevision(2);
        expect(watcher.messages.map((m) => [m.action, m.alarm?.source])).to.deep.equal([['RAISE', '{instance="marker"}']]);
      });

      it('re-raises a firing alert re-sent with other annotations: count + 1, a history entry, a watcher message', async () => {
        await postAlerts([alert({ instance: 'h1' })]).expect(200);
        const watcher = await WsClient.open(server.url, '/v4/default/admin/alarms/watch');
        clients.push(watcher);

        await postAlerts([alert({ instance: 'h1' }, { annotations: { summary: 'host is still down' } })]).expect(200);
        const [a] = await listed();
        expect(a).to.deep.include({ count: 2, severity: 'indeterminate' });
        expect(a?.fields.detail).to.equal('host is still down');

        await postAlerts([alert({ instance: 'h1' }, { annotations: { summary: 'host is still down' } })]).expect(200);
        expect((await listed())[0]?.count, 'the same again: a re-send').to.equal(2);

        await watcher.untilRevision(2);
        expect(watcher.messages.map((m) => [m.action, m.revision])).to.deep.equal([['RERAISE', 2]]);
        expect((await history()).map(([action]) => action)).to.deep.equal(['RAISE', 'RERAISE']);
      });

      it('makes another alarm of an alert sent again with another severity label: the label is part of its identity', async () => {
        await postAlerts([alert({ instance: 'h1', severity: 'warning' })]).expect(200);
        await postAlerts([alert({ instance: 'h1', severity: 'critical' })]).expect(200);

        expect((await listed()).map((a) => [a.source, a.severity, a.count])).to.deep.equal([
          ['{instance="h1",severity="critical"}', 'critical', 1],
          ['{instance="h1",severity="warning"}', 'warning', 1],
        ]);
      });
    });

    describe('refusals', () => {
      it('applies the valid alerts of a body and answers 400 with a JSON string naming each invalid one by its position', async () => {
        const res = await postAlerts([
          alert({ instance: 'h1' }),
          { labels: { instance: 'h2' } },
          alert({ instance: 'h3' }),
          alert({ 'bad-name': 'x' }),
          'not an alert',
          alert({}, { endsAt: 'yesterday' }),
        ]);

        expect(res.status).to.equal(400);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(res.body).to.be.a('string');
        expect((res.body as string).split('; ')).to.deep.equal([
          'alerts[1].labels.alertname: required',
          'alerts[3].labels["bad-name"]: the name must match [a-zA-Z_][a-zA-Z0-9_]*',
          'alerts[4]: must be an object',
          'alerts[5].endsAt: must be an RFC 3339 date-time',
        ]);
        expect((await listed()).map((a) => a.source)).to.deep.equal(['{instance="h1"}', '{instance="h3"}']);
        const text = await metrics();
        expect(metricValue(text, 'alarm_center_intake_alerts_total', { intake: 'alertmanager_api', result: 'accepted' })).to.equal(2);
        expect(metricValue(text, 'alarm_center_intake_alerts_total', { intake: 'alertmanager_api', result: 'invalid' })).to.equal(4);
      });

      it('applies nothing of a body that is not an array, or holds more than 1,000 alerts, and answers 400 with a JSON string', async () => {
        const notArray = await postAlerts({ alerts: [alert({})] });
        const tooMany = await postAlerts(Array.from({ length: 1001 }, (_, i) => alert({ n: String(i) })));

        expect([notArray.status, notArray.body]).to.deep.equal([400, 'body: must be a JSON array of alerts']);
        expect([tooMany.status, tooMany.body]).to.deep.equal([400, 'body: must hold at most 1000 alerts, got 1001']);
        expect(revision()).to.equal(0);
      });

      it('answers a body over bodyLimitBytes with 413001 and one that is not JSON with 400001, storing nothing', async () => {
        const large = await postAlerts([alert({}, { annotations: { description: 'x'.repeat(1024 * 1024) } })]);
        const broken = await api().post(AM_ALERTS).set('content-type', 'application/json').send('[{"labels":');

        expectError(large, '413001', /^body: larger than the limit/);
        expectError(broken, '400001', /^body: malformed JSON/);
        expect(revision()).to.equal(0);
      });

      it('reads its body as every JSON route does: gzip taken, a non-UTF charset and malformed JSON refused in the same words', async () => {
        // fetch sends the bytes as given (supertest would serialize a Buffer as JSON).
        const send = async (path: string, body: string | Buffer, headers: Record<string, string>) => {
          const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
          const text = await res.text();
          return { status: res.status, text, headers: Object.fromEntries(res.headers), body: text === '' ? undefined : (JSON.parse(text) as unknown) };
        };
        const json = { 'content-type': 'application/json' };
        const latin1 = { 'content-type': 'application/json; charset=latin1' };
        const broken = '[{"id": tru';

        const zipped = await send(AM_ALERTS, gzipSync(JSON.stringify([alert({ zipped: 'yes' })])), { ...json, 'content-encoding': 'gzip' });
        const charset = [await send(AM_ALERTS, '[]', latin1), await send(LIST, '[]', latin1)];
        const malformed = [await send(AM_ALERTS, broken, json), await send(LIST, broken, json)];

        expect(zipped.status, zipped.text).to.equal(200);
        expect(server.center.list(DEFAULT).alarms.map((a) => a.source)).to.deep.equal(['{zipped="yes"}']);
        expectError(charset[0] as unknown as request.Response, '400001', /^body: unsupported charset "LATIN1"$/);
        expect(charset[0]?.body).to.deep.equal(charset[1]?.body);
        expectError(malformed[0] as unknown as request.Response, '400001', /^body: malformed JSON: /);
        expect(malformed[0]?.body).to.deep.equal(malformed[1]?.body);
      });

      it('answers 429001 past writeRateLimit', async () => {
        await start({ writeRateLimit: 2 });
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => postAlerts([alert({ n: String(i) })])));

        const refused = results.filter((r) => r.status !== 200);
        expect(refused.length).to.be.at.least(4);
        for (const r of refused) expectError(r, '429001', /more than 2 writes in one second/);
        expect(server.center.list(DEFAULT).alarms).to.have.length(8 - refused.length);
      });
    });

    it('writes to the project of /v4/{project}/api/v2/alerts and to the domain of x-domain-name; /api/v2/alerts to the default project', async () => {
      await postAlerts([alert({ at: 'p1' })], '/v4/p1/api/v2/alerts').expect(200);
      await postAlerts([alert({ at: 'd2' })], '/v4/p1/api/v2/alerts').set('x-domain-name', 'd2').expect(200);
      await postAlerts([alert({ at: 'default' })]).expect(200);

      expect(server.center.list(P1).alarms.map((a) => a.source)).to.deep.equal(['{at="p1"}']);
      expect(server.center.list({ domain: 'd2', project: 'p1' }).alarms.map((a) => a.source)).to.deep.equal(['{at="d2"}']);
      expect(server.center.list(DEFAULT).alarms.map((a) => a.source)).to.deep.equal(['{at="default"}']);
    });
  });

  describe('GET /api/v2/alerts', () => {
    beforeEach(async () => {
      await postAlerts([
        alert({ instance: 'h1', job: 'node', severity: 'critical' }),
        alert({ instance: 'h2', job: 'node' }),
        alert({ instance: 'h3', job: 'db' }, { labels: { alertname: 'DiskFull', instance: 'h3', job: 'db' } }),
        alert({ instance: 'gone' }),
      ]).expect(200);
      await postAlerts([alert({ instance: 'gone' }, { endsAt: iso(T0) })]).expect(200);
    });

    const get = async (query = '', path = AM_ALERTS) => {
      const res = await api().get(`${path}${query}`);
      expect(res.status, res.text).to.equal(200);
      return res.body as { labels: Record<string, string> }[];
    };
    const names = (alerts: { labels: Record<string, string> }[]) => alerts.map((a) => `${a.labels.alertname}/${a.labels.instance ?? ''}`);
    const filter = (...matchers: string[]) => `?${matchers.map((m) => `filter=${encodeURIComponent(m)}`).join('&')}`;

    it('answers the ACTIVATED alarms as gettableAlerts', async () => {
      const alerts = await get();

      expect(names(alerts)).to.have.members(['HostDown/h1', 'HostDown/h2', 'DiskFull/h3']);
      const { fingerprint, ...h1 } = alerts.find((a) => a.labels.instance === 'h1') as unknown as { fingerprint: string };
      expect(fingerprint).to.match(/^[0-9a-f]{16}$/);
      expect(h1).to.deep.equal({
        labels: { alertname: 'HostDown', instance: 'h1', job: 'node', severity: 'critical' },
        annotations: { summary: 'host is down', description: 'no scrape for 5m' },
        startsAt: '2026-11-23T11:55:00.000Z',
        endsAt: iso(T0 + 4 * 60_000),
        updatedAt: iso(T0),
        generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
        receivers: [{ name: 'alarm-center' }],
        status: { state: 'active', silencedBy: [], inhibitedBy: [], mutedBy: [] },
      });
      const prints = alerts.map((a) => (a as unknown as { fingerprint: string }).fingerprint);
      expect(new Set(prints).size, 'one fingerprint per label set').to.equal(3);
    });

    it('filters by label matchers: =, =~ (anchored), !=, !~, several of them, or several in braces', async () => {
      expect(names(await get(filter('alertname="DiskFull"')))).to.deep.equal(['DiskFull/h3']);
      expect(names(await get(filter('instance=~"h[12]"')))).to.have.members(['HostDown/h1', 'HostDown/h2']);
      expect(names(await get(filter('alertname=~"Disk"'))), 'a regex matches whole values').to.deep.equal([]);
      expect(names(await get(filter('job!="node"')))).to.deep.equal(['DiskFull/h3']);
      expect(names(await get(filter('instance!~"h[23]"')))).to.deep.equal(['HostDown/h1']);
      expect(names(await get(filter('job="node"', 'severity!="critical"')))).to.deep.equal(['HostDown/h2']);
      expect(names(await get(filter('{alertname="HostDown",instance="h1"}')))).to.deep.equal(['HostDown/h1']);
      expect(names(await get(filter('severity=""'))), 'a missing label is empty').to.have.members(['HostDown/h2', 'DiskFull/h3']);
    });

    it('answers [] for active=false, and ignores receiver, silenced, inhibited and unprocessed', async () => {
      expect(await get('?active=false')).to.deep.equal([]);
      expect(names(await get('?receiver=anything&silenced=false&inhibited=false&unprocessed=false&active=true'))).to.have.length(3);
    });

    it('answers 400 with a JSON string for an unknown query parameter, a bad flag or a bad matcher', async () => {
      const cases: [string, string][] = [
        ['?foo=1', 'query: unknown parameter foo'],
        ['?active=yes', 'query: active must be true or false'],
        [filter('alertname'), 'filter[0]: bad matcher format: alertname'],
        [filter('job="node"', 'instance=~"("'), 'filter[1]: invalid regular expression "("'],
      ];
      for (const [query, message] of cases) {
        const res = await api().get(`${AM_ALERTS}${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(res.body, query).to.be.a('string').and.satisfy((s: string) => s.startsWith(message));
      }
    });

    it('lists alarms raised through the service-center route with labels alertname, source and severity', async () => {
      await api().post('/v4/default/admin/alarms').send({ id: 'BackendDown', source: 'db-1', severity: 'major', fields: { detail: 'refused' } }).expect(200);
      await api().post('/v4/default/admin/alarms').send({ id: 'NoSource' }).expect(200);

      const alerts = (await get(filter('alertname=~"BackendDown|NoSource"'))) as unknown as { labels: Record<string, string>; annotations: Record<string, string> }[];

      expect(alerts.map((a) => [a.labels, a.annotations])).to.deep.equal([
        [{ alertname: 'BackendDown', severity: 'major', source: 'db-1' }, { detail: 'refused' }],
        [{ alertname: 'NoSource', severity: 'indeterminate' }, {}],
      ]);
    });

    it('answers the alarms of the project of /v4/{project}/api/v2/alerts', async () => {
      await postAlerts([alert({ instance: 'p1' })], '/v4/p1/api/v2/alerts').expect(200);

      expect(names(await get('', '/v4/p1/api/v2/alerts'))).to.deep.equal(['HostDown/p1']);
    });
  });

  describe('GET /api/v2/status and /api/v2/silences', () => {
    it('answers a ready cluster and the package version, on both paths', async () => {
      for (const path of ['/api/v2/status', '/v4/p1/api/v2/status']) {
        const body = (await api().get(path).expect(200).expect('content-type', /^application\/json/)).body as {
          cluster: { status: string };
          versionInfo: { version: string };
        };
        expect(body.cluster.status, path).to.equal('ready');
        expect(body.versionInfo.version, path).to.equal(VERSION);
      }
    });

    it('answers no silences', async () => {
      expect((await api().get('/api/v2/silences').expect(200)).body).to.deep.equal([]);
      expect((await api().get('/v4/p1/api/v2/silences').expect(200)).body).to.deep.equal([]);
    });
  });

  describe('POST /v4/{project}/integrations/alertmanager', () => {
    const firingAlert = (labels: Record<string, string>, fingerprint = 'a1b2c3d4e5f60718') => ({
      status: 'firing',
      ...alert(labels, { endsAt: '0001-01-01T00:00:00Z' }),
      fingerprint,
    });

    it('raises firing alerts, keeping their fingerprint, and answers 200 once they are stored', async () => {
      const res = await api().post(WEBHOOK).send(webhook([firingAlert({ instance: 'h1' }), { ...firingAlert({ instance: 'h2' }), endsAt: iso(T0 + 60_000) }]));

      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'success', alerts: 2 });
      const [h1, h2] = await listed();
      expect(h1).to.deep.include({ id: 'HostDown', source: '{instance="h1"}', status: 'ACTIVATED', count: 1 });
      expect(h1?.fields).to.include({ fingerprint: 'a1b2c3d4e5f60718', detail: 'host is down' });
      expect(h1, 'a zero endsAt: no expiry, it lasts until resolved').not.to.have.property('expiresAt');
      expect(h2?.expiresAt, 'an endsAt after now').to.equal(iso(T0 + 60_000));
    });

    it('changes nothing for a firing alert repeated unchanged (repeat_interval)', async () => {
      await api().post(WEBHOOK).send(webhook([firingAlert({ instance: 'h1' })])).expect(200);
      clock.advance(4 * 3600_000);

      await api().post(WEBHOOK).send(webhook([firingAlert({ instance: 'h1' })])).expect(200);

      expect(revision()).to.equal(1);
      expect((await listed()).map((a) => [a.status, a.count])).to.deep.equal([['ACTIVATED', 1]]);
    });

    it('clears with a resolved alert the alarm the same alert made through the API', async () => {
      await postAlerts([alert({ instance: 'h1' })]).expect(200);

      await api().post(WEBHOOK).send(webhook([{ ...firingAlert({ instance: 'h1' }), status: 'resolved', endsAt: iso(T0) }], { status: 'resolved' })).expect(200);

      expect((await listed()).map((a) => [a.id, a.source, a.status])).to.deep.equal([['HostDown', '{instance="h1"}', 'CLEARED']]);
    });

    it('refuses a malformed body with 400001 naming the field, storing nothing, and counts it', async () => {
      const before = metricValue(await metrics(), 'alarm_center_intake_alerts_total', { intake: 'alertmanager_webhook', result: 'invalid' });

      expectError(await api().post(WEBHOOK).send(webhook([firingAlert({})], { version: '3' })), '400001', 'body.version: must be "4"');
      expectError(await api().post(WEBHOOK).send({ ...webhook([]), alerts: undefined }), '400001', 'body.alerts: must be an array');
      expectError(await api().post(WEBHOOK).send([]), '400001', 'body: must be a JSON object');

      expect(revision()).to.equal(0);
      const after = metricValue(await metrics(), 'alarm_center_intake_alerts_total', { intake: 'alertmanager_webhook', result: 'invalid' });
      expect(after - before).to.equal(3);
    });

    it('applies the valid alerts of a body and refuses the others with 400001 naming them', async () => {
      const res = await api().post(WEBHOOK).send(webhook([firingAlert({ instance: 'h1' }), { ...firingAlert({ instance: 'h2' }), status: 'pending' }]));

      expectError(res, '400001', 'body.alerts[1].status: must be "firing" or "resolved"');
      expect((await listed()).map((a) => a.source)).to.deep.equal(['{instance="h1"}']);
    });

    it('writes to the project of its path', async () => {
      await api().post('/v4/p1/integrations/alertmanager').send(webhook([firingAlert({ instance: 'h1' })])).expect(200);

      expect(server.center.list(P1).alarms).to.have.length(1);
      expect(server.center.list(DEFAULT).alarms).to.have.length(0);
    });
  });

  describe('POST /v4/{project}/integrations/pagerduty and /v2/enqueue', () => {
    const send = (body: unknown, path = PAGERDUTY) => api().post(path).send(body as object);

    it('answers a trigger 202 with its dedup_key and raises the alarm PagerDutyEvent / dedup_key, its detail the summary', async () => {
      const res = await send(event('trigger', { dedup_key: 'db-1/disk', client: 'nagios', payload: { summary: 'disk full', source: 'db-1', severity: 'error', component: 'postgres' } }));

      expect(res.status).to.equal(202);
      expect(res.body).to.deep.equal({ status: 'success', message: 'Event processed', dedup_key: 'db-1/disk' });
      const [a] = await listed();
      expect(a).to.deep.include({ id: 'PagerDutyEvent', source: 'db-1/disk', severity: 'major', status: 'ACTIVATED', count: 1 });
      expect(a?.fields).to.deep.equal({ detail: 'disk full', source: 'db-1', component: 'postgres', client: 'nagios' });
      expect(a).not.to.have.property('expiresAt');
    });

    it('makes up a 32-hex dedup_key for a trigger without one', async () => {
      const res = await send(event('trigger')).expect(202);

      expect(res.body.dedup_key).to.match(/^[0-9a-f]{32}$/);
      expect((await listed()).map((a) => a.source)).to.deep.equal([res.body.dedup_key]);
    });

    it('maps PagerDuty severities: critical, error, warning, info', async () => {
      for (const severity of ['critical', 'error', 'warning', 'info']) {
        await send(event('trigger', { dedup_key: severity, payload: { summary: 's', source: 'h', severity } })).expect(202);
      }

      expect((await listed()).map((a) => [a.source, a.severity])).to.deep.equal([
        ['critical', 'critical'],
        ['error', 'major'],
        ['info', 'indeterminate'],
        ['warning', 'warning'],
      ]);
    });

    it('takes the alarm id from payload.class when it is an alarm id', async () => {
      await send(event('trigger', { dedup_key: 'k1', payload: { summary: 's', source: 'h', severity: 'info', class: 'DiskFull' } })).expect(202);
      await send(event('trigger', { dedup_key: 'k2', payload: { summary: 's', source: 'h', severity: 'info', class: 'disk full!' } })).expect(202);

      expect((await listed()).map((a) => [a.id, a.source])).to.deep.equal([
        ['DiskFull', 'k1'],
        ['PagerDutyEvent', 'k2'],
      ]);
    });

    it('names its alarms by pagerdutyAlarmId', async () => {
      await start({ pagerdutyAlarmId: 'PdIncident' });

      await send(event('trigger', { dedup_key: 'k1' })).expect(202);

      expect((await listed()).map((a) => a.id)).to.deep.equal(['PdIncident']);
    });

    it('acknowledges the alarm of the dedup_key, by its client or pagerduty, whatever id its trigger gave it', async () => {
      await send(event('trigger', { dedup_key: 'k1' })).expect(202);
      await send(event('trigger', { dedup_key: 'k2', payload: { summary: 's', source: 'h', severity: 'info', class: 'DiskFull' } })).expect(202);

      expect((await send(event('acknowledge', { dedup_key: 'k1', client: 'ops-bot' }))).body).to.deep.equal({ status: 'success', message: 'Event processed', dedup_key: 'k1' });
      await send(event('acknowledge', { dedup_key: 'k2' })).expect(202);

      expect((await listed()).map((a) => [a.id, a.status, a.acknowledged, a.ackedBy])).to.deep.equal([
        ['DiskFull', 'ACTIVATED', true, 'pagerduty'],
        ['PagerDutyEvent', 'ACTIVATED', true, 'ops-bot'],
      ]);
    });

    it('clears the alarm of the dedup_key on resolve, whatever id its trigger gave it', async () => {
      await send(event('trigger', { dedup_key: 'k1' })).expect(202);
      await send(event('trigger', { dedup_key: 'k2', payload: { summary: 's', source: 'h', severity: 'info', class: 'DiskFull' } })).expect(202);

      await send(event('resolve', { dedup_key: 'k1' })).expect(202);
      await send(event('resolve', { dedup_key: 'k2' })).expect(202);

      expect((await listed()).map((a) => [a.id, a.status])).to.deep.equal([
        ['DiskFull', 'CLEARED'],
        ['PagerDutyEvent', 'CLEARED'],
      ]);
    });

    it('leaves alone the alarms of other intakes whose source is the dedup_key', async () => {
      await api().post(LIST).send({ id: 'BackendConnectionRefuse', source: 'db-1', severity: 'critical' }).expect(200);
      await send(event('trigger', { dedup_key: 'db-1' })).expect(202);

      await send(event('acknowledge', { dedup_key: 'db-1' })).expect(202);
      await send(event('resolve', { dedup_key: 'db-1' })).expect(202);

      expect((await listed()).map((a) => [a.id, a.status, a.acknowledged])).to.deep.equal([
        ['BackendConnectionRefuse', 'ACTIVATED', false],
        ['PagerDutyEvent', 'CLEARED', false],
      ]);
    });

    it('accepts an acknowledge or resolve of an unknown or resolved dedup_key with 202, changing nothing', async () => {
      await send(event('trigger', { dedup_key: 'k1' })).expect(202);
      await send(event('resolve', { dedup_key: 'k1' })).expect(202);
      const before = revision();

      for (const body of [event('acknowledge', { dedup_key: 'nope' }), event('resolve', { dedup_key: 'nope' }), event('acknowledge', { dedup_key: 'k1' })]) {
        expect((await send(body)).status).to.equal(202);
      }

      expect(revision()).to.equal(before);
    });

    it('refuses an invalid event with 400 and PagerDuty\'s body naming the field, storing nothing', async () => {
      const cases: [unknown, string[]][] = [
        [{}, ["'routing_key' is missing or blank", "'event_action' is missing or blank"]],
        [event('escalate'), ["'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"]],
        [event('trigger', { payload: undefined }), ["'payload' is missing or blank"]],
        [event('trigger', { payload: { source: 'h', severity: 'info' } }), ["'payload.summary' is missing or blank"]],
        [event('trigger', { payload: { summary: 's', source: 'h', severity: 'fatal' } }), ["'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"]],
        [event('trigger', { payload: { summary: 'x'.repeat(1025), source: 'h', severity: 'info' } }), ["Length of 'payload.summary' is incorrect (should be at most 1024 characters)"]],
        [event('acknowledge'), ["'dedup_key' is missing or blank"]],
        [[event('trigger')], ['The event must be a JSON object']],
      ];
      for (const [body, errors] of cases) {
        const res = await send(body);
        expect(res.status, JSON.stringify(body).slice(0, 80)).to.equal(400);
        expect(res.body).to.deep.equal({ status: 'invalid event', message: 'Event object is invalid', errors });
      }
      expect(revision()).to.equal(0);
      expect(metricValue(await metrics(), 'alarm_center_intake_alerts_total', { intake: 'pagerduty', result: 'invalid' })).to.equal(cases.length);
    });

    it('writes /v2/enqueue to the default project and /v4/{project}/integrations/pagerduty to its project', async () => {
      await send(event('trigger', { dedup_key: 'k0' }), '/v2/enqueue').expect(202);
      await send(event('trigger', { dedup_key: 'k1' }), '/v4/p1/integrations/pagerduty').expect(202);

      expect(server.center.list(DEFAULT).alarms.map((a) => a.source)).to.deep.equal(['k0']);
      expect(server.center.list(P1).alarms.map((a) => a.source)).to.deep.equal(['k1']);
    });
  });

  describe('when the store fails', () => {
    let dir: string;

    beforeEach(async () => {
      await server.close();
      dir = tempDir('intake-api');
      server = await startServer({ port: 0, dataDir: dir }, { clock: clock.now });
    });

    afterEach(async () => {
      await server.close();
      removeDir(dir);
    });

    it('answers every intake write 503001 with Retry-After, and takes alerts again once the store is back', async () => {
      const restore = await fillStore(server);

      const refused = [
        await postAlerts([alert({ instance: 'h1' })]),
        await api().post(WEBHOOK).send(webhook([{ status: 'firing', ...alert({ instance: 'h1' }) }])),
        await api().post(PAGERDUTY).send(event('trigger', { dedup_key: 'k1' })),
      ];

      for (const res of refused) {
        expectError(res, '503001', /^store unavailable: database or disk is full/);
        expect(res.headers['retry-after']).to.match(/^\d+$/);
      }
      const text = await metrics();
      for (const intake of ['alertmanager_api', 'alertmanager_webhook', 'pagerduty']) {
        expect(metricValue(text, 'alarm_center_intake_alerts_total', { intake, result: 'failed' }), intake).to.equal(1);
        expect(metricValue(text, 'alarm_center_intake_alerts_total', { intake, result: 'accepted' }), intake).to.equal(0);
      }
      restore();
      await postAlerts([alert({ instance: 'h1' })]).expect(200);
      expect(server.center.list(DEFAULT, { id: 'HostDown' }).alarms.map((a) => a.source)).to.deep.equal(['{instance="h1"}']);
    });
  });
});

const TOKENS = { read: 'i-read-1', write: 'i-write-2', admin: 'i-admin-3', p1: 'i-p1-4', write2: 'i-write-5' };
const SPECS: TokenSpec[] = [
  { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
  { name: 'writer', role: 'write', sha256: hashToken(TOKENS.write) },
  { name: 'boss', role: 'admin', sha256: hashToken(TOKENS.admin) },
  { name: 'p1-writer', role: 'write', sha256: hashToken(TOKENS.p1), scopes: ['default/p1'] },
  { name: 'writer-2', role: 'write', sha256: hashToken(TOKENS.write2) },
];

describe('intake API with tokens', () => {
  let server: RunningServer;

  async function start(settings: Partial<Config> = {}): Promise<void> {
    server = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS, ...settings }, { clock: new ManualClock(T0).now });
  }

  afterEach(() => server.close());

  const api = () => request(server.url);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const pdEvent = (routingKey: string, dedupKey = 'k1') => event('trigger', { routing_key: routingKey, dedup_key: dedupKey });

  type Credential = 'none' | 'bad' | 'read' | 'write' | 'admin';
  const RANK: Record<Credential, number> = { none: 0, bad: 0, read: 1, write: 2, admin: 3 };
  const headerOf = (c: Credential): Record<string, string> => (c === 'none' ? {} : bearer(c === 'bad' ? 'not-a-token' : TOKENS[c]));

  const ROUTES: { method: 'get' | 'post'; path: string; need: 'read' | 'write'; body?: unknown }[] = [
    { method: 'post', path: '/api/v2/alerts', need: 'write', body: [alert({})] },
    { method: 'post', path: '/v4/p1/api/v2/alerts', need: 'write', body: [alert({})] },
    { method: 'post', path: '/v4/p1/integrations/alertmanager', need: 'write', body: webhook([{ status: 'firing', ...alert({}) }]) },
    // The routing key is no token: without an Authorization header, these are refused as unknown.
    { method: 'post', path: '/v4/p1/integrations/pagerduty', need: 'write', body: event('trigger') },
    { method: 'post', path: '/v2/enqueue', need: 'write', body: event('trigger') },
    { method: 'get', path: '/api/v2/alerts', need: 'read' },
    { method: 'get', path: '/v4/p1/api/v2/alerts', need: 'read' },
    { method: 'get', path: '/api/v2/status', need: 'read' },
    { method: 'get', path: '/v4/p1/api/v2/status', need: 'read' },
    { method: 'get', path: '/api/v2/silences', need: 'read' },
    { method: 'get', path: '/v4/p1/api/v2/silences', need: 'read' },
  ];

  describe('roles on every intake route', () => {
    beforeEach(() => start());

    for (const route of ROUTES) {
      for (const c of ['none', 'bad', 'read', 'write', 'admin'] as Credential[]) {
        const expected = RANK[c] >= RANK[route.need] ? 'allowed' : c === 'none' || c === 'bad' ? '401002' : '403001';
        it(`${route.method.toUpperCase()} ${route.path} with ${c} token: ${expected}`, async () => {
          const req = api()[route.method](route.path).set(headerOf(c));
          const res = await (route.body === undefined ? req : req.send(route.body as object));
          if (expected === 'allowed') {
            expect(res.status, res.text).to.be.oneOf([200, 202]);
            return;
          }
          expectError(res, expected);
          expect(server.parts.index.revision, 'a refused request changes nothing').to.equal(0);
        });
      }
    }
  });

  describe('PagerDuty routing_key', () => {
    beforeEach(() => start());

    it('takes the routing_key as the token without an Authorization header: write 202, unknown 401, read 403', async () => {
      for (const path of ['/v2/enqueue', '/v4/p1/integrations/pagerduty']) {
        await api().post(path).send(pdEvent(TOKENS.write)).expect(202);
        await api().post(path).send(pdEvent(TOKENS.admin)).expect(202);
        expectError(await api().post(path).send(pdEvent('R0UT1NGKEY')), '401002', 'routing_key: unknown token');
        expectError(await api().post(path).send({ event_action: 'trigger' }), '401002', 'routing_key: a token is required');
        expectError(await api().post(path).send(pdEvent(TOKENS.read)), '403001', 'token reader has role read; this needs write');
      }
      expect(server.center.list(DEFAULT).alarms.map((a) => a.source)).to.deep.equal(['k1']);
      expect(server.center.list(P1).alarms.map((a) => a.source)).to.deep.equal(['k1']);
    });

    it('lets the Authorization header decide when there is one', async () => {
      await api().post('/v2/enqueue').set(bearer(TOKENS.write)).send(pdEvent('R0UT1NGKEY')).expect(202);
      expectError(await api().post('/v2/enqueue').set(bearer(TOKENS.read)).send(pdEvent(TOKENS.write)), '403001');
      expectError(await api().post('/v2/enqueue').set(bearer('not-a-token')).send(pdEvent(TOKENS.write)), '401002', 'authorization: unknown token');
      expect(server.center.list(DEFAULT).alarms).to.have.length(1);
    });

    it('counts the write rate per routing_key token, as per Authorization token', async () => {
      await server.close();
      await start({ writeRateLimit: 3 });
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => api().post('/v2/enqueue').send(pdEvent(TOKENS.write, `k${i}`))));

      const accepted = results.filter((r) => r.status === 202);
      // Ten quick requests fall in at most two one-second windows.
      expect(accepted.length).to.be.within(3, 6);
      for (const r of results.filter((x) => x.status !== 202)) expectError(r, '429001', /more than 3 writes in one second/);
      // Another token has its own budget, whether it comes in the body or in the header.
      await api().post('/v2/enqueue').send(pdEvent(TOKENS.write2, 'other-1')).expect(202);
      await api().post('/v2/enqueue').set(bearer(TOKENS.admin)).send(pdEvent('R0UT1NGKEY', 'other-2')).expect(202);
      // A request refused for its token is counted against nobody.
      for (let i = 0; i < 5; i += 1) expectError(await api().post('/v2/enqueue').send(pdEvent('R0UT1NGKEY')), '401002');
      await api().post('/v2/enqueue').send(pdEvent(TOKENS.write2, 'other-3')).expect(202);
    });
  });

  describe('scoped tokens', () => {
    beforeEach(() => start());

    it('keep a token to its projects on every intake route', async () => {
      const p1 = bearer(TOKENS.p1);
      await api().post('/v4/p1/api/v2/alerts').set(p1).send([alert({})]).expect(200);
      await api().post('/v4/p1/integrations/alertmanager').set(p1).send(webhook([{ status: 'firing', ...alert({ n: '2' }) }])).expect(200);
      await api().post('/v4/p1/integrations/pagerduty').send(pdEvent(TOKENS.p1)).expect(202);
      await api().get('/v4/p1/api/v2/alerts').set(p1).expect(200);

      expectError(await api().post('/v4/p2/api/v2/alerts').set(p1).send([alert({})]), '403001', /may not use domain default, project p2/);
      expectError(await api().post('/api/v2/alerts').set(p1).send([alert({})]), '403001', /project default/);
      expectError(await api().post('/v4/p1/api/v2/alerts').set(p1).set('x-domain-name', 'd2').send([alert({})]), '403001', /domain d2/);
      expectError(await api().post('/v2/enqueue').send(pdEvent(TOKENS.p1)), '403001', /project default/);
      expectError(await api().post('/v4/p2/integrations/pagerduty').send(pdEvent(TOKENS.p1)), '403001', /project p2/);
      expectError(await api().get('/api/v2/status').set(p1), '403001', /project default/);
      expect(server.center.list(P1).alarms).to.have.length(3);
      expect(server.center.list(DEFAULT).alarms).to.deep.equal([]);
      expect(server.center.list({ domain: 'default', project: 'p2' }).alarms).to.deep.equal([]);
    });
  });
});
