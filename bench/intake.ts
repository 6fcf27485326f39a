/**
 * Part F: Alertmanager's API v2 intake, Alarm Center against Prometheus Alertmanager. Both are
 * sent the same bodies, 100 postableAlerts per POST /api/v2/alerts shaped as Prometheus sends
 * them, driven as part B drives its comparisons (same connections and duration, taking turns, so
 * one server is under load at a time), each phase on fresh servers:
 * - new alerts: every request brings label sets the server does not hold yet;
 * - re-sends: both servers first hold the same firing alerts; every request then re-sends a slice
 *   of them unchanged but for a later endsAt, as Prometheus repeats alerts while they fire.
 * Beside each figure, the CPU each server's process spent per 1,000 alerts; a row per phase checks,
 * from the servers' own counts, that they took the alerts, and that the re-sends added no history
 * to Alarm Center. Both servers are stopped at the end of each phase, also when it fails.
 */
import os from 'node:os';
import path from 'node:path';
import { withServers, type ChildServer } from './children.js';
import { settledReadings, SIDES, type Side } from './intake-readings.js';
import { compare, getJson, loadInBatches, postJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { alert, sequence, type AlertJson } from './payloads.js';
import { dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { ALERTMANAGER_BIN, alertmanagerInstalled, serverBuilt, startAlarmCenter, startAlertmanager } from './servers.js';

/** Sizes of the intake part. */
export interface IntakeSettings {
  load: LoadSettings;
  /** Alerts per request. */
  batchSize: number;
  /** Alerts firing on each server before the re-sends. */
  firing: number;
}

/** An alert as Prometheus posts it: the bench alert, with an end and the rule's link. */
type PostableAlert = AlertJson & { endsAt: string; generatorURL: string };

/** When every alert of the part starts, and the endsAt it is raised with (re-sends move it later). */
interface Times {
  startsAt: string;
  endsAt: string;
}

/** The name and target of a row, known before it is measured (for skip and error rows). */
interface Head {
  what: string;
  target: string;
}

/** The rows of a phase: its rate, its CPU, and what the servers took. */
type Heads = [rate: Head, cpu: Head, taken: Head];

/** One phase: its rows and how to measure them. */
interface Phase {
  heads: (s: IntakeSettings) => Heads;
  run: (ctx: Context, heads: Heads) => Promise<Row[]>;
}

interface Context {
  settings: IntakeSettings;
  section: Section;
  workDir: string;
  times: Times;
}

/** What one side of a phase saw: the load, and what the server took over the whole comparison. */
type SideResult = LoadFigures & { taken: number; stored: number; cpuSeconds: number };

const ALERTS = '/api/v2/alerts';
const GENERATOR_URL = 'http://prometheus.example:9090/graph?g0.expr=up%3D%3D0';
/** How far ahead of the part's start the alerts end, as raised. */
const ENDS_AFTER_MS = 3_600_000;
const FIRING_IN_FLIGHT = 4;
const NEW_TARGET = 1;
const RESEND_TARGET = 1.5;
const NO_ALERTMANAGER = `Alertmanager not installed (no ${ALERTMANAGER_BIN})`;

/** Alert n as Prometheus posts it. */
function postable(n: number, t: Times): PostableAlert {
  return { ...alert(n, t.startsAt), endsAt: t.endsAt, generatorURL: GENERATOR_URL };
}

/** `size` alerts from `first`, as raised. */
function postables(first: number, size: number, t: Times): PostableAlert[] {
  return Array.from({ length: size }, (_, i) => postable(first + i, t));
}

/** New alerts: the k-th body of each returned function holds alerts k·size to k·size + size − 1. */
function newBodies(size: number, t: Times): () => string {
  const next = sequence();
  return () => JSON.stringify(postables(next(size), size, t));
}

/**
 * Re-sends of the firing set, `raised` (its bodies as raised, serialized once): the k-th body of
 * each returned function is body k mod n with every endsAt k + 1 ms later than raised.
 */
function resendBodies(raised: readonly string[], t: Times): () => string {
  const next = sequence();
  const endsAt = `"endsAt":"${t.endsAt}"`;
  const raisedMs = Date.parse(t.endsAt);
  return () => {
    const k = next();
    return (raised[k % raised.length] as string).replaceAll(endsAt, `"endsAt":"${new Date(raisedMs + k + 1).toISOString()}"`);
  };
}

/** Fresh servers for a phase: Alarm Center as part B runs it, Alertmanager as part B runs it. */
function starts(ctx: Context, phase: string): Record<Side, () => Promise<ChildServer>> {
  return {
    ac: () => startAlarmCenter(path.join(ctx.workDir, `${phase}-alarm-center`)),
    am: () => startAlertmanager(path.join(ctx.workDir, `${phase}-alertmanager`), ctx.settings.load.connections),
  };
}

/** Drives both servers with bodies from `bodies()` (a fresh sequence per side), reading them around it. */
async function drive(ctx: Context, s: Record<Side, ChildServer>, bodies: () => () => string): Promise<Record<Side, SideResult>> {
  const endpoint = (server: ChildServer): Endpoint => ({ url: server.url, method: 'POST', path: ALERTS, body: bodies() });
  const before = await settledReadings(s);
  const r = await compare({ ac: endpoint(s.ac), am: endpoint(s.am) }, ctx.settings.load);
  const after = await settledReadings(s);
  const side = (k: Side): SideResult => ({
    ...r[k],
    taken: after[k].received - before[k].received,
    stored: after[k].stored - before[k].stored,
    cpuSeconds: after[k].cpuSeconds - before[k].cpuSeconds,
  });
  return { ac: side('ac'), am: side('am') };
}

/** Alerts in the 2xx answers of the measured time: a server must have taken at least these. */
function answered(f: SideResult, size: number): number {
  return (f.requests - f.non2xx) * size;
}

/** Milliseconds of CPU per 1,000 alerts taken. */
function cpuPerThousand(f: SideResult): number {
  return (f.cpuSeconds * 1_000_000) / f.taken;
}

function rateCell(f: SideResult, size: number): string {
  const failed = f.failures > 0 ? ` · ${int(f.failures)} failed` : '';
  return `${int(f.reqPerSec * size)} alerts/s · p99 ${dec(f.p99Ms, 1)} ms${failed}`;
}

function cpuCell(f: SideResult): string {
  return `${dec(cpuPerThousand(f), 1)} ms per 1,000 alerts (${dec(f.cpuSeconds, 1)} s for ${int(f.taken)})`;
}

/** The rate and CPU rows of a phase. */
function measuredRows([rate, cpu]: Heads, r: Record<Side, SideResult>, size: number, target: number): Row[] {
  const ratio = r.ac.reqPerSec / r.am.reqPerSec;
  const ok = ratio >= target && r.ac.failures === 0 && r.am.failures === 0;
  return [
    { ...rate, alarmCenter: rateCell(r.ac, size), comparison: rateCell(r.am, size), ratio, verdict: verdict(ok) },
    { ...cpu, alarmCenter: cpuCell(r.ac), comparison: cpuCell(r.am), ratio: cpuPerThousand(r.ac) / cpuPerThousand(r.am), verdict: 'info' },
  ];
}

const newAlerts: Phase = {
  heads: (s) => [
    { what: `intake: batch of ${s.batchSize} new alerts per POST ${ALERTS}, alerts/s vs Alertmanager`, target: `ratio ≥ ${dec(NEW_TARGET, 1)}` },
    { what: 'intake: server CPU (utime + stime) per 1,000 new alerts', target: '—' },
    { what: 'intake: new alerts taken (each a new alarm on Alarm Center, a new alert held on Alertmanager)', target: 'all' },
  ],
  async run(ctx, heads) {
    const size = ctx.settings.batchSize;
    const r = await withServers(starts(ctx, 'new'), (s) => drive(ctx, s, () => newBodies(size, ctx.times)));
    ctx.section.figures.intakeNew = { size, alarmCenter: r.ac, alertmanager: r.am };
    const took = (f: SideResult) => f.taken >= answered(f, size) && f.stored === f.taken;
    return [
      ...measuredRows(heads, r, size, NEW_TARGET),
      {
        ...heads[2],
        alarmCenter: `${int(r.ac.taken)} accepted · revision +${int(r.ac.stored)} · ${int(answered(r.ac, size))} answered 2xx while measured`,
        comparison: `${int(r.am.taken)} received · +${int(r.am.stored)} held · ${int(answered(r.am, size))} answered 2xx while measured`,
        verdict: verdict(took(r.ac) && took(r.am)),
      },
    ];
  },
};

/** How many alerts a server lists, and how many of them end later than they were raised to. */
async function listed(server: ChildServer, t: Times): Promise<{ alerts: number; moved: number }> {
  const alerts = (await getJson(`${server.url}${ALERTS}`)) as { endsAt: string }[];
  const raised = Date.parse(t.endsAt);
  return { alerts: alerts.length, moved: alerts.filter((a) => Date.parse(a.endsAt) > raised).length };
}

const resends: Phase = {
  heads: (s) => [
    {
      what: `intake: batch of ${s.batchSize} unchanged re-sends (later endsAt) of ${int(s.firing)} firing alerts per POST ${ALERTS}, alerts/s vs Alertmanager`,
      target: `ratio ≥ ${dec(RESEND_TARGET, 1)}`,
    },
    { what: 'intake: server CPU (utime + stime) per 1,000 re-sent alerts', target: '—' },
    { what: 'intake: re-sends taken (every firing alert listed with a later endsAt) and none stored anew', target: 'all · Alarm Center revision +0' },
  ],
  async run(ctx, heads) {
    const { batchSize: size, firing } = ctx.settings;
    const slices = Array.from({ length: Math.ceil(firing / size) }, (_, i) => postables(i * size, Math.min(size, firing - i * size), ctx.times));
    const raised = slices.map((slice) => JSON.stringify(slice));
    const r = await withServers(starts(ctx, 'resend'), async (s) => {
      for (const k of SIDES) {
        await loadInBatches(firing, size, FIRING_IN_FLIGHT, (first) => postJson(`${s[k].url}${ALERTS}`, slices[first / size]));
      }
      const figures = await drive(ctx, s, () => resendBodies(raised, ctx.times));
      return { ...figures, listed: { ac: await listed(s.ac, ctx.times), am: await listed(s.am, ctx.times) } };
    });
    ctx.section.figures.intakeResend = { size, firing, alarmCenter: r.ac, alertmanager: r.am, listed: r.listed };
    const cell = (f: SideResult, l: { alerts: number; moved: number }, received: string, stored: string) =>
      `${int(f.taken)} ${received} · ${stored} +${int(f.stored)} · ${int(l.alerts)} listed, ${int(l.moved)} with a later endsAt`;
    const took = (k: Side) => r[k].taken >= answered(r[k], size) && r[k].stored === 0 && r.listed[k].alerts === firing && r.listed[k].moved === firing;
    return [
      ...measuredRows(heads, r, size, RESEND_TARGET),
      {
        ...heads[2],
        alarmCenter: cell(r.ac, r.listed.ac, 'accepted', 'revision'),
        comparison: cell(r.am, r.listed.am, 'received', 'held'),
        verdict: verdict(took('ac') && took('am')),
      },
    ];
  },
};

const PHASES: readonly Phase[] = [newAlerts, resends];

function methodNotes(s: IntakeSettings): string[] {
  const { connections, seconds, warmupSeconds, rounds } = s.load;
  return [
    `Intake: Alarm Center as in part B (SQLite, durability full: each request committed before its answer) and ` +
      `Alertmanager from the Debian package (no clustering, one receiver without integrations, state in a temporary ` +
      `--storage.path; it keeps alerts in memory) get the same bodies: ${s.batchSize} postableAlerts per POST ` +
      `${ALERTS}, each with labels alertname, instance, job and severity, a description annotation, startsAt, endsAt ` +
      `an hour ahead and generatorURL, as Prometheus posts them. autocannon, ${connections} connections per side, ` +
      `${seconds} s measured per side after a ${warmupSeconds} s warm-up, taking turns in ${rounds} rounds, fresh ` +
      `servers per phase. New alerts: request k of each side carries alerts ${s.batchSize}k to ${s.batchSize}k + ` +
      `${s.batchSize - 1}, so both servers get the same bodies in the same order. Re-sends: each server first takes ` +
      `the same ${int(s.firing)} alerts (${s.batchSize} a request, ${FIRING_IN_FLIGHT} in flight); request k then ` +
      `re-sends body k mod ${Math.ceil(s.firing / s.batchSize)} of them with endsAt k + 1 ms later and every other ` +
      `byte as raised, so Alarm Center only moves each alarm's expiry (no history entry, no count).`,
    `Intake CPU per 1,000 alerts: utime + stime of each server's process over the whole comparison (warm-ups and ` +
      `the other side's turns included) ÷ the alerts it counted as taken over it, in its /metrics: ` +
      `alarm_center_intake_alerts_total accepted, alertmanager_alerts_received_total; both read once they stopped ` +
      `moving. Taken: each new alert must add one revision on Alarm Center (alarm_center_store_revision) and one held ` +
      `alert on Alertmanager (alertmanager_alerts, all states), re-sends none; each server must count at least the ` +
      `alerts of the 2xx answers of the measured time, and after the re-sends list every firing alert on GET ` +
      `${ALERTS} with an endsAt later than it was raised with.`,
  ];
}

/** Runs part F in `workDir`; its rows are skipped when the server is not built or Alertmanager is not installed. */
export async function runIntake(workDir: string, settings: IntakeSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const skip = !serverBuilt() ? 'server not built' : !alertmanagerInstalled() ? NO_ALERTMANAGER : undefined;
  if (skip !== undefined) {
    for (const p of PHASES) section.rows.push(...p.heads(settings).map((h) => skippedRow(h.what, h.target, skip)));
    return section;
  }
  const started = performance.now();
  const startsAt = Date.now();
  const times = { startsAt: new Date(startsAt).toISOString(), endsAt: new Date(startsAt + ENDS_AFTER_MS).toISOString() };
  const ctx: Context = { settings, section, workDir, times };
  const loadAverages: number[] = [];
  for (const p of PHASES) {
    const heads = p.heads(settings);
    progress(heads[0].what);
    loadAverages.push(os.loadavg()[0] ?? Number.NaN);
    try {
      section.rows.push(...(await p.run(ctx, heads)));
    } catch (err) {
      section.notes.push(`error in "${heads[0].what}": ${err instanceof Error ? err.message : String(err)}`);
      section.rows.push(...heads.map((h) => errorRow(h.what, h.target, err)));
    }
  }
  const tookSeconds = (performance.now() - started) / 1000;
  section.notes.push(
    ...methodNotes(settings),
    `The intake part took ${dec(tookSeconds, 0)} s; the machine's 1-minute load average before its new-alert and ` +
      `re-send phases: ${loadAverages.map((l) => dec(l, 2)).join(', ')} (${os.cpus().length} cores).`,
  );
  section.figures.intake = { tookSeconds, loadAverages, times };
  return section;
}
