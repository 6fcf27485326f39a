/**
 * Part A: Alarm Center embedded in this process, as the built package (dist/) runs it, with its
 * SQLite database in a temporary folder and the default durability (`full`).
 */
import path from 'node:path';
import type * as AlarmCenterPackage from '../src/index.js';
import type { AlarmCenter, Scope } from '../src/index.js';
import { DETAIL } from './payloads.js';
import { percentile } from './percentile.js';
import { dec, int, newSection, verdict, type Row, type Section } from './report.js';

type Package = typeof AlarmCenterPackage;

/** Sizes of the in-process measurements. */
export interface InProcessSettings {
  raises: number;
  inFlight: number;
  /** Stop a throughput run after this long, and rate what was committed. */
  deadlineMs: number;
  smallScope: number;
  healthCalls: number;
  healthWarmup: number;
}

const LARGE: Scope = { domain: 'default', project: 'bench-large' };
const SMALL: Scope = { domain: 'default', project: 'bench-small' };
const OTHER_IDS = ['DiskPressure', 'HighLatency', 'CertificateExpiring', 'QueueBacklog'];
/** Health latency is sampled in alternating blocks, so drift and GC pauses hit both scopes alike. */
const HEALTH_BLOCK = 5_000;
const GROUP_COMMIT_TARGET = 50_000;
const NOISE_FACTOR = 1.5;

/**
 * Loads the built package at run time, so the figures are those of `dist/`; its types come from
 * the sources, so type-checking the bench does not need a build.
 */
async function loadPackage(): Promise<Package> {
  return (await import(new URL('../dist/index.js', import.meta.url).href)) as Package;
}

/** The i-th of `total` raises: distinct sources, one BackendConnectionRefuse as the very last. */
function raiseInput(i: number, total: number): { id: string; source: string; fields: { detail: string } } {
  const id = i === total - 1 ? 'BackendConnectionRefuse' : (OTHER_IDS[i % OTHER_IDS.length] as string);
  return { id, source: `svc-${i}`, fields: { detail: DETAIL } };
}

