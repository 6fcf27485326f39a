/**
 * Part I: heartbeats and active checks, on fresh servers stopped at its end also when it fails.
 * - With vs none: single raises (a new alarm per request, as part B's raise row) to two Alarm
 *   Centers as part B runs them, one plain, one with `checks` HTTP checks every second and
 *   `heartbeats` heartbeats beaten once a second each, taking turns as part B does. The beats come
 *   from the beater (checks-beater.ts), a process of its own, which beats during the turns of the
 *   server with heartbeats only (their timeout outlasts the other side's turn); the checks run all
 *   the time. Their target (probe-target.ts) answers every request 200 at once and counts them
 *   by path. Beside the rates: each server's CPU per 1,000
 *   raises, the beats and probes per second achieved during the turns, and a check that neither
 *   the heartbeats nor the checks raised anything; before the turns, the same background without
 *   raises, for its CPU alone: the checks alone, then with the beats.
 * - Lapse delay (checks-lapse.ts): on the server with heartbeats, afterwards, while its heartbeats
 *   beat and its checks run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Tally } from './checks-beater.js';
import { LAPSE_NOTE, lapseHead, measureLapses, missingOf, type Missing } from './checks-lapse.js';
import { withServers, type ChildServer } from './children.js';
import { compare, getJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { metricsText, samples, sumOf } from './notify-readings.js';
import { alarmInput, sequence } from './payloads.js';
import { processCpuSeconds } from './process-cpu.js';
import { dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { serverBuilt, startAlarmCenter, startAlarmCenterWithConfig, startHeartbeatBeater, startProbeTarget } from './servers.js';
import type { ReceiverCounts } from './webhook-receiver.js';

/** Sizes of part I. */
export interface ChecksSettings {
  /** How the with-vs-none comparison drives each side (as part B). */
  load: LoadSettings;
  heartbeats: number;
  checks: number;
  /** Heartbeats left to lapse in the delay measurement. */
  lapses: number;
}

interface Head {
  what: string;
  target: string;
}

const ALARMS = '/v4/default/admin/alarms';
const CHECKS = '/v4/default/admin/checks';
/** The target's path; each check adds its name as the query, so the receiver counts them together. */
const TARGET_PATH = '/check-target';
const RATIO_TARGET = 0.9;
/** The share of the scheduled beats and probes per second that must be achieved during the raises. */
const ACHIEVED_SHARE = 0.95;
/**
 * The timeout of the beaten heartbeats: longer than the other side's turn (its warm-up and its
 * share of the measured seconds), during which the beater pauses, so none lapses then.
 */
const HEARTBEAT_TIMEOUT_SECONDS = 30;
/** Seconds of each part of the background without raises (checks alone, then with the beats), after one of ramp-up. */
const BACKGROUND_SECONDS = 5;
/** Unmeasured seconds at the start of each turn after a side's first, as load.ts ramps up its later slices. */
const RAMP_SECONDS = 1;
const PAUSE_TIMEOUT_MS = 15_000;

/** The processes of the measurement. */
interface World {
  none: ChildServer;
  with: ChildServer;
  beater: ChildServer;
  target: ChildServer;
}

/** CPU seconds of every process, the target's probes counted and one server's revision, at one moment. */
interface Snapshot {
  at: number;
  cpu: Record<keyof World, number>;
  probes: number;
  revision: number;
}

/** One stretch of time: what it lasted, what each process spent, what the side committed and the checks probed. */
interface Span {
  seconds: number;
  cpu: Record<keyof World, number>;
  committed: number;
  probes: number;
  beats?: Tally;
}

interface Turn extends Span {
  load: LoadFigures;
}

async function snapshot(w: World, server: ChildServer): Promise<Snapshot> {
  const counts = (await getJson(`${w.target.url}/counts`)) as ReceiverCounts;
  const revision = sumOf(samples(await metricsText(server), 'alarm_center_store_revision'));
  const cpu = { none: 0, with: 0, beater: 0, target: 0 };
  for (const k of Object.keys(cpu) as (keyof World)[]) {
    if (!w[k].alive) throw new Error(`${w[k].name} exited; its last output:\n${w[k].output()}`);
    cpu[k] = processCpuSeconds(w[k].pid);
  }
  return { at: performance.now(), cpu, probes: counts.paths[TARGET_PATH]?.requests ?? 0, revision };
}

function span(a: Snapshot, b: Snapshot, beats?: Tally): Span {
  const cpu = { none: 0, with: 0, beater: 0, target: 0 };
  for (const k of Object.keys(cpu) as (keyof World)[]) cpu[k] = b.cpu[k] - a.cpu[k];
  return { seconds: (b.at - a.at) / 1000, cpu, committed: b.revision - a.revision, probes: b.probes - a.probes, ...(beats && { beats }) };
}

