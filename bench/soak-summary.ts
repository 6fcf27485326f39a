/**
 * What the soak prints: one table row per minute as the run goes, and a summary at the end with
 * the memory verdict and the watchers' delivery.
 */
import { dec, int } from './report.js';
import { MAX_IN_FLIGHT, type StreamCounts } from './soak-load.js';

const MIB = 1024 * 1024;

/** Minutes at the start left out of the memory verdict: caches, pools and the JIT fill up. */
export const WARMUP_MINUTES = 2;
/** The verdict's rule: the RSS slope from the end of the warm-up on, and the end RSS against it. */
export const FLAT_SLOPE_MIB_PER_MIN = 1;
export const FLAT_END_RATIO = 0.1;

/** Where the server's memory is, to tell a leak from a pool or cache filling: bytes, and a count of handles. */
export interface MemoryParts {
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  heapTotal: number;
  external: number;
  /** Open handles (sockets, timers, files). */
  handles: number;
}

/** The server and watchers as read at the end of one minute (minute 0: before the load). */
export interface MinuteRow {
  minute: number;
  rssBytes: number;
  heapUsedBytes: number;
  memory: MemoryParts;
  lagP99Seconds: number;
  lagMaxSeconds: number;
  /** The server's CPU time over the minute ÷ its length (1 = one core). */
  cpuShare: number;
  /** The machine's 1-minute load average: other work on it shows here. */
  loadAverage: number;
  /** Alarms the server holds (all projects, all statuses). */
  alarms: number;
  /** Each stream's counts over the minute, by name. */
  load: Record<string, StreamCounts>;
  /** Watch messages received over the minute, all watchers. */
  watchMessages: number;
  /** RESYNCs received and watchers closed by the server, since the start. */
  resyncs: number;
  closed: number;
}

/** The watchers' delivery over the whole run, checked against each project's history. */
export interface Delivery {
  watchers: number;
  /** Changes committed to each watched project during the run (its history entries). */
  changesPerProject: Record<string, number>;
  /** Σ over watchers of the changes of its project. */
  expected: number;
  /** Σ over watchers of the distinct revisions received. */
  received: number;
  /** Expected changes not received, by watchers that got no RESYNC and were not closed. */
  lost: number;
  /** Expected changes not received, by watchers that got a RESYNC or were closed. */
  missedAfterResync: number;
  /** Revisions received beyond the expected count. */
  extra: number;
  duplicates: number;
  messages: number;
  resyncs: number;
  watchersResynced: number;
  closed: number;
  /** How long after the last answer the final tally was read. */
  settleMs: number;
}

/** Figures read once at the end. */
export interface Final {
  delivery: Delivery;
  totals: Record<string, StreamCounts>;
  /** Server-side counters from /metrics: watch messages dropped and RESYNCs sent. */
  serverDropped: number;
  serverResyncs: number;
  /** The load generator's own event-loop delay over the run, in ms. */
  generatorLagP99Ms: number;
  generatorLagMaxMs: number;
  /** The length of a "minute" (60 s unless shortened to try the program). */
  minuteSeconds: number;
}

interface Column {
  head: string;
  cell: (r: MinuteRow) => string;
}

function mib(n: number): string {
  return dec(n / MIB, 1);
}

function ms(seconds: number): string {
  return dec(seconds * 1000, 1);
}

function sumOf(r: MinuteRow, pick: (c: StreamCounts) => number): number {
  return Object.values(r.load).reduce((sum, c) => sum + pick(c), 0);
}

function p99(r: MinuteRow, stream: string): string {
  const v = r.load[stream]?.p99Ms;
  return v === undefined || Number.isNaN(v) ? '—' : dec(v, 1);
}

function columns(streams: readonly string[]): Column[] {
  return [
    { head: 'min', cell: (r) => String(r.minute) },
    { head: 'RSS MiB', cell: (r) => mib(r.rssBytes) },
    { head: 'heap MiB', cell: (r) => mib(r.heapUsedBytes) },
    { head: 'CPU %', cell: (r) => dec(r.cpuShare * 100, 0) },
    { head: 'load avg', cell: (r) => dec(r.loadAverage, 2) },
    { head: 'lag p99 ms', cell: (r) => ms(r.lagP99Seconds) },
    { head: 'lag max ms', cell: (r) => ms(r.lagMaxSeconds) },
    { head: 'alarms', cell: (r) => int(r.alarms) },
    ...streams.map((s) => ({ head: s, cell: (r: MinuteRow) => int(r.load[s]?.answered ?? 0) })),
    { head: 'raise p99 ms', cell: (r) => p99(r, 'raise') },
    { head: 'list p99 ms', cell: (r) => p99(r, 'list') },
    { head: 'non-2xx', cell: (r) => int(sumOf(r, (c) => c.non2xx)) },
    { head: 'errors', cell: (r) => int(sumOf(r, (c) => c.errors)) },
    { head: 'skipped', cell: (r) => int(sumOf(r, (c) => c.skipped)) },
    { head: 'watch msgs', cell: (r) => int(r.watchMessages) },
    { head: 'RESYNC', cell: (r) => int(r.resyncs) },
    { head: 'closed', cell: (r) => int(r.closed) },
  ];
}

