/**
 * The benchmark program (`npm run bench`, after a build): part A measures Alarm Center embedded
 * in-process; part B measures its HTTP server against a bare express server and, when installed,
 * Prometheus Alertmanager. It prints a markdown table and writes the same results as JSON to
 * `.bench/results.json`. Everything runs on 127.0.0.1 and every child process is stopped at the end.
 *
 * BENCH_SECONDS and BENCH_WARMUP_SECONDS set the measured and warm-up seconds of each side of an
 * HTTP comparison (defaults 10 and 2).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildrenNow, stopAllChildren } from './children.js';
import { runHttp, type HttpSettings } from './http.js';
import { runInProcess, type InProcessSettings } from './in-process.js';
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

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds ≥ 0`);
  return value;
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

function progress(what: string): void {
  process.stderr.write(`bench: ${what}\n`);
}

function newReport(http: HttpSettings): Report {
  return {
    startedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memory: os.totalmem(),
      platform: `${os.platform()} ${os.release()}`,
    },
    settings: { inProcess: IN_PROCESS, http },
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
  const http = httpSettings();
  const report = newReport(http);
  try {
    await partA(report, workDir);
    progress('part B: HTTP');
    addSection(report, await runHttp(path.join(workDir, 'http'), http, (what) => progress(`part B: ${what}`)));
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