/** Asks the beater to pause and answers what its run since the last start came to. */
async function pauseBeater(beater: ChildServer): Promise<Tally> {
  const line = beater.waitForLine((l) => (l.includes('"message":"paused"') ? l : undefined), PAUSE_TIMEOUT_MS);
  beater.proc.kill('SIGUSR2');
  const tally = JSON.parse(await line) as Partial<Tally>;
  if (typeof tally.ok !== 'number') throw new Error('the heartbeat beater paused without having beaten');
  return tally as Tally;
}

/** Writes the config file of the server with checks: `n` HTTP checks of the target, every second. */
function writeChecksConfig(dir: string, target: string, n: number): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'alarm-center.json');
  const checks = Array.from({ length: n }, (_, i) => ({ name: `check-${i}`, http: `${target}${TARGET_PATH}?check-${i}`, intervalSeconds: 1 }));
  fs.writeFileSync(file, `${JSON.stringify({ checks }, null, 2)}\n`);
  return file;
}

/** Raises one new alarm per request. */
function raiseEndpoint(server: ChildServer, next: () => number): Endpoint {
  return { url: server.url, method: 'POST', path: ALARMS, body: () => JSON.stringify(alarmInput(next())) };
}

/** One side's turn: its share of the measured seconds after `warmup` unmeasured ones, the beater running on the with side's. */
async function turn(w: World, side: 'none' | 'with', endpoint: Endpoint, load: LoadSettings, warmup: number): Promise<Turn> {
  const server = w[side];
  const before = await snapshot(w, server);
  if (side === 'with') w.beater.proc.kill('SIGUSR1');
  const r = await compare({ side: endpoint }, { connections: load.connections, seconds: load.seconds / load.rounds, warmupSeconds: warmup, rounds: 1 });
  const beats = side === 'with' ? await pauseBeater(w.beater) : undefined;
  return { ...span(before, await snapshot(w, server), beats), load: r.side };
}

/** The sides' turns, taken as part B's comparisons take them. */
async function takeTurns(w: World, load: LoadSettings): Promise<{ none: Turn[]; with: Turn[] }> {
  const next = sequence();
  const out = { none: [] as Turn[], with: [] as Turn[] };
  for (let round = 0; round < load.rounds; round++) {
    const warmup = round === 0 ? load.warmupSeconds : RAMP_SECONDS;
    out.none.push(await turn(w, 'none', raiseEndpoint(w.none, next), load, warmup));
    out.with.push(await turn(w, 'with', raiseEndpoint(w.with, next), load, warmup));
  }
  return out;
}

/** The background alone, without raises: BACKGROUND_SECONDS of the checks alone, then as long with the beats too. */
async function background(w: World): Promise<{ checks: Span; both: Span }> {
  const alone = await snapshot(w, w.with);
  await delay(BACKGROUND_SECONDS * 1000);
  const checks = span(alone, await snapshot(w, w.with));
  w.beater.proc.kill('SIGUSR1');
  await delay(RAMP_SECONDS * 1000);
  const before = await snapshot(w, w.with);
  await delay(BACKGROUND_SECONDS * 1000);
  const after = await snapshot(w, w.with);
  return { checks, both: span(before, after, await pauseBeater(w.beater)) };
}

function sum<T>(items: readonly T[], pick: (t: T) => number): number {
  return items.reduce((s, t) => s + pick(t), 0);
}

/** Answered requests per second over a side's measured time. */
function rateOf(turns: readonly Turn[]): number {
  return sum(turns, (t) => t.load.reqPerSec * t.load.seconds) / sum(turns, (t) => t.load.seconds);
}

/** Milliseconds of the side's server CPU per 1,000 committed raises. */
function cpuPerThousand(turns: readonly Turn[], side: 'none' | 'with'): number {
  return (sum(turns, (t) => t.cpu[side]) * 1_000_000) / sum(turns, (t) => t.committed);
}

function rateCell(turns: readonly Turn[]): string {
  const failures = sum(turns, (t) => t.load.failures);
  return `${int(rateOf(turns))} req/s · p99 ${turns.map((t) => dec(t.load.p99Ms, 1)).join(' / ')} ms${failures > 0 ? ` · ${int(failures)} failed` : ''}`;
}

function cpuCell(turns: readonly Turn[], side: 'none' | 'with'): string {
  return `${dec(cpuPerThousand(turns, side), 1)} ms per 1,000 raises (${dec(sum(turns, (t) => t.cpu[side]), 1)} s for ${int(sum(turns, (t) => t.committed))})`;
}

