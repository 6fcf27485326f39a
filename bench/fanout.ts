/**
 * Part C: live-watch fan-out. Alarm Center's built server runs in its own process; a second
 * process (fanout-client.ts) opens the WebSocket watchers, all of the same project, so every
 * change goes to every watcher; this process raises the changes one request at a time on a
 * timer schedule. Both children get their soft file-descriptor limit raised to the hard one.
 *
 * Run it alone with `BENCH_ONLY=fanout npm run bench`; BENCH_FANOUT_WATCHERS,
 * BENCH_FANOUT_CHANGES and BENCH_FANOUT_RATE (changes per second) set its size.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ChildServer, listeningUrl } from './children.js';
import { getJson } from './load.js';
import { alarmInput } from './payloads.js';
import { percentile } from './percentile.js';
import { bytes, dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { serverBuilt } from './servers.js';

/** Sizes of the fan-out measurement. */
export interface FanoutSettings {
  watchers: number;
  changes: number;
  /** Changes raised per second, one request at a time. */
  rate: number;
  /** Watchers opening at once. */
  openInFlight: number;
}

/** What the watchers' process reports at the end (see fanout-client.ts). */
interface ClientResult {
  messages: number;
  unique: number;
  duplicates: number;
  unexpected: number;
  resyncs: number;
  watchersResynced: number;
  closed: number;
  firstReceipt: number;
  lastReceipt: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
}

interface Rss {
  bytes: number;
  waitedMs: number;
  settled: boolean;
}

/** How the raising went, as this process saw it. */
interface Raised {
  firstSentAt: number;
  seconds: number;
  /** Requests sent per second, first to last: the offered rate unless the schedule slipped. */
  achievedRate: number;
  answerP50Ms: number;
  answerP99Ms: number;
  /** The furthest a request was sent behind its slot (the previous answer came late). */
  behindMaxMs: number;
}

/** CPU seconds of a process and of its main thread. */
interface Cpu {
  process: number;
  mainThread: number;
}

/** Busy seconds of all cores, from /proc/stat: tasks (user, nice, system), interrupts, and steal. */
interface MachineCpu {
  tasks: number;
  interrupts: number;
  steal: number;
}

/** CPU seconds used so far: by the machine, the two children and this process. */
interface CpuReading {
  at: number;
  machine: MachineCpu;
  server: Cpu;
  watchers: Cpu;
  bench: number;
}

/**
 * CPU over a window, as shares of one core. `others` is task time outside the three processes:
 * other work on the machine, which the figures do not account for; `steal` is time the
 * hypervisor gave to other guests.
 */
interface CpuShares {
  seconds: number;
  server: Cpu;
  watchers: Cpu;
  bench: number;
  others: number;
  interrupts: number;
  steal: number;
}

interface Measured {
  openMs: number;
  before: Rss;
  after: Rss;
  raised: Raised;
  client: ClientResult;
  /** From the first raise to the tally. */
  cpu: CpuShares;
  /** The machine's 1-minute load average when the watchers were open, before the raises. */
  loadAverage: number;
}

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SERVER_MAIN = path.join(PACKAGE_DIR, 'dist', 'main.js');
const CLIENT = fileURLToPath(new URL('./fanout-client.ts', import.meta.url));
const ALARMS = '/v4/default/admin/alarms';
const WATCH = '/v4/default/admin/alarms/watch';

/** Descriptors beyond one per watcher: the runtime's own, the database, stdio. */
const FD_MARGIN = 1024;
const READY_TIMEOUT_MS = 20_000;
const OPEN_TIMEOUT_MS = 180_000;
const RESULT_TIMEOUT_MS = 300_000;
/** RSS counts as settled when this many readings, this far apart, differ by at most SETTLE_SPREAD. */
const SETTLE_READINGS = 4;
const SETTLE_EVERY_MS = 250;
const SETTLE_SPREAD = 0.005;
const SETTLE_MAX_MS = 20_000;
/** Linux reports /proc CPU times in USER_HZ, 100 per second. */
const USER_HZ = 100;

/** Other work above this share of a core during the raises makes the figures those of a shared machine. */
const SHARED_CPU = 0.2;

const LATENCY_TARGET_MS = 250;
const RSS_TARGET_BYTES = 30_000;

interface Head {
  what: string;
  target: string;
}

/** A rate as set: whole numbers without decimals. */
function perSecond(rate: number): string {
  return Number.isInteger(rate) ? int(rate) : dec(rate, 2);
}