function tableLine(cells: readonly string[], widths: readonly number[]): string {
  return `| ${cells.map((c, i) => c.padStart(widths[i] as number)).join(' | ')} |`;
}

/** Prints a markdown table one row at a time, cells right-aligned to fixed widths. */
export class MinuteTable {
  private readonly columns: Column[];
  private readonly widths: number[];

  constructor(streams: readonly string[]) {
    this.columns = columns(streams);
    this.widths = this.columns.map((c) => Math.max(c.head.length, 7));
  }

  header(): string {
    const legend =
      'Per minute: server RSS (VmRSS) and the machine\'s 1-minute load average at the minute\'s end; heap used, event-loop lag ' +
      '(over the minute) and alarms held from the server\'s /metrics; server CPU over the minute (100 = one core); requests ' +
      'answered, their p99 answer times, failures and watch messages received over the minute; RESYNCs and closed watchers so far.';
    const heads = tableLine(
      this.columns.map((c) => c.head),
      this.widths,
    );
    return `${legend}\n\n${heads}\n|${this.widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`;
  }

  row(r: MinuteRow): string {
    return tableLine(
      this.columns.map((c) => c.cell(r)),
      this.widths,
    );
  }
}

/** Least-squares slope of y over x; NaN with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return num / den;
}

function signed(n: number, decimals: number): string {
  return `${n >= 0 ? '+' : ''}${dec(n, decimals)}`;
}

/** A memory figure at the end of the warm-up and at the end, and its slope in MiB/min between. */
function trend(rows: readonly MinuteRow[], pick: (r: MinuteRow) => number): { from: number; to: number; slope: number } {
  const kept = rows.filter((r) => r.minute >= WARMUP_MINUTES);
  const from = pick(kept[0] as MinuteRow);
  const to = pick(kept[kept.length - 1] as MinuteRow);
  return { from, to, slope: slope(kept.map((r) => ({ x: r.minute, y: pick(r) / MIB }))) };
}

function memoryLines(rows: readonly MinuteRow[]): string[] {
  const last = rows[rows.length - 1] as MinuteRow;
  const rule =
    `rule: memory flat when the least-squares slope of server RSS from minute ${WARMUP_MINUTES} to the last minute is ` +
    `< ${FLAT_SLOPE_MIB_PER_MIN} MiB/min and the RSS at the last minute is within ${dec(FLAT_END_RATIO * 100, 0)} % of minute ${WARMUP_MINUTES}'s`;
  if (last.minute < WARMUP_MINUTES + 1) {
    const need = WARMUP_MINUTES + 1;
    return [`- memory: no verdict; it needs readings from minute ${WARMUP_MINUTES} to at least minute ${need} (SOAK_MINUTES ≥ ${need}); ${rule}`];
  }
  const rss = trend(rows, (r) => r.rssBytes);
  const heap = trend(rows, (r) => r.heapUsedBytes);
  const change = (rss.to - rss.from) / rss.from;
  const flat = rss.slope < FLAT_SLOPE_MIB_PER_MIN && Math.abs(change) <= FLAT_END_RATIO;
  const span = `minutes ${WARMUP_MINUTES}–${last.minute}`;
  return [
    `- server RSS: ${mib(rss.from)} MiB at minute ${WARMUP_MINUTES}, ${mib(rss.to)} MiB at minute ${last.minute} ` +
      `(${signed(change * 100, 1)} %); slope over ${span}: ${signed(rss.slope, 2)} MiB/min`,
    `- server heap used: ${mib(heap.from)} MiB at minute ${WARMUP_MINUTES}, ${mib(heap.to)} MiB at minute ${last.minute}; ` +
      `slope over ${span}: ${signed(heap.slope, 2)} MiB/min`,
    `- verdict: ${flat ? 'memory flat' : 'MEMORY NOT FLAT'} (${rule})`,
    breakdown(rows.find((r) => r.minute === WARMUP_MINUTES) as MinuteRow, last),
  ];
}

