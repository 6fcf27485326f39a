/**
 * The benchmark program (`npm run bench`, after a build): part A measures Alarm Center embedded
 * in-process; part B measures its HTTP server against a bare express server and, when installed,
 * Prometheus Alertmanager; part C measures the fan-out of live-watch messages to WebSocket
 * watchers; part D fills the limits over all domains and reads the server's memory; part E
 * starts a throwaway PostgreSQL server and measures Alarm Center on it against Alarm Center on
 * SQLite (batch and single raises, with the CPU each spends per request) and the propagation of
 * changes from one replica to a watcher on another; part F sends the same Alertmanager API v2
 * alerts, new ones and unchanged re-sends, to Alarm Center and to Prometheus Alertmanager (with the
 * CPU each spends per 1,000 alerts); part G measures notifications: single raises to Alarm Center
 * with 3 webhooks and an Alertmanager attached against one with none (taking turns, with the CPU
 * each spends per 1,000 raises, and a check that every change was delivered), and the delay from
 * a change to its webhook's receiver at 1,000 raises/s; part H opens the console in headless
 * Chromium on 10,000 active alarms: its first render, and the delay from a commit to the alarm's
 * row in the page at 100 new alarms/s; part I measures heartbeats and active checks: single raises
 * to Alarm Center with 1,000 heartbeats beaten once a second each and 200 HTTP checks every second
 * against one without them (taking turns, with the CPU each spends per 1,000 raises, and the beats
 * and probes achieved meanwhile), and the delay from a heartbeat's missed deadline to its raise. It
 * prints a markdown table and writes the same results as JSON to `.bench/results.json`. Everything
 * runs on 127.0.0.1 and every child process, PostgreSQL, Alertmanager and Chromium included, is
 * stopped at the end.
 *
 * BENCH_ONLY runs only the parts it names, comma-separated: `in-process`, `http`, `fanout`,
 * `limits`, `postgres`, `intake`, `notify`, `console`, `checks` (e.g. `BENCH_ONLY=intake npm run
 * bench`). BENCH_SECONDS and BENCH_WARMUP_SECONDS set the measured and warm-up seconds of each side
 * of an HTTP comparison, parts E's, F's, G's and I's included (defaults 10 and 2).
 * BENCH_FANOUT_WATCHERS, BENCH_FANOUT_CHANGES and BENCH_FANOUT_RATE set the fan-out's watchers,
 * changes and changes per second (defaults 10,000, 2,000 and 5: see FANOUT_RATE).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildrenNow, stopAllChildren } from './children.js';
import { runChecks, type ChecksSettings } from './checks.js';
import { runConsole, type ConsoleSettings } from './console.js';
import { runFanout, type FanoutSettings } from './fanout.js';
import { runHttp, type HttpSettings } from './http.js';
import { runInProcess, type InProcessSettings } from './in-process.js';
import { runIntake, type IntakeSettings } from './intake.js';
import { runLimits, type LimitsSettings } from './limits.js';
import { runNotify, type NotifySettings } from './notify.js';
import { runPostgres, type PostgresSettings } from './postgres.js';
import { addSection, errorRow, formatTable, writeReport, type Report } from './report.js';

const RESULTS = fileURLToPath(new URL('../.bench/results.json', import.meta.url));

const IN_PROCESS: InProcessSettings = {
  raises: 100_000,
  inFlight: 2_000,
  deadlineMs: 15_000,
  smallScope: 1_000,
  healthCalls: 50_000,
  healthWarmup: 10_000,
};

/** The limits part: 15 KiB fields, 60 to a request (under the 1 MiB body limit), bounded in requests and time. */
const LIMITS: LimitsSettings = {
  fieldsBytes: 15 * 1024,
  bigPerBatch: 60,
  longPerBatch: 1000,
  domains: 1000,
  inFlight: 4,
  heapMiB: 1024,
  maxRequests: 20_000,
  deadlineMs: 300_000,
};

