/**
 * The soak program: `npm run build && node --import tsx bench/soak.ts` (`npm run soak`). It is a
 * program to run by hand, not a test.
 *
 * Alarm Center's built server runs in its own process as an operator starts it (default settings:
 * log level info, durability full) on 127.0.0.1 with a temporary data folder. A second process
 * (soak-watchers.ts) opens WebSocket watchers spread evenly over a few projects. This process
 * drives a steady open-loop mix for SOAK_MINUTES minutes: raises over a bounded pool of alarm ids
 * per project, each raised once before the load so the alarm count is at its plateau throughout;
 * clears of raised alarms (half `"status":"CLEARED"`, half DELETE); unfiltered lists; and health
 * probes (`/v4/{project}/registry/health` and `/readyz` in turn).
 *
 * Each minute it prints a table row: server RSS (from /proc), heap used and event-loop lag (from
 * /metrics), server CPU, the machine's load average, alarms held, requests answered per kind,
 * failures, and watch messages. At the end it checks that every watcher received every change of
 * its project (counted from the project's history) and prints a summary with a memory verdict.
 *
 * Settings (environment): SOAK_MINUTES (10), SOAK_MINUTE_SECONDS (60; shorter only to try the
 * program itself), SOAK_PROJECTS (10), SOAK_WATCHERS (1,000, spread evenly over the projects),
 * SOAK_IDS (alarm ids per project, 5,000), and requests per second SOAK_RAISES (300),
 * SOAK_CLEARS (100), SOAK_LISTS (20), SOAK_PROBES (100).
 *
 * It exits 0 once a run is complete, whatever the verdict, and 1 when it could not set up or the
 * server stopped during the run. Every child process is stopped at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { killAllChildrenNow, stopAllChildren, type ChildServer } from './children.js';
import { getJson, postJson } from './load.js';
import { int } from './report.js';
import { fdLimit, startServer, startWatchers, watchersTally, type WatcherLayout } from './soak-children.js';
import { checkDelivery } from './soak-delivery.js';
import { SoakLoad, type SoakRequest, type StreamSpec } from './soak-load.js';
import { MinuteTable, summary, type Final, type MinuteRow } from './soak-summary.js';

interface Settings extends WatcherLayout {
  minutes: number;
  minuteMs: number;
  idsPerProject: number;
  raises: number;
  clears: number;
  lists: number;
  probes: number;
}

interface World {
  server: ChildServer;
  watchers: ChildServer;
  load: SoakLoad;
  /** The store revision before the load: changes after it are the run's. */
  base: number;
  generatorLag: ReturnType<typeof monitorEventLoopDelay>;
  /** When the server was started. */
  startedAt: number;
}

/** The readings a minute's row is the difference from. */
interface Previous {
  at: number;
  cpu: number;
  messages: number;
}

/** After the watchers opened, before the minute-0 reading. */
const SETTLE_MS = 5000;
const DRAIN_TIMEOUT_MS = 60_000;
/** Raised alarms remembered for the clears to pick from. */
const RAISED_MEMORY = 10_000;
/** Linux reports /proc CPU times in USER_HZ, 100 per second. */
const USER_HZ = 100;
/** Most alarms per write request. */
const MAX_BATCH = 1000;

function whole(name: string, fallback: number, min: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return value;
}