/** The memory parts at the end of the warm-up and at the end. */
function breakdown(from: MinuteRow, to: MinuteRow): string {
  const a = from.memory;
  const b = to.memory;
  const part = (name: string, x: number, y: number): string => `${name} ${mib(x)} → ${mib(y)}`;
  return (
    `- server memory, minute ${from.minute} → ${to.minute} (MiB): ${part('RSS anonymous', a.rssAnon, b.rssAnon)}, ` +
    `${part('file-backed', a.rssFile, b.rssFile)}, ${part('shared', a.rssShmem, b.rssShmem)}; ` +
    `${part('V8 heap total', a.heapTotal, b.heapTotal)}, ${part('external', a.external, b.external)}; ` +
    `open handles ${int(a.handles)} → ${int(b.handles)}`
  );
}

function worst(rows: readonly MinuteRow[], pick: (r: MinuteRow) => number): number {
  return rows.reduce((m, r) => Math.max(m, pick(r)), Number.NEGATIVE_INFINITY);
}

function loadLines(rows: readonly MinuteRow[], final: Final): string[] {
  const loaded = rows.filter((r) => r.minute >= 1);
  const kinds = Object.entries(final.totals).map(([name, c]) => {
    const p = worst(loaded, (r) => r.load[name]?.p99Ms ?? Number.NaN);
    return `${name} ${int(c.answered)}${Number.isFinite(p) ? ` (worst minute p99 ${dec(p, 1)} ms)` : ''}`;
  });
  const all = Object.values(final.totals);
  const statuses: Record<string, number> = {};
  for (const c of all) for (const [s, n] of Object.entries(c.statuses)) if (!s.startsWith('2')) statuses[s] = (statuses[s] ?? 0) + n;
  const total = (pick: (c: StreamCounts) => number): string => int(all.reduce((sum, c) => sum + pick(c), 0));
  const byStatus = Object.entries(statuses).map(([s, n]) => `${s}: ${int(n)}`);
  return [
    `- requests answered: ${kinds.join(', ')}`,
    `- non-2xx answers ${total((c) => c.non2xx)}${byStatus.length > 0 ? ` (${byStatus.join(', ')})` : ''}; transport errors ` +
      `${total((c) => c.errors)}; slots skipped (${MAX_IN_FLIGHT} of a stream's requests unanswered) ${total((c) => c.skipped)}`,
    `- server event-loop lag (prom-client, per-minute windows, its 10 ms sampling interval included: an idle loop reads ≈ 10 ms): ` +
      `worst minute p99 ${ms(worst(loaded, (r) => r.lagP99Seconds))} ms, worst max ${ms(worst(loaded, (r) => r.lagMaxSeconds))} ms`,
    `- alarms held: ${int(rows[0]?.alarms ?? 0)} before the load (the whole id pool, raised once), ${int(rows[rows.length - 1]?.alarms ?? 0)} at the end`,
    `- load generator's own event-loop delay: p99 ${dec(final.generatorLagP99Ms, 1)} ms, max ${dec(final.generatorLagMaxMs, 1)} ms`,
  ];
}

function deliveryLines(final: Final): string[] {
  const d = final.delivery;
  const changes = Object.values(d.changesPerProject);
  return [
    `- watchers: ${int(d.watchers)} over ${changes.length} projects; changes per project ${int(Math.min(...changes))}–${int(Math.max(...changes))}; ` +
      `expected ${int(d.expected)} deliveries, received ${int(d.received)} (${int(d.messages)} messages; tally read ` +
      `${dec(d.settleMs / 1000, 1)} s after the last answer)`,
    `- lost watcher messages: ${int(d.lost)} (watchers without RESYNC); missed by watchers after a RESYNC or close: ` +
      `${int(d.missedAfterResync)}; extra ${int(d.extra)}; duplicates ${int(d.duplicates)}`,
    `- RESYNC received ${int(d.resyncs)} (${int(d.watchersResynced)} watchers); watchers closed by the server ${int(d.closed)}; ` +
      `server counters: watch messages dropped ${int(final.serverDropped)}, RESYNCs sent ${int(final.serverResyncs)}`,
  ];
}

/** The summary printed after the table. */
export function summary(rows: readonly MinuteRow[], final: Final): string {
  const last = rows[rows.length - 1] as MinuteRow;
  const short = final.minuteSeconds === 60 ? '' : `; a "minute" here is ${final.minuteSeconds} s, so per-minute figures are per ${final.minuteSeconds} s`;
  return [
    `Summary (${last.minute} minute${last.minute === 1 ? '' : 's'} of load; the first ${WARMUP_MINUTES} are warm-up${short}):`,
    ...memoryLines(rows),
    ...loadLines(rows, final),
    ...deliveryLines(final),
  ].join('\n');
}