/**
 * Changes per second of the fan-out. A 2-core machine saturates the server's event loop near 10/s
 * with 10,000 watchers (each change is 10,000 socket writes); half of that keeps the schedule, so
 * the p99 is measured at the offered rate and not flattered by raises waiting before their commit.
 */
const FANOUT_RATE = 5;

/** Single raises per second to one replica in the postgres part's propagation, and for how long. */
const PROPAGATION_RATE = 1000;
const PROPAGATION_SECONDS = 10;

/** Alerts firing on each server before the intake part's re-sends. */
const INTAKE_FIRING = 10_000;

/**
 * Raises per second, and for how long, in the notifications part's delivery-delay run, after a
 * warm-up at the same rate: a fresh server's webhook falls behind 1,000 changes/s for its first
 * few seconds and then catches up, a start-up transient (the same server, warm, does not).
 */
const NOTIFY_DELAY_RATE = 1000;
const NOTIFY_DELAY_SECONDS = 10;
const NOTIFY_DELAY_WARMUP_SECONDS = 5;

/** The console part: first renders of fresh pages with 10,000 alarms, then new alarms at 100/s to an open page. */
const CONSOLE: ConsoleSettings = { alarms: 10_000, loads: 5, rate: 100, seconds: 10, warmupSeconds: 2 };

/** Part I: heartbeats beaten and checks run beside the raises, and heartbeats left to lapse. */
const CHECKS = { heartbeats: 1000, checks: 200, lapses: 200 };

const PARTS = ['in-process', 'http', 'fanout', 'limits', 'postgres', 'intake', 'notify', 'console', 'checks'] as const;
type Part = (typeof PARTS)[number];

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds ≥ 0`);
  return value;
}

function positive(name: string, fallback: number, integer: boolean): number {
  const value = Number(process.env[name] ?? fallback);
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} > 0`);
  return value;
}

/** The parts BENCH_ONLY names, or all of them. */
function partsToRun(): ReadonlySet<Part> {
  const only = process.env.BENCH_ONLY;
  if (!only) return new Set(PARTS);
  const names = only.split(',').map((p) => p.trim());
  const unknown = names.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown part(s) ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}`);
  return new Set(names as Part[]);
}

function httpSettings(): HttpSettings {
  return {
    load: { connections: 50, seconds: seconds('BENCH_SECONDS', 10), warmupSeconds: seconds('BENCH_WARMUP_SECONDS', 2), rounds: 2 },
    batchSize: 100,
    listAlarms: 10_000,
    healthAlarms: 100_000,
    fewAlarms: 10,
  };
}

/** The postgres part drives its comparisons as part B does, and warms its replicas up as long. */
function postgresSettings(http: HttpSettings): PostgresSettings {
  const propagation = { rate: PROPAGATION_RATE, seconds: PROPAGATION_SECONDS, warmupSeconds: http.load.warmupSeconds };
  return { load: http.load, batchSize: http.batchSize, propagation };
}

/** The intake part drives its comparisons as part B does, with part B's batch size. */
function intakeSettings(http: HttpSettings): IntakeSettings {
  return { load: http.load, batchSize: http.batchSize, firing: INTAKE_FIRING };
}

/** The notifications part drives its comparison as part B does. */
function notifySettings(http: HttpSettings): NotifySettings {
  return { load: http.load, delay: { rate: NOTIFY_DELAY_RATE, seconds: NOTIFY_DELAY_SECONDS, warmupSeconds: NOTIFY_DELAY_WARMUP_SECONDS } };
}

function fanoutSettings(): FanoutSettings {
  return {
    watchers: positive('BENCH_FANOUT_WATCHERS', 10_000, true),
    changes: positive('BENCH_FANOUT_CHANGES', 2_000, true),
    rate: positive('BENCH_FANOUT_RATE', FANOUT_RATE, false),
    openInFlight: 250,
  };
}

function progress(what: string): void {
  process.stderr.write(`bench: ${what}\n`);
}

interface PartSettings {
  http: HttpSettings;
  fanout: FanoutSettings;
  postgres: PostgresSettings;
  intake: IntakeSettings;
  notify: NotifySettings;
  checks: ChecksSettings;
}

function newReport(s: PartSettings, parts: ReadonlySet<Part>): Report {
  return {
    startedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memory: os.totalmem(),
      platform: `${os.platform()} ${os.release()}`,
    },
    settings: { parts: [...parts], inProcess: IN_PROCESS, http: s.http, fanout: s.fanout, limits: LIMITS, postgres: s.postgres, intake: s.intake, notify: s.notify, console: CONSOLE, checks: s.checks },
    rows: [],
    notes: [],
    figures: {},
  };
}

/** Runs part A; an error becomes an error row so part B still runs. */
async function partA(report: Report, workDir: string): Promise<void> {
  progress('part A: in-process throughput and health latency');
  try {
    addSection(report, await runInProcess(path.join(workDir, 'in-process'), IN_PROCESS));
  } catch (err) {
    report.rows.push(errorRow('in-process measurements', '—', err));
    report.notes.push(`error in part A: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The temporary folder of the run's databases, removed however the run ends. */
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-bench-'));