/** Beats answered per second over the spans, and the beats that failed. */
function beatsOf(spans: readonly Span[]): { rate: number; failed: number; behindMaxMs: number } {
  const tallies = spans.flatMap((s) => (s.beats ? [s.beats] : []));
  return { rate: sum(tallies, (t) => t.ok) / sum(tallies, (t) => t.seconds), failed: sum(tallies, (t) => t.failed), behindMaxMs: Math.max(0, ...tallies.map((t) => t.behindMaxMs)) };
}

/** What the heartbeats and checks raised: HeartbeatMissing alarms by source, checks' alarms, and checks not running. */
interface Raised {
  missing: Missing;
  checksRaised: number;
  checksNotRunning: number;
}

async function raisedOf(server: ChildServer): Promise<Raised> {
  const missing = await missingOf(server);
  // A page sorts by source: the checks' sources (check-…) come before the raises' (svc-…).
  const page = (await getJson(`${server.url}${ALARMS}?id=BackendConnectionRefuse&limit=1000`)) as { alarms: { source: string }[] };
  const checks = ((await getJson(`${server.url}${CHECKS}`)) as { checks: { running: boolean }[] }).checks;
  return { missing, checksRaised: page.alarms.filter((a) => a.source.startsWith('check-')).length, checksNotRunning: checks.filter((c) => !c.running).length };
}

function heads(s: ChecksSettings): Head[] {
  const bg = `${int(s.heartbeats)} heartbeats beating 1/s each + ${int(s.checks)} HTTP checks every 1 s`;
  return [
    { what: `heartbeats and checks: single raise (new alarm per request) with ${bg} vs none, req/s`, target: `ratio ≥ ${dec(RATIO_TARGET, 1)}` },
    { what: 'heartbeats and checks: server CPU (utime + stime) per 1,000 raises, with vs none', target: '—' },
    {
      what: "heartbeats and checks during the raises: beats answered/s, probes/s (the target's requests), HeartbeatMissing and checks raised",
      target: `≥ ${ACHIEVED_SHARE * 100} % of ${int(s.heartbeats)}/s and ${int(s.checks)}/s · 0 raised`,
    },
    { what: `heartbeats and checks without raises: server CPU for ${bg}, and for the checks alone`, target: '—' },
    lapseHead(s.lapses),
  ];
}

/** The rows of the with-vs-none comparison, the check of what ran beside it, and the background alone. */
function comparisonRows(h: Head[], s: ChecksSettings, turns: { none: Turn[]; with: Turn[] }, bg: { checks: Span; both: Span }, raised: Raised): Row[] {
  const ratio = rateOf(turns.with) / rateOf(turns.none);
  const clean = sum([...turns.none, ...turns.with], (t) => t.load.failures) === 0;
  const beats = beatsOf(turns.with);
  const probes = sum(turns.with, (t) => t.probes) / sum(turns.with, (t) => t.seconds);
  const ok =
    beats.rate >= ACHIEVED_SHARE * s.heartbeats && beats.failed === 0 && probes >= ACHIEVED_SHARE * s.checks && raised.missing.length === 0 && raised.checksRaised === 0 && raised.checksNotRunning === 0;
  const bgBeats = beatsOf([bg.both]);
  const share = (x: Span, k: keyof World): string => `${dec((x.cpu[k] * 100) / x.seconds, 1)} %`;
  const perBeat = ((bg.both.cpu.with / bg.both.seconds - bg.checks.cpu.with / bg.checks.seconds) * 1_000_000) / bgBeats.rate;
  return [
    { ...(h[0] as Head), alarmCenter: rateCell(turns.with), comparison: rateCell(turns.none), ratio, verdict: verdict(ratio >= RATIO_TARGET && clean) },
    { ...(h[1] as Head), alarmCenter: cpuCell(turns.with, 'with'), comparison: cpuCell(turns.none, 'none'), ratio: cpuPerThousand(turns.with, 'with') / cpuPerThousand(turns.none, 'none'), verdict: 'info' },
    {
      ...(h[2] as Head),
      alarmCenter:
        `${int(beats.rate)} beats/s (${int(beats.failed)} failed, at most ${dec(beats.behindMaxMs, 0)} ms behind the schedule) · ${int(probes)} probes/s · ` +
        `${int(raised.missing.length)} HeartbeatMissing · ${int(raised.checksRaised)} checks raised · ${int(raised.checksNotRunning)} checks not running`,
      comparison: '—',
      verdict: verdict(ok),
    },
    {
      ...(h[3] as Head),
      alarmCenter:
        `${share(bg.both, 'with')} of a core (${int(bgBeats.rate)} beats/s, ${int(bg.both.probes / bg.both.seconds)} probes/s) · checks alone ` +
        `${share(bg.checks, 'with')} (${int(bg.checks.probes / bg.checks.seconds)} probes/s) · ${int(perBeat)} µs per beat`,
      comparison: `beater ${share(bg.both, 'beater')}, target ${share(bg.both, 'target')} of a core`,
      verdict: 'info',
    },
  ];
}

