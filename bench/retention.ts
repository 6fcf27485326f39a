/**
 * Retention figure: prunes a history of 1,000,000 entries older than the retention age while a
 * writer keeps raising alarms one at a time, and reports how long the pass took, its longest
 * batch, and the longest and p99 raise latency during the pass next to the same writer without
 * pruning (the write pause pruning causes).
 *
 * Alone: `npm run build && node --import tsx bench/retention.ts` (BENCH_RETENTION_ENTRIES sets
 * the history size).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore, type Core } from '../src/root.js';
import type { SqliteStore } from '../src/alarm/sqlite-store.js';
import { percentile } from './percentile.js';

const SCOPE = { domain: 'default', project: 'bench-retention' };
const DAY = 86_400_000;

export interface RetentionFigures {
  entries: number;
  passMs: number;
  batches: number;
  longestBatchMs: number;
  /** Raise latencies (ms) while the pass ran, and over the same time without it. */
  during: { raises: number; p99: number; max: number };
  baseline: { raises: number; p99: number; max: number };
}

/** Fills the history with `n` entries 40 days old, as if committed then. */
function fillHistory({ parts }: Core, n: number): void {
  const db = (parts.store as SqliteStore).db;
  const old = Date.now() - 40 * DAY;
  const insert = db.prepare(
    `INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count, raised_at, updated_at, at)
     VALUES (?, 'default', 'old', ?, '', 'raise', 'ACTIVATED', 'minor', '{"detail":"an old change"}', 1, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let r = 1; r <= n; r += 1) insert.run(r, `Old${r % 1000}`, old, old, old);
  })();
  db.prepare("UPDATE meta SET value = ? WHERE key IN ('revision', 'checkpoint')").run(n);
}

/** Raises one alarm at a time until `stop` resolves; answers the latencies in milliseconds. */
async function writer({ center }: Core, stop: Promise<unknown>): Promise<number[]> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const latencies: number[] = [];
  for (let i = 0; !stopped; i += 1) {
    const t = process.hrtime.bigint();
    await center.raise(SCOPE, { id: `New${i % 100}`, fields: { detail: 'raised during the pass' } });
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return latencies;
}

function summary(latencies: number[]): { raises: number; p99: number; max: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { raises: sorted.length, p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

export async function runRetention(workDir: string, entries = 1_000_000): Promise<RetentionFigures> {
  const dir = fs.mkdtempSync(path.join(workDir, 'retention-'));
  const settings = { dataDir: dir, retentionIntervalMs: 3_600_000, historyRetentionDays: 30 };
  const filling = await createCore(settings);
  fillHistory(filling, entries);
  await filling.center.close();
  const core = await createCore(settings);
  try {
    const passStarted = process.hrtime.bigint();
    const pass = core.parts.retention.runOnce();
    const during = await writer(core, pass);
    const { batches, longestBatchMs } = await pass;
    const passMs = Number(process.hrtime.bigint() - passStarted) / 1e6;
    const baseline = await writer(core, new Promise((resolve) => setTimeout(resolve, passMs)));
    return { entries, passMs, batches, longestBatchMs, during: summary(during), baseline: summary(baseline) };
  } finally {
    await core.center.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-bench-'));
  runRetention(work, Number(process.env.BENCH_RETENTION_ENTRIES ?? 1_000_000))
    .then((f) => {
      process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
    })
    .finally(() => fs.rmSync(work, { recursive: true, force: true }));
}