function removeWorkDir(): void {
  fs.rmSync(workDir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const parts = partsToRun();
  const http = httpSettings();
  const fanout = fanoutSettings();
  const postgres = postgresSettings(http);
  const intake = intakeSettings(http);
  const notify = notifySettings(http);
  const checks: ChecksSettings = { load: http.load, ...CHECKS };
  const report = newReport({ http, fanout, postgres, intake, notify, checks }, parts);
  try {
    if (parts.has('in-process')) await partA(report, workDir);
    if (parts.has('http')) {
      progress('part B: HTTP');
      addSection(report, await runHttp(path.join(workDir, 'http'), http, (what) => progress(`part B: ${what}`)));
    }
    if (parts.has('fanout')) {
      progress('part C: fan-out');
      addSection(report, await runFanout(path.join(workDir, 'fanout'), fanout, (what) => progress(`part C: ${what}`)));
    }
    if (parts.has('limits')) {
      progress('part D: limits over all domains');
      addSection(report, await runLimits(path.join(workDir, 'limits'), LIMITS, (what) => progress(`part D: ${what}`)));
    }
    if (parts.has('postgres')) {
      progress('part E: PostgreSQL');
      addSection(report, await runPostgres(path.join(workDir, 'postgres'), postgres, (what) => progress(`part E: ${what}`)));
    }
    if (parts.has('intake')) {
      progress('part F: Alertmanager intake');
      addSection(report, await runIntake(path.join(workDir, 'intake'), intake, (what) => progress(`part F: ${what}`)));
    }
    if (parts.has('notify')) {
      progress('part G: notifications');
      addSection(report, await runNotify(path.join(workDir, 'notify'), notify, (what) => progress(`part G: ${what}`)));
    }
    if (parts.has('console')) {
      progress('part H: console');
      addSection(report, await runConsole(path.join(workDir, 'console'), CONSOLE, (what) => progress(`part H: ${what}`)));
    }
    if (parts.has('checks')) {
      progress('part I: heartbeats and checks');
      addSection(report, await runChecks(path.join(workDir, 'checks'), checks, (what) => progress(`part I: ${what}`)));
    }
  } finally {
    await stopAllChildren();
    removeWorkDir();
  }
  report.finishedAt = new Date().toISOString();
  writeReport(RESULTS, report);
  process.stdout.write(`${formatTable(report.rows, report.notes)}\n\nResults written to .bench/results.json\n`);
  return report.rows.some((r) => r.verdict === 'error') ? 1 : 0;
}

process.on('exit', () => {
  killAllChildrenNow();
  removeWorkDir();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