function rate(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of requests per second ≥ 0`);
  return value;
}

function settings(): Settings {
  const projects = whole('SOAK_PROJECTS', 10, 1);
  const watchers = whole('SOAK_WATCHERS', 1000, projects);
  if (watchers % projects !== 0) throw new Error(`SOAK_WATCHERS (${watchers}) must be a multiple of SOAK_PROJECTS (${projects})`);
  return {
    minutes: whole('SOAK_MINUTES', 10, 1),
    minuteMs: whole('SOAK_MINUTE_SECONDS', 60, 1) * 1000,
    projects: Array.from({ length: projects }, (_, i) => `soak-${i}`),
    watchersPerProject: watchers / projects,
    idsPerProject: whole('SOAK_IDS', 5000, 1),
    raises: rate('SOAK_RAISES', 300),
    clears: rate('SOAK_CLEARS', 100),
    lists: rate('SOAK_LISTS', 20),
    probes: rate('SOAK_PROBES', 100),
  };
}

function progress(what: string): void {
  process.stderr.write(`soak: ${what}\n`);
}

function alarmId(n: number): string {
  return `soak-alarm-${n}`;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

/** The four request streams; clears pick among alarms whose raise was answered. */
function streams(s: Settings): StreamSpec[] {
  const raised: { project: string; id: string }[] = [];
  let raisedAt = 0;
  let serial = 0;
  let clears = 0;
  let probes = 0;
  const alarms = (project: string): string => `/v4/${project}/admin/alarms`;
  const raise = (): SoakRequest => {
    const project = pick(s.projects);
    const id = alarmId(Math.floor(Math.random() * s.idsPerProject));
    serial += 1;
    return { method: 'POST', path: alarms(project), body: JSON.stringify({ id, fields: { detail: `soak raise ${serial}` } }) };
  };
  const remember = (r: SoakRequest): void => {
    const project = r.path.split('/')[2] as string;
    const id = (JSON.parse(r.body as string) as { id: string }).id;
    raised[raisedAt] = { project, id };
    raisedAt = (raisedAt + 1) % RAISED_MEMORY;
  };
  const clear = (): SoakRequest => {
    clears += 1;
    const a = raised.length > 0 ? pick(raised) : { project: pick(s.projects), id: alarmId(0) };
    if (raised.length > 0 && clears % 2 === 0) return { method: 'DELETE', path: `${alarms(a.project)}/${a.id}` };
    return { method: 'POST', path: alarms(a.project), body: JSON.stringify({ id: a.id, status: 'CLEARED' }) };
  };
  const probe = (): SoakRequest => {
    probes += 1;
    return { method: 'GET', path: probes % 2 === 0 ? '/readyz' : `/v4/${pick(s.projects)}/registry/health` };
  };
  return [
    { name: 'raise', perSecond: s.raises, next: raise, answered: remember },
    { name: 'clear', perSecond: s.clears, next: clear },
    { name: 'list', perSecond: s.lists, next: () => ({ method: 'GET', path: alarms(pick(s.projects)) }) },
    { name: 'probe', perSecond: s.probes, next: probe },
  ];
}

/** utime + stime of a process from /proc, in seconds. */
function cpuSeconds(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** The resident set of a process split by kind (anonymous, file-backed, shared), in bytes, from /proc. */
function rssParts(pid: number): { anon: number; file: number; shmem: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/** The sum of every sample of a metric in Prometheus text, whatever its labels. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrape(server: ChildServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** Reads the minute's row; the load's counts are taken first so the minutes do not overlap. */
async function sample(w: World, minute: number, previous: Previous): Promise<{ row: MinuteRow; next: Previous }> {
  if (!w.server.alive) throw new Error(`the server stopped during the run; its last output:\n${w.server.output()}`);
  const load = w.load.take();
  const at = performance.now();
  const cpu = cpuSeconds(w.server.pid);
  const rssBytes = w.server.rss();
  const parts = rssParts(w.server.pid);
  const [text, tally] = await Promise.all([scrape(w.server), watchersTally(w.watchers)]);
  const row: MinuteRow = {
    minute,
    rssBytes,
    heapUsedBytes: metric(text, 'nodejs_heap_size_used_bytes'),
    memory: {
      rssAnon: parts.anon,
      rssFile: parts.file,
      rssShmem: parts.shmem,
      heapTotal: metric(text, 'nodejs_heap_size_total_bytes'),
      external: metric(text, 'nodejs_external_memory_bytes'),
      handles: metric(text, 'nodejs_active_handles_total'),
    },
    lagP99Seconds: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
    lagMaxSeconds: metric(text, 'nodejs_eventloop_lag_max_seconds'),
    alarms: metric(text, 'alarm_center_alarms'),
    cpuShare: (cpu - previous.cpu) / ((at - previous.at) / 1000),
    loadAverage: os.loadavg()[0] ?? Number.NaN,
    load,
    watchMessages: tally.messages - previous.messages,
    resyncs: tally.resyncs,
    closed: tally.closed,
  };
  return { row, next: { at, cpu, messages: tally.messages } };
}

/** Runs the load for the set minutes, printing a row at the end of each; answers every row. */
async function runMinutes(w: World, s: Settings, table: MinuteTable): Promise<MinuteRow[]> {
  const first = await sample(w, 0, { at: w.startedAt, cpu: 0, messages: 0 });
  const rows = [first.row];
  let previous = first.next;
  process.stdout.write(`${table.header()}\n${table.row(first.row)}\n`);
  const started = performance.now();
  w.load.start();
  for (let minute = 1; minute <= s.minutes; minute++) {
    await delay(Math.max(0, started + minute * s.minuteMs - performance.now()));
    const next = await sample(w, minute, previous);
    previous = next.next;
    rows.push(next.row);
    process.stdout.write(`${table.row(next.row)}\n`);
  }
  return rows;
}

/**
 * Raises every id of the pool once in each project, so the alarm count is at its plateau before
 * the load starts and memory growth from then on is not the pool filling up.
 */
async function prefill(server: ChildServer, s: Settings): Promise<void> {
  for (const project of s.projects) {
    for (let first = 0; first < s.idsPerProject; first += MAX_BATCH) {
      const size = Math.min(MAX_BATCH, s.idsPerProject - first);
      const alarms = Array.from({ length: size }, (_, i) => ({ id: alarmId(first + i), fields: { detail: 'soak prefill' } }));
      await postJson(`${server.url}/v4/${project}/admin/alarms`, { alarms });
    }
  }
}

/** Stops the load, waits for its answers and reads the end-of-run figures. */
async function finish(w: World, s: Settings): Promise<Final> {
  progress('load stopped; waiting for the last answers and the watchers');
  await Promise.race([w.load.stop(), delay(DRAIN_TIMEOUT_MS)]);
  const d = await checkDelivery(w.server, w.watchers, s, w.base, performance.now());
  const text = await scrape(w.server);
  w.generatorLag.disable();
  return {
    delivery: d,
    totals: w.load.totals(),
    serverDropped: metric(text, 'alarm_center_watch_dropped_messages_total'),
    serverResyncs: metric(text, 'alarm_center_watch_resyncs_total'),
    generatorLagP99Ms: w.generatorLag.percentile(99) / 1e6,
    generatorLagMaxMs: w.generatorLag.max / 1e6,
    minuteSeconds: s.minuteMs / 1000,
  };
}

/** Sets up the server and the watchers, runs the minutes and prints the summary. */
async function soak(s: Settings, workDir: string): Promise<void> {
  const limit = fdLimit(s.projects.length * s.watchersPerProject);
  progress('starting Alarm Center');
  const startedAt = performance.now();
  const server = await startServer(path.join(workDir, 'data'), limit);
  progress(`raising every alarm of the pool once (${int(s.idsPerProject)} per project)`);
  await prefill(server, s);
  progress(`opening ${int(s.projects.length * s.watchersPerProject)} watchers over ${s.projects.length} projects`);
  const opened = await startWatchers(server, s, limit);
  const watchers = opened.child;
  progress(`${int(s.projects.length * s.watchersPerProject)} watchers open in ${(opened.openMs / 1000).toFixed(1)} s`);
  const base = ((await getJson(`${server.url}/v4/${s.projects[0] as string}/admin/alarms`)) as { revision: number }).revision;
  const load = new SoakLoad(server.url, streams(s));
  const generatorLag = monitorEventLoopDelay();
  const w: World = { server, watchers, load, base, generatorLag, startedAt };
  try {
    await delay(SETTLE_MS);
    progress(`running ${s.minutes} minute(s): ${s.raises} raises, ${s.clears} clears, ${s.lists} lists, ${s.probes} probes per second`);
    generatorLag.enable();
    const rows = await runMinutes(w, s, new MinuteTable(load.names));
    const final = await finish(w, s);
    process.stdout.write(`\n${summary(rows, final)}\n`);
  } finally {
    generatorLag.disable();
    await watchers.stop();
    await server.stop();
    load.destroy();
  }
}

/** The temporary folder of the server's database, removed however the run ends. */
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-soak-'));

function removeWorkDir(): void {
  fs.rmSync(workDir, { recursive: true, force: true });
}

process.on('exit', () => {
  killAllChildrenNow();
  removeWorkDir();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

async function main(): Promise<number> {
  try {
    await soak(settings(), workDir);
    return 0;
  } finally {
    await stopAllChildren();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