function methodNotes(s: ChecksSettings): string[] {
  const { connections, seconds, warmupSeconds, rounds } = s.load;
  return [
    `Heartbeats and checks: two Alarm Centers as part B runs them (SQLite, durability full, log level info), one plain, one ` +
      `with ${int(s.checks)} HTTP checks (intervalSeconds 1) of a target in a process of its own answering 200 at once ` +
      `(a TCP server reading the request line only), and ${int(s.heartbeats)} heartbeats (timeout ${HEARTBEAT_TIMEOUT_SECONDS} s) ` +
      `beaten by a beater in a process of its own: empty PUTs on keep-alive connections written as prepared bytes (the ` +
      `target and the beater take a fraction of what node:http would of the cores the servers use), open loop, ${int(s.heartbeats)}/s spread evenly, each heartbeat once a ` +
      `second. Single raises of a new alarm each, autocannon, ${connections} connections, ${seconds} s measured per side after ` +
      `a ${warmupSeconds} s warm-up, taking turns in ${rounds} rounds; the beater beats during the turns of the server with ` +
      `heartbeats only, the checks run all the time. CPU per 1,000 raises: utime + stime of each server over its turns, ` +
      `warm-ups included, ÷ the revisions it committed over them. Probes/s: the target's requests over those turns. ` +
      `The checks all probe together once a second, so a turn's count is ± one burst of ${int(s.checks)}. The beater's and ` +
      `the target's CPU is spent on the cores the servers and the load generator use. Before the turns, without raises: ` +
      `${BACKGROUND_SECONDS} s of the checks alone, then ${BACKGROUND_SECONDS} s with the beats too; the CPU per beat is ` +
      `the difference ÷ the beats answered.`,
    LAPSE_NOTE,
  ];
}

/** Runs the measurements on their servers; their rows in the order of `heads`. */
async function measure(dir: (name: string) => string, s: ChecksSettings, h: Head[], section: Section, progress: (what: string) => void): Promise<Row[]> {
  return withServers({ target: () => startProbeTarget() }, async ({ target }) => {
    const config = writeChecksConfig(dir('with'), target.url, s.checks);
    const starts = {
      none: () => startAlarmCenter(dir('none')),
      with: () => startAlarmCenterWithConfig(dir('with'), config, 'Alarm Center with heartbeats and checks'),
    };
    return withServers(starts, async (servers) => {
      const beat = { beater: () => startHeartbeatBeater(servers.with.url, s.heartbeats, HEARTBEAT_TIMEOUT_SECONDS) };
      return withServers(beat, async ({ beater }) => {
        const w: World = { ...servers, beater, target };
        progress('the heartbeats and checks without raises');
        const bg = await background(w);
        progress(h[0]?.what ?? '');
        const turns = await takeTurns(w, s.load);
        const raised = await raisedOf(w.with);
        section.figures.checks = { background: bg, turns, raised: { ...raised, missing: raised.missing.length } };
        const rows = comparisonRows(h, s, turns, bg, raised);
        progress(h[4]?.what ?? '');
        try {
          const lapse = await measureLapses(w.with, s.lapses, { start: () => w.beater.proc.kill('SIGUSR1'), pause: () => pauseBeater(w.beater) });
          section.figures.checksLapse = lapse.figures;
          rows.push(lapse.row);
        } catch (err) {
          section.notes.push(`error in "${h[4]?.what}": ${err instanceof Error ? err.message : String(err)}`);
          rows.push(errorRow(h[4]?.what ?? '', h[4]?.target ?? '', err));
        }
        return rows;
      });
    });
  });
}

/** Runs part I in `workDir`; its rows are skipped when the server is not built. */
export async function runChecks(workDir: string, settings: ChecksSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const h = heads(settings);
  if (!serverBuilt()) {
    section.rows.push(...h.map((x) => skippedRow(x.what, x.target, 'server not built')));
    return section;
  }
  const dir = (name: string): string => path.join(workDir, name);
  try {
    section.rows.push(...(await measure(dir, settings, h, section, progress)));
  } catch (err) {
    section.notes.push(`error in "${h[0]?.what}": ${err instanceof Error ? err.message : String(err)}`);
    section.rows.push(...h.map((x) => errorRow(x.what, x.target, err)));
  }
  section.notes.push(...methodNotes(settings));
  return section;
}