/** Runs `task(0..total-1)` with `inFlight` at a time until done or the deadline; returns the rate. */
async function committedRate(
  total: number,
  inFlight: number,
  deadlineMs: number,
  task: (i: number) => Promise<unknown>,
): Promise<{ committed: number; seconds: number; perSecond: number }> {
  const start = performance.now();
  const deadline = start + deadlineMs;
  let next = 0;
  let committed = 0;
  const worker = async (): Promise<void> => {
    while (next < total && performance.now() < deadline) {
      await task(next++);
      committed += 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { committed, seconds, perSecond: committed / seconds };
}

/** Times `calls` health checks of each scope, in microseconds, after `warmup` untimed ones. */
async function healthLatency(
  center: AlarmCenter,
  scopes: readonly Scope[],
  calls: number,
  warmup: number,
): Promise<{ p50: number; p99: number }[]> {
  for (const scope of scopes) for (let i = 0; i < warmup; i++) await center.health(scope);
  const samples = scopes.map(() => new Float64Array(calls));
  for (let done = 0; done < calls; done += HEALTH_BLOCK) {
    const block = Math.min(HEALTH_BLOCK, calls - done);
    for (const [s, scope] of scopes.entries()) {
      const out = samples[s] as Float64Array;
      for (let i = done; i < done + block; i++) {
        const t0 = process.hrtime.bigint();
        await center.health(scope);
        out[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
    }
  }
  return samples.map((s) => {
    s.sort();
    return { p50: percentile(s, 50), p99: percentile(s, 99) };
  });
}

/** Raises `count` alarms into a scope in batches, the last one a BackendConnectionRefuse. */
async function fillScope(center: AlarmCenter, scope: Scope, count: number): Promise<void> {
  const batch = 1000;
  for (let first = 0; first < count; first += batch) {
    const size = Math.min(batch, count - first);
    await center.apply(scope, Array.from({ length: size }, (_, i) => raiseInput(first + i, count)));
  }
}

function activeCount(center: AlarmCenter, scope: Scope): number {
  return center.list(scope, { status: 'ACTIVATED' }).alarms.length;
}

type Rate = Awaited<ReturnType<typeof committedRate>>;

/** Raises into a fresh center with `maxBatch` (default: group commit); returns the center, still open, and the rate. */
async function raiseRun(
  pkg: Package,
  dir: string,
  settings: InProcessSettings,
  maxBatch?: number,
): Promise<{ center: AlarmCenter; rate: Rate }> {
  // The run holds more alarms than the default maxAlarms allows.
  const center = await pkg.createAlarmCenter({ dataDir: dir, maxBatch, maxAlarms: 0 });
  const raise = (i: number): Promise<unknown> => center.raise(LARGE, raiseInput(i, settings.raises));
  try {
    const rate = await committedRate(settings.raises, settings.inFlight, settings.deadlineMs, raise);
    return { center, rate };
  } catch (err) {
    await center.close();
    throw err;
  }
}

/** Throughput row: group commit against one transaction per event, same load; returns the group-commit center, still open. */
async function throughput(pkg: Package, workDir: string, settings: InProcessSettings, section: Section): Promise<AlarmCenter> {
  const grouped = await raiseRun(pkg, path.join(workDir, 'grouped'), settings);
  let single;
  try {
    single = await raiseRun(pkg, path.join(workDir, 'single'), settings, 1);
    await single.center.close();
  } catch (err) {
    await grouped.center.close();
    throw err;
  }
  section.rows.push(throughputRow(grouped.rate, single.rate, settings));
  section.notes.push(
    `In-process throughput uses durability 'full' (each commit's WAL frames fdatasync'ed before its writes resolve). The maxBatch 1 run keeps the same ` +
      `${int(settings.inFlight)} raises in flight, so the offered load is identical and the only difference is one ` +
      `transaction (and one WAL sync) per event instead of one per dispatcher turn; with 1 in flight it would also ` +
      `pay an await round-trip per event and measure latency rather than the grouping. A run stops after ` +
      `${dec(settings.deadlineMs / 1000, 0)} s and rates what was committed by then.`,
  );
  section.figures.inProcessThroughput = { groupCommit: grouped.rate, oneTransactionPerEvent: single.rate, inFlight: settings.inFlight };
  return grouped.center;
}

function throughputRow(group: Rate, one: Rate, settings: InProcessSettings): Row {
  return {
    what: `committed raises/s in-process: group commit vs one transaction per event (${int(settings.inFlight)} in flight)`,
    alarmCenter: `${int(group.perSecond)}/s (${int(group.committed)} in ${dec(group.seconds, 1)} s)`,
    comparison: `${int(one.perSecond)}/s (${int(one.committed)} in ${dec(one.seconds, 1)} s, maxBatch 1)`,
    ratio: group.perSecond / one.perSecond,
    target: `≥ ${int(GROUP_COMMIT_TARGET)}/s with group commit`,
    verdict: verdict(group.committed === settings.raises && group.perSecond >= GROUP_COMMIT_TARGET),
  };
}

/** Health-check latency rows: the same check with 1,000 and with 100,000 active alarms in the scope. */
async function healthRows(center: AlarmCenter, settings: InProcessSettings, section: Section): Promise<void> {
  await fillScope(center, SMALL, settings.smallScope);
  const large = activeCount(center, LARGE);
  const small = activeCount(center, SMALL);
  const healthy = [(await center.health(LARGE)).healthy, (await center.health(SMALL)).healthy];
  const [big, little] = await healthLatency(center, [LARGE, SMALL], settings.healthCalls, settings.healthWarmup);
  if (!big || !little) throw new Error('no health samples');
  const label = `${int(large)} vs ${int(small)} ACTIVATED alarms`;
  for (const p of ['p50', 'p99'] as const) {
    section.rows.push({
      what: `health check ${p} in-process, ${label} (µs)`,
      alarmCenter: `${dec(big[p], 1)} µs`,
      comparison: `${dec(little[p], 1)} µs`,
      ratio: big[p] / little[p],
      target: p === 'p99' ? `same within noise (≤ ${NOISE_FACTOR}×)` : '—',
      verdict: p === 'p99' ? verdict(big[p] <= little[p] * NOISE_FACTOR && !healthy[0] && !healthy[1]) : 'info',
    });
  }
  section.notes.push(
    `Health latency: ${int(settings.healthCalls)} timed calls of \`await center.health(scope)\` per scope after ` +
      `${int(settings.healthWarmup)} untimed, in alternating blocks of ${int(HEALTH_BLOCK)}; each scope holds one ` +
      `ACTIVATED BackendConnectionRefuse (raised last), so both checks answer unhealthy (seen: ` +
      `${healthy[0] ? 'healthy' : 'unhealthy'} / ${healthy[1] ? 'healthy' : 'unhealthy'}).`,
  );
  section.figures.inProcessHealth = { largeScope: { alarms: large, ...big }, smallScope: { alarms: small, ...little }, unit: 'µs' };
}

/** Runs part A in `workDir` and returns its rows. */
export async function runInProcess(workDir: string, settings: InProcessSettings): Promise<Section> {
  const section = newSection();
  const pkg = await loadPackage();
  const center = await throughput(pkg, workDir, settings, section);
  try {
    await healthRows(center, settings, section);
  } finally {
    await center.close();
  }
  return section;
}