function heads(s: FanoutSettings): { latency: Head; delivered: Head; lost: Head; rss: Head } {
  const size = `${int(s.watchers)} WebSocket watchers of one project, ${int(s.changes)} changes at ${perSecond(s.rate)}/s`;
  return {
    latency: { what: `fan-out commit-to-receipt latency: ${size}`, target: `p99 < ${LATENCY_TARGET_MS} ms` },
    delivered: { what: 'fan-out messages delivered per second (first raise to last receipt)', target: '—' },
    lost: { what: 'fan-out lost messages (expected − received, over all watchers)', target: '0' },
    rss: { what: `fan-out server RSS per idle watcher (${int(s.watchers)} open)`, target: '< 30 KB (30,000 B)' },
  };
}

/** The hard limit on open files, as a shell started from here sees it. */
function hardFdLimit(): number {
  const out = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
}

/** The soft limit to give both children; fails when the hard limit is too low for the watchers. */
function fdLimit(watchers: number): string {
  const need = watchers + FD_MARGIN;
  const hard = hardFdLimit();
  if (!(hard >= need)) {
    throw new Error(
      `${int(watchers)} watchers need ${int(need)} open files per process, but the hard limit (ulimit -Hn) is ` +
        `${String(hard)}; raise it or lower BENCH_FANOUT_WATCHERS`,
    );
  }
  return Number.isFinite(hard) ? String(hard) : 'unlimited';
}

/** Starts `command` through bash with the soft open-files limit raised to `limit`. */
function startWithFdLimit(name: string, limit: string, command: string, args: readonly string[]): Promise<ChildServer> {
  const script = 'ulimit -Sn "$1" && shift && exec "$@"';
  return ChildServer.start(name, 'bash', ['-c', script, 'fanout', limit, command, ...args], PACKAGE_DIR);
}

/**
 * Starts Alarm Center as servers.ts does (log level info, port 0, its own data dir), with the
 * fd limit raised and room for `watchers` watchers in the default domain and in all.
 */
