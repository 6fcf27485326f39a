/**
 * Alarm Center among the real programs of the Prometheus world (the Debian ones: Prometheus 2.42,
 * Alertmanager and amtool 0.25): a Prometheus using it as its Alertmanager, an Alertmanager
 * sending to its webhook receiver, amtool adding and querying alerts, and the watchdog noticing a
 * Prometheus that stopped. A missing program skips its tests loudly, or fails them under CI=true.
 *
 * Timing: Prometheus hands its static targets (scrape targets and Alertmanagers alike) on about
 * 5 s after it starts, as its discovery sends updates at most every 5 s, so its first alert
 * arrives 5–7 s after start. With `--rules.alert.resend-delay=1s` and a 1 s evaluation interval
 * it re-sends firing alerts every second with `endsAt` 4 s after the evaluation, and a resolved
 * alert with `endsAt` = the evaluation that resolved it (already past when it arrives).
 */
import { expect } from 'chai';
import request from 'supertest';
import type { AlarmJson } from '../../src/alarm/model.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { waitFor } from '../helpers/integration.js';
import {
  ALERTMANAGER,
  AMTOOL,
  PROMETHEUS,
  alertmanagerSpec,
  prometheusSpec,
  requirePrograms,
  runProgram,
  usePrograms,
  type RunningProgram,
} from '../helpers/programs.js';
import { ScrapeTarget } from '../helpers/scrape-target.js';

const PROJECT = 'world';

/** From a program's start to its first alert in Alarm Center, and more (see the timing note). */
/** Between two looks at a program that acts within seconds: polling every turn would take a core from it. */
const POLL_MS = 50;
const PROMETHEUS_DELIVERY_MS = 15_000;
/** An alert already flowing to its change in Alarm Center. */
const CHANGE_MS = 10_000;

