/**
 * Alarm Center forwarding its alarms to a real Alertmanager (the Debian `prometheus-alertmanager`,
 * started on a free loopback port with a fresh storage folder), and replicas on PostgreSQL of
 * which only one forwards, seen by a test receiver. A missing program skips its tests loudly, or
 * fails them under CI=true; so does a missing PostgreSQL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import type { AlarmJson } from '../../src/alarm/model.js';
import { startServer, type RunningServer } from '../../src/root.js';
import type { Config } from '../../src/config.js';
import { removeDir, tempDir, waitFor } from '../helpers/integration.js';
import { freshDatabase } from '../helpers/postgres.js';
import { ALERTMANAGER, alertmanagerSpec, requirePrograms, usePrograms, type RunningProgram } from '../helpers/programs.js';
import { replicaGroup } from '../helpers/replicas.js';

const PROJECT = 'world';
const ALARMS = `/v4/${PROJECT}/admin/alarms`;
/** Between two looks at Alertmanager, which acts within a second. */
const POLL_MS = 50;
/** An alert flowing from a commit to Alertmanager, or from Alertmanager's webhook to Alarm Center. */
const FLOW_MS = 10_000;

/** What Alertmanager's `GET /api/v2/alerts` answers of an alert. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

/** One request a receiver took: the path, and the alerts posted. */
interface Posted {
  path: string;
  alerts: { labels: Record<string, string> }[];
}