async function startServer(dataDir: string, limit: string, watchers: number): Promise<ChildServer> {
  const args = [SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--max-watchers-per-domain', String(watchers), '--max-watchers', String(watchers)];
  const server = await startWithFdLimit('Alarm Center', limit, process.execPath, args);
  try {
    server.url = await server.waitForLine(listeningUrl, READY_TIMEOUT_MS);
    server.discardStdout();
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** A JSON line of the watchers' process with the given `type`, as text. */
function lineOfType(type: string): (line: string) => string | undefined {
  return (line) => {
    if (!line.startsWith('{')) return undefined;
    try {
      return (JSON.parse(line) as { type?: unknown }).type === type ? line : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Reads RSS until SETTLE_READINGS readings in a row agree (garbage collected, buffers let go). */
async function settledRss(server: ChildServer): Promise<Rss> {
  const started = performance.now();
  const readings: number[] = [];
  for (;;) {
    readings.push(server.rss());
    const recent = readings.slice(-SETTLE_READINGS);
    const high = Math.max(...recent);
    const settled = recent.length === SETTLE_READINGS && high - Math.min(...recent) <= high * SETTLE_SPREAD;
    const waitedMs = performance.now() - started;
    if (settled || waitedMs >= SETTLE_MAX_MS) return { bytes: recent[recent.length - 1] as number, waitedMs, settled };
    await delay(SETTLE_EVERY_MS);
  }
}

/** utime + stime of a /proc stat file, in seconds. */
function statSeconds(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

function cpuOf(pid: number): Cpu {
  return { process: statSeconds(`/proc/${pid}/stat`), mainThread: statSeconds(`/proc/${pid}/task/${pid}/stat`) };
}

function machineCpu(): MachineCpu {
  const first = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = first.trim().split(/\s+/).slice(1).map(Number);
  return { tasks: (user + nice + system) / USER_HZ, interrupts: (irq + softirq) / USER_HZ, steal: steal / USER_HZ };
}

function readCpu(server: ChildServer, watchers: ChildServer): CpuReading {
  const own = process.cpuUsage();
  return {
    at: performance.now(),
    machine: machineCpu(),
    server: cpuOf(server.pid),
    watchers: cpuOf(watchers.pid),
    bench: (own.user + own.system) / 1e6,
  };
}

function cpuShares(from: CpuReading, to: CpuReading): CpuShares {
  const seconds = (to.at - from.at) / 1000;
  const share = (a: Cpu, b: Cpu): Cpu => ({ process: (b.process - a.process) / seconds, mainThread: (b.mainThread - a.mainThread) / seconds });
  const server = share(from.server, to.server);
  const watchers = share(from.watchers, to.watchers);
  const bench = (to.bench - from.bench) / seconds;
  const machine = (key: keyof MachineCpu): number => (to.machine[key] - from.machine[key]) / seconds;
  const others = Math.max(0, machine('tasks') - server.process - watchers.process - bench);
  return { seconds, server, watchers, bench, others, interrupts: machine('interrupts'), steal: machine('steal') };
}

/** Raises the n-th change (a new alarm) and answers its revision. */
async function raiseOne(url: string, n: number): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alarmInput(n)) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { alarms: { revision: number }[] }).alarms[0]?.revision ?? -1;
}

/**
 * Raises `changes` new alarms, request n sent at its slot n / rate after the first (or as soon as
 * the previous one is answered, when that is later); checks that they are the revisions after
 * `base`, which is what the watchers expect.
 */
async function raiseChanges(server: ChildServer, s: FanoutSettings, base: number): Promise<Raised> {
  const url = `${server.url}${ALARMS}`;
  const answers = new Float64Array(s.changes);
  let behindMaxMs = 0;
  let sent = 0;
  const firstSentAt = Date.now();
  const start = performance.now();
  for (let n = 0; n < s.changes; n++) {
    const wait = start + (n * 1000) / s.rate - performance.now();
    if (wait > 0) await delay(wait);
    else behindMaxMs = Math.max(behindMaxMs, -wait);
    sent = performance.now();
    const revision = await raiseOne(url, n);
    answers[n] = performance.now() - sent;
    if (revision !== base + n + 1) throw new Error(`change ${n + 1} got revision ${revision}, expected ${base + n + 1}: another writer?`);
  }
  answers.sort();
  return {
    firstSentAt,
    seconds: (performance.now() - start) / 1000,
    achievedRate: s.changes > 1 ? ((s.changes - 1) * 1000) / (sent - start) : s.rate,
    answerP50Ms: percentile(answers, 50),
    answerP99Ms: percentile(answers, 99),
    behindMaxMs,
  };
}

/** Opens the watchers, raises the changes and collects the tally; stops both children. */
async function measure(workDir: string, s: FanoutSettings, progress: (what: string) => void): Promise<Measured> {
  const limit = fdLimit(s.watchers);
  const server = await startServer(path.join(workDir, 'data'), limit, s.watchers);
  let client: ChildServer | undefined;
  try {
    const base = ((await getJson(`${server.url}${ALARMS}`)) as { revision: number }).revision;
    const before = await settledRss(server);
    progress(`opening ${int(s.watchers)} watchers`);
    const args = ['--import', 'tsx', CLIENT, '--url', `${server.url.replace(/^http/, 'ws')}${WATCH}`];
    args.push('--watchers', String(s.watchers), '--in-flight', String(s.openInFlight), '--base', String(base), '--changes', String(s.changes));
    client = await startWithFdLimit('fan-out watchers', limit, process.execPath, args);
    const opened = JSON.parse(await client.waitForLine(lineOfType('opened'), OPEN_TIMEOUT_MS)) as { ms: number };
    const after = await settledRss(server);
    progress(`raising ${int(s.changes)} changes at ${perSecond(s.rate)}/s`);
    const loadAverage = os.loadavg()[0] ?? Number.NaN;
    const cpuFrom = readCpu(server, client);
    const raised = await raiseChanges(server, s, base);
    const result = client.waitForLine(lineOfType('result'), RESULT_TIMEOUT_MS);
    client.proc.kill('SIGUSR2');
    const tally = JSON.parse(await result) as ClientResult;
    const cpu = cpuShares(cpuFrom, readCpu(server, client));
    return { openMs: opened.ms, before, after, raised, client: tally, cpu, loadAverage };
  } finally {
    await client?.stop();
    await server.stop();
  }
}

function percent(share: number): string {
  return `${dec(share * 100, 0)} %`;
}

/** The table rows of a measurement. */
function rows(m: Measured, s: FanoutSettings): Row[] {
  const h = heads(s);
  const { client: c, raised } = m;
  const expected = s.watchers * s.changes;
  const lost = expected - c.unique;
  const deliverySeconds = (c.lastReceipt - raised.firstSentAt) / 1000;
  const perWatcher = (m.after.bytes - m.before.bytes) / s.watchers;
  const l = c.latencyMs;
  const latency = l.samples > 0 ? `p50 ${dec(l.p50, 1)} ms · p99 ${dec(l.p99, 1)} ms · max ${dec(l.max, 0)} ms` : 'no change received';
  const lostCell =
    `${int(lost)} of ${int(expected)} · ${int(c.resyncs)} RESYNC (${int(c.watchersResynced)} watchers)` +
    (c.closed > 0 ? ` · ${int(c.closed)} watchers closed` : '');
  return [
    {
      ...h.latency,
      alarmCenter: latency,
      comparison: '—',
      verdict: verdict(l.samples > 0 && l.p99 < LATENCY_TARGET_MS),
    },
    {
      ...h.delivered,
      alarmCenter:
        `${int(c.unique / deliverySeconds)} msg/s (${int(c.unique)} in ${dec(deliverySeconds, 1)} s; changes raised at ` +
        `${dec(raised.achievedRate, 1)}/s)`,
      comparison: '—',
      verdict: 'info',
    },
    { ...h.lost, alarmCenter: lostCell, comparison: '—', verdict: verdict(lost === 0 && c.closed === 0) },
    {
      ...h.rss,
      alarmCenter: `${int(perWatcher)} B/watcher (${bytes(m.before.bytes)} → ${bytes(m.after.bytes)})`,
      comparison: '—',
      verdict: verdict(perWatcher < RSS_TARGET_BYTES),
    },
  ];
}

function notes(m: Measured, s: FanoutSettings): string[] {
  const { raised, cpu, client: c } = m;
  const unsettled = [m.before, m.after].some((r) => !r.settled) ? ` (not settled within ${SETTLE_MAX_MS / 1000} s)` : '';
  return [
    `Fan-out: Alarm Center as \`npm start\` runs it (log level info, durability full), watchers per domain capped at ` +
      `${int(s.watchers)}; the watchers in a separate ` +
      `Node process (ws client), opened ${s.openInFlight} at a time (all open in ${dec(m.openMs / 1000, 1)} s); this ` +
      `process raises one new alarm per request, one request at a time, on a ${perSecond(s.rate)}/s schedule ` +
      `(${dec(raised.seconds, 1)} s, ${dec(raised.achievedRate, 2)}/s achieved; furthest behind its slot ` +
      `${dec(raised.behindMaxMs, 0)} ms; raise answers p50 ` +
      `${dec(raised.answerP50Ms, 1)} ms, p99 ${dec(raised.answerP99Ms, 1)} ms).`,
    `Fan-out latency is the watchers' process's Date.now() at receipt minus the alarm's updatedAt (stamped just ` +
      `before the commit, ms resolution), so it includes that process's own queueing; ${int(c.latencyMs.samples)} of ` +
      `${int(c.unique)} latencies kept as a uniform sample, max exact. Lost = watchers × changes − distinct ` +
      `revisions received per watcher (${int(c.duplicates)} duplicates, ${int(c.unexpected)} unexpected revisions).`,
    `Fan-out CPU from the first raise to the tally (${dec(cpu.seconds, 1)} s; 100 % = one core, ${os.cpus().length} ` +
      `cores): server ${percent(cpu.server.process)} (main thread ${percent(cpu.server.mainThread)}), watchers' ` +
      `process ${percent(cpu.watchers.process)} (main thread ${percent(cpu.watchers.mainThread)}), bench process ` +
      `${percent(cpu.bench)}, kernel interrupt work ${percent(cpu.interrupts)}, other processes ${percent(cpu.others)}, ` +
      `steal ${percent(cpu.steal)}; load average ${dec(m.loadAverage, 2)} before the raises.`,
    ...(cpu.others + cpu.steal > SHARED_CPU
      ? [
          `Fan-out ran on a shared machine: other work took ${percent(cpu.others + cpu.steal)} of a core meanwhile, ` +
            `so its latencies overstate Alarm Center's; rerun it alone (BENCH_ONLY=fanout) on a quiet machine.`,
        ]
      : []),
    `Fan-out RSS is VmRSS of the server once ${SETTLE_READINGS} readings ${SETTLE_EVERY_MS} ms apart agree within ` +
      `${dec(SETTLE_SPREAD * 100, 1)} %, before opening the watchers and after all are open and idle${unsettled}; ` +
      `per watcher = (after − before) ÷ ${int(s.watchers)}, fixed costs of the first watcher included.`,
  ];
}

/** Runs part C in `workDir`; its rows are skipped when the server is not built. */
export async function runFanout(workDir: string, settings: FanoutSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const all = Object.values(heads(settings));
  if (!serverBuilt()) {
    section.rows.push(...all.map((h) => skippedRow(h.what, h.target, 'server not built')));
    return section;
  }
  try {
    const m = await measure(workDir, settings, progress);
    section.rows.push(...rows(m, settings));
    section.notes.push(...notes(m, settings));
    section.figures.fanout = { settings, ...m };
  } catch (err) {
    section.rows.push(...all.map((h) => errorRow(h.what, h.target, err)));
    section.notes.push(`error in part C (fan-out): ${err instanceof Error ? err.message : String(err)}`);
  }
  return section;
}