/** What Prometheus answers to an instant query. */
interface QueryBody {
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('the Prometheus world', function () {
  this.timeout(45_000);
  // Registered first, so its afterEach stops the programs before the server closes.
  const programs = usePrograms();
  let server: RunningServer;

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  const alarms = async (project = PROJECT): Promise<AlarmJson[]> =>
    ((await request(server.url).get(`/v4/${project}/admin/alarms`).expect(200)).body as { alarms: AlarmJson[] }).alarms;
  const find = async (id: string, source?: string, project = PROJECT) =>
    (await alarms(project)).find((a) => a.id === id && (source === undefined || a.source === source));
  /** Waits until the alarm is in `status`, and answers it. */
  const waitForAlarm = (id: string, source: string | undefined, status: AlarmJson['status'], timeoutMs: number) =>
    waitFor(`${id} ${source ?? ''} ${status} in Alarm Center`, async () => {
      const alarm = await find(id, source);
      return alarm?.status === status ? alarm : undefined;
    }, timeoutMs, POLL_MS);
  /** Alarm Center as the Alertmanager of a Prometheus config, for the project. */
  const alarmCenterAsAlertmanager = () => ({
    alertmanagers: [{ api_version: 'v2', path_prefix: `/v4/${PROJECT}`, static_configs: [{ targets: [`127.0.0.1:${server.port}`] }] }],
  });

  describe('Prometheus with Alarm Center as its Alertmanager', () => {
    let target: ScrapeTarget | undefined;

    before(function () {
      requirePrograms(this, [PROMETHEUS]);
    });

    afterEach(async () => {
      await target?.stop();
      target = undefined;
    });

    /** Prometheus's last `up` of the target: '1', '0', or undefined before its first scrape. */
    const upOf = async (prometheus: RunningProgram): Promise<string | undefined> => {
      const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent('up{job="target"}')}`);
      return ((await res.json()) as QueryBody).data.result[0]?.value[1];
    };

    it('raises TargetDown when its target stops answering scrapes, and clears it when the target is back', async () => {
      target = await ScrapeTarget.listen();
      const prometheus = await programs.start(
        prometheusSpec({
          config: {
            global: { scrape_interval: '1s', scrape_timeout: '500ms', evaluation_interval: '1s' },
            scrape_configs: [{ job_name: 'target', static_configs: [{ targets: [target.address] }] }],
            alerting: alarmCenterAsAlertmanager(),
          },
          rules: {
            groups: [
              {
                name: 'world',
                rules: [
                  {
                    alert: 'TargetDown',
                    expr: 'up{job="target"} == 0',
                    for: '0s',
                    labels: { severity: 'critical' },
                    annotations: { summary: 'target {{ $labels.instance }} is down' },
                  },
                ],
              },
            ],
          },
        }),
      );
      await waitFor('Prometheus to scrape the target', async () => (await upOf(prometheus)) === '1', PROMETHEUS_DELIVERY_MS, POLL_MS);
      expect(await find('TargetDown'), 'no alarm while the target answers').to.equal(undefined);

      await target.stop();

      const source = `{instance="${target.address}",job="target",severity="critical"}`;
      const raised = await waitForAlarm('TargetDown', undefined, 'ACTIVATED', PROMETHEUS_DELIVERY_MS);
      expect(raised).to.include({ id: 'TargetDown', source, severity: 'critical' });
      expect(raised.fields.detail).to.equal(`target ${target.address} is down`);
      expect(raised.fields.labels).to.deep.equal({ alertname: 'TargetDown', instance: target.address, job: 'target', severity: 'critical' });

      await target.start();

      await waitForAlarm('TargetDown', source, 'CLEARED', CHANGE_MS);
      expect((await alarms()).map((a) => `${a.id} ${a.status}`)).to.deep.equal(['TargetDown CLEARED']);
    });
  });

  describe('Alertmanager with Alarm Center as a webhook receiver', () => {
    before(function () {
      requirePrograms(this, [ALERTMANAGER]);
    });

    const startAlertmanager = () =>
      programs.start(
        alertmanagerSpec({
          // One group per alert, flushed at once, changes sent within a second.
          route: { receiver: 'alarm-center', group_by: ['...'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' },
          receivers: [
            {
              name: 'alarm-center',
              webhook_configs: [{ url: `http://127.0.0.1:${server.port}/v4/${PROJECT}/integrations/alertmanager`, send_resolved: true }],
            },
          ],
        }),
      );
    const post = async (alertmanager: RunningProgram, alerts: unknown[]) => {
      const res = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(alerts) });
      expect(res.status, await res.text()).to.equal(200);
    };

    it('raises the alerts posted to Alertmanager, and clears each once it is resolved', async () => {
      const alertmanager = await startAlertmanager();
      const diskA = { labels: { alertname: 'DiskFull', host: 'a', severity: 'warning' }, annotations: { summary: 'disk a is full' } };
      const diskB = { labels: { alertname: 'DiskFull', host: 'b', severity: 'critical' }, annotations: { summary: 'disk b is full' } };

      await post(alertmanager, [diskA, diskB]);

      const a = await waitForAlarm('DiskFull', '{host="a",severity="warning"}', 'ACTIVATED', CHANGE_MS);
      expect(a).to.include({ severity: 'warning' });
      expect(a.fields.detail).to.equal('disk a is full');
      expect(a.fields.fingerprint, "Alertmanager's fingerprint").to.match(/^[0-9a-f]{16}$/);
      const b = await waitForAlarm('DiskFull', '{host="b",severity="critical"}', 'ACTIVATED', CHANGE_MS);
      expect(b).to.include({ severity: 'critical' });
      expect(b.fields.detail).to.equal('disk b is full');

      const past = new Date(Date.now() - 1000).toISOString();
      await post(alertmanager, [{ ...diskA, endsAt: past }]);

      await waitForAlarm('DiskFull', '{host="a",severity="warning"}', 'CLEARED', CHANGE_MS);
      expect(await find('DiskFull', '{host="b",severity="critical"}'), 'the other alert').to.include({ status: 'ACTIVATED' });

      await post(alertmanager, [{ ...diskB, endsAt: past }]);

      await waitForAlarm('DiskFull', '{host="b",severity="critical"}', 'CLEARED', CHANGE_MS);
    });
  });

  describe('amtool with Alarm Center as its Alertmanager', () => {
    before(function () {
      requirePrograms(this, [AMTOOL]);
    });

    /** amtool's exit code must be 0; it warns on stderr that Alarm Center's version is not its own. */
    const amtool = async (url: string, ...args: string[]) => {
      const { code, stdout, stderr } = await runProgram(AMTOOL.command, [...args, `--alertmanager.url=${url}`]);
      expect(code, `amtool ${args.join(' ')}:\n${stdout}${stderr}`).to.equal(0);
      return stdout;
    };
    const queryJson = async (url: string, ...matchers: string[]) =>
      (JSON.parse(await amtool(url, 'alert', 'query', '--output=json', ...matchers)) as { labels: Record<string, string> }[]).map((a) => a.labels);

    for (const { name, base, project } of [
      { name: 'at the root, for the default project', base: '', project: 'default' },
      { name: `under /v4/${PROJECT}, for that project`, base: `/v4/${PROJECT}`, project: PROJECT },
    ]) {
      describe(name, () => {
        const url = () => `http://127.0.0.1:${server.port}${base}`;

        it('adds an alert that Alarm Center lists and amtool queries back', async () => {
          await amtool(url(), 'alert', 'add', 'alertname=ManualCheck', 'team=ops', 'severity=major', '--annotation=summary=added by amtool');

          const alarm = await find('ManualCheck', undefined, project);
          expect(alarm).to.include({ status: 'ACTIVATED', source: '{severity="major",team="ops"}', severity: 'major' });
          expect(alarm?.fields.detail).to.equal('added by amtool');
          expect(await queryJson(url())).to.deep.equal([{ alertname: 'ManualCheck', severity: 'major', team: 'ops' }]);
          expect(await amtool(url(), 'alert', 'query', '--output=simple')).to.match(/^ManualCheck\s+.*\s+added by amtool\s+active\s*$/m);
        });

        it('filters amtool alert query by its matchers', async () => {
          await amtool(url(), 'alert', 'add', 'alertname=ManualCheck', 'team=ops');
          await amtool(url(), 'alert', 'add', 'alertname=OtherCheck', 'team=dev');

          expect(await queryJson(url(), 'alertname=OtherCheck')).to.deep.equal([{ alertname: 'OtherCheck', team: 'dev' }]);
          expect(await queryJson(url(), 'team=~op.*')).to.deep.equal([{ alertname: 'ManualCheck', team: 'ops' }]);
          expect(await queryJson(url(), 'alertname=NoSuchCheck')).to.deep.equal([]);
        });
      });
    }

    it('keeps the projects apart', async () => {
      await amtool(`http://127.0.0.1:${server.port}/v4/${PROJECT}`, 'alert', 'add', 'alertname=ManualCheck');

      expect(await queryJson(`http://127.0.0.1:${server.port}`)).to.deep.equal([]);
      expect(await alarms('default')).to.deep.equal([]);
    });
  });

  describe('the watchdog with a real Prometheus', () => {
    before(function () {
      requirePrograms(this, [PROMETHEUS]);
    });

    it('raises AlertingPipelineDown once Prometheus stops and its Watchdog expires, and clears it when a Prometheus sends it again', async () => {
      const spec = prometheusSpec({
        config: {
          global: { evaluation_interval: '1s', external_labels: { prometheus: 'world-test' } },
          alerting: alarmCenterAsAlertmanager(),
        },
        rules: {
          groups: [{ name: 'meta', rules: [{ alert: 'Watchdog', expr: 'vector(1)', labels: { severity: 'none' }, annotations: { summary: 'the alerting pipeline works' } }] }],
        },
      });
      const source = '{prometheus="world-test",severity="none"}';
      const first = await programs.start(spec);
      await waitForAlarm('Watchdog', source, 'ACTIVATED', PROMETHEUS_DELIVERY_MS);
      expect(await find('AlertingPipelineDown')).to.equal(undefined);

      await first.stop();

      const down = await waitForAlarm('AlertingPipelineDown', source, 'ACTIVATED', CHANGE_MS);
      expect(down).to.include({ severity: 'critical' });
      expect(down.fields).to.include({ alert: 'Watchdog' });
      expect(await find('Watchdog', source), 'the Watchdog alarm, expired').to.include({ status: 'CLEARED' });

      await programs.start(spec);

      await waitForAlarm('AlertingPipelineDown', source, 'CLEARED', PROMETHEUS_DELIVERY_MS);
      expect(await find('Watchdog', source)).to.include({ status: 'ACTIVATED' });
    });
  });
});