/** A loopback HTTP server that answers every request with `answer`, keeping what was posted. */
class Receiver {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    readonly posted: Posted[],
  ) {}

  /** Starts one; `answer` may forward the request elsewhere. */
  static async start(answer?: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => Promise<void>): Promise<Receiver> {
    const posted: Posted[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.method === 'POST' && req.url?.endsWith('/api/v2/alerts')) posted.push({ path: req.url, alerts: JSON.parse(body) as Posted['alerts'] });
        if (answer) void answer(req, body, res);
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posted);
  }

  /** The alertnames posted to paths starting with `prefix`, a list per request. */
  names(prefix = ''): string[][] {
    return this.posted.filter((p) => p.path.startsWith(prefix)).map((p) => p.alerts.map((a) => a.labels.alertname as string));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A fixed address in front of whichever Alertmanager `target` names, so that one can be
 * replaced by a new one (on another port) while Alarm Center keeps its URL; 503 without one.
 */
async function relay(): Promise<{ receiver: Receiver; target: { url: string | undefined } }> {
  const target: { url: string | undefined } = { url: undefined };
  const receiver = await Receiver.start(async (req, body, res) => {
    try {
      if (target.url === undefined) throw new Error('no Alertmanager');
      const answer = await fetch(`${target.url}${req.url ?? ''}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? body : undefined });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    } catch {
      res.writeHead(503).end();
    }
  });
  return { receiver, target };
}

describe('forwarding alarms to Alertmanager', function () {
  this.timeout(45_000);
  const programs = usePrograms();
  const closing: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  /** A server whose database is in memory (forwarding from the event loop) or, with `thread`, in a file (from the notifications thread). */
  const start = async (settings: Partial<Config>, thread = false): Promise<RunningServer> => {
    const dir = thread ? tempDir('forwarding') : undefined;
    const server = await startServer({ port: 0, dataDir: dir ?? ':memory:', ...settings });
    closing.push(async () => {
      await server.close();
      if (dir !== undefined) removeDir(dir);
    });
    expect(server.parts.forwarder === undefined).to.equal(thread);
    return server;
  };
  const raise = (server: RunningServer, body: object) => request(server.url).post(ALARMS).send(body).expect(200);
  const alarms = async (server: RunningServer): Promise<AlarmJson[]> => ((await request(server.url).get(ALARMS).expect(200)).body as { alarms: AlarmJson[] }).alarms;
  /** Alertmanager's active alerts. */
  const alertsIn = async (am: RunningProgram): Promise<GettableAlert[]> => (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as GettableAlert[];
  const alertIn = async (am: RunningProgram, alertname: string) => (await alertsIn(am)).find((a) => a.labels.alertname === alertname);
  const waitForAlert = (am: RunningProgram, alertname: string, timeoutMs = FLOW_MS) =>
    waitFor(`${alertname} in Alertmanager`, () => alertIn(am, alertname), timeoutMs, POLL_MS);
  const metric = async (server: RunningServer, name: string): Promise<number> =>
    (await server.registry.getSingleMetric(`alarm_center_alertmanager_${name}`)?.get())?.values[0]?.value ?? 0;

  for (const thread of [false, true])
  describe(`with a real Alertmanager, forwarding ${thread ? 'from the notifications thread' : 'from the event loop'}`, () => {
    before(function () {
      requirePrograms(this, [ALERTMANAGER]);
    });

    /** An Alertmanager whose alerts go nowhere, or to `webhook` when it did not come from Alarm Center. */
    const startAlertmanager = (webhook?: string) =>
      programs.start(
        alertmanagerSpec({
          route: {
            receiver: 'nowhere',
            group_by: ['...'],
            group_wait: '0s',
            group_interval: '1s',
            repeat_interval: '1h',
            ...(webhook && { routes: [{ matchers: ['domain=""'], receiver: 'alarm-center' }] }),
          },
          receivers: [{ name: 'nowhere' }, ...(webhook ? [{ name: 'alarm-center', webhook_configs: [{ url: webhook, send_resolved: true }] }] : [])],
        }),
      );

    it('shows an alarm raised in Alarm Center in Alertmanager with its labels, and resolves it there when it clears', async () => {
      const am = await startAlertmanager();
      const server = await start({ alertmanagers: [{ url: am.url }] }, thread);

      const raised = (await raise(server, { id: 'BackendConnectionRefuse', source: 'registry-7f9c', severity: 'major', fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' } })).body.alarms[0] as AlarmJson;

      const alert = await waitForAlert(am, 'BackendConnectionRefuse');
      expect(alert.labels).to.deep.equal({ alertname: 'BackendConnectionRefuse', source: 'registry-7f9c', domain: 'default', project: PROJECT, severity: 'major' });
      expect(alert.annotations).to.deep.equal({ detail: 'dial tcp 10.0.0.5:2379: connection refused', summary: 'dial tcp 10.0.0.5:2379: connection refused' });
      expect(alert.status.state).to.equal('active');
      expect(Date.parse(alert.startsAt)).to.equal(Date.parse(raised.raisedAt));
      const link = await fetch(alert.generatorURL as string);
      expect(((await link.json()) as { alarms: AlarmJson[] }).alarms.map((a) => [a.id, a.source]), 'the link opens the alarm').to.deep.equal([['BackendConnectionRefuse', 'registry-7f9c']]);

      await request(server.url).delete(`${ALARMS}/BackendConnectionRefuse?source=registry-7f9c`).expect(200);

      await waitFor('the alert resolved in Alertmanager', async () => (await alertIn(am, 'BackendConnectionRefuse')) === undefined, FLOW_MS, POLL_MS);
      expect(await metric(server, 'alerts_sent_total')).to.be.at.least(2);
      // Both changes were read for forwarding (the thread reads the history; the event loop is told of them).
      expect(await metric(server, 'backlog_revisions')).to.equal(0);
    });

    it('gives an Alertmanager restarted empty the active alarms back within one resend interval', async () => {
      const front = await relay();
      closing.push(() => front.receiver.close());
      const first = await startAlertmanager();
      front.target.url = first.url;
      const server = await start({ alertmanagers: [{ url: front.receiver.url }], alertmanagerResendSeconds: 1 }, thread);
      await raise(server, { alarms: [{ id: 'DiskFull', source: 'db-1' }, { id: 'CertExpiring', source: 'web-1' }, { id: 'Gone', status: 'CLEARED' }] });
      await waitForAlert(first, 'DiskFull');
      await waitForAlert(first, 'CertExpiring');

      await first.stop();
      front.target.url = undefined;
      const second = await startAlertmanager();
      expect(await alertsIn(second), 'a new Alertmanager knows no alert').to.deep.equal([]);
      front.target.url = second.url;

      // One interval (1 s) and the request, with room for a loaded machine.
      await waitForAlert(second, 'DiskFull', 3000);
      await waitForAlert(second, 'CertExpiring', 3000);
      expect((await alertsIn(second)).map((a) => a.labels.alertname).sort()).to.deep.equal(['CertExpiring', 'DiskFull']);
    });

    it('never sends back an alarm that its webhook posted to Alarm Center', async () => {
      // Each needs the other's URL to start: Alarm Center sends through the relay, set once the Alertmanager runs.
      const front = await relay();
      closing.push(() => front.receiver.close());
      const server = await start({ alertmanagers: [{ url: front.receiver.url }], alertmanagerResendSeconds: 1 }, thread);
      const am = await startAlertmanager(`${server.url}/v4/${PROJECT}/integrations/alertmanager`);
      front.target.url = am.url;
      const disk = { labels: { alertname: 'DiskFull', host: 'a' }, annotations: { summary: 'disk a is full' } };

      const res = await fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([disk]) });
      expect(res.status).to.equal(200);

      const stored = await waitFor('the webhook alarm in Alarm Center', async () => (await alarms(server)).find((a) => a.id === 'DiskFull'), FLOW_MS, POLL_MS);
      expect(stored.fields.externalURL, "the Alertmanager's externalURL marks it").to.be.a('string').and.not.equal('');
      await raise(server, { id: 'Sentinel', source: 'own' });
      await waitForAlert(am, 'Sentinel');
      // A whole resend after the alarm was stored: it would have carried the alarm.
      const after = Date.now() / 1000 + 1;
      await waitFor('a resend', async () => (await metric(server, 'last_success_timestamp_seconds')) > after, FLOW_MS, POLL_MS);

      const disks = (await alertsIn(am)).filter((a) => a.labels.alertname === 'DiskFull');
      expect(disks.map((a) => a.labels), 'only the alert posted to it').to.deep.equal([disk.labels]);
      expect((await alarms(server)).map((a) => a.id).sort(), 'no echo of Sentinel either: the route sends Alarm Center\'s alerts elsewhere').to.deep.equal(['DiskFull', 'Sentinel']);
    });
  });

  describe('with replicas on PostgreSQL', () => {
    const replicas = replicaGroup();

    it('forwards from one replica only, the changes of all, and from another once that one is gone', async function () {
      this.timeout(60_000);
      const url = await freshDatabase(this);
      const receiver = await Receiver.start();
      closing.push(() => receiver.close());
      const settings = (name: string): Partial<Config> => ({ alertmanagers: [{ url: `${receiver.url}/${name}` }], alertmanagerResendSeconds: 1 });
      const a = await replicas.start(url, settings('a'));
      const b = await replicas.start(url, settings('b'));

      await raise(a, { id: 'FromA', source: 's' });
      await raise(b, { id: 'FromB', source: 's' });
      await waitFor('both alarms forwarded', () => ['FromA', 'FromB'].every((id) => receiver.names().flat().includes(id)), FLOW_MS, POLL_MS);
      await waitFor('a few resends', () => receiver.posted.length >= 4, FLOW_MS, POLL_MS);

      const paths = new Set(receiver.posted.map((p) => p.path.split('/')[1]));
      expect([...paths], 'replicas that forwarded').to.have.length(1);
      expect(receiver.names().every((names) => new Set(names).size === names.length), 'each alarm at most once a request').to.equal(true);
      const [holder] = [...paths] as ['a' | 'b'];

      await (holder === 'a' ? a : b).close();
      const other = holder === 'a' ? 'b' : 'a';

      await waitFor(`replica ${other} forwarding`, () => receiver.names(`/${other}/`).some((names) => names.includes('FromA') && names.includes('FromB')), 15_000, POLL_MS);
    });
  });
});
