/**
 * Part H: the console in headless Chromium (console-page.ts). A fresh Alarm Center, as part B
 * runs it, holds `alarms` active alarms, raised over the API in batches; then
 * - first render: `loads` fresh page loads of `/` (each in a new browser context: empty cache and
 *   storage), each read for the page's own mark `console-first-render` and for when its count
 *   first read "10,000 active alarms", both in ms after navigation start;
 * - commit to row: one page open on `/?sort=time` (newest first, so each new alarm's row is the
 *   first of the list and rendered, although the list renders only the rows in view) while new
 *   alarms are raised one per request on an open-loop schedule (the n-th at n ÷ rate seconds);
 *   the page notes the `Date.now()` at which each one's row is first in its document, and the
 *   delay is that time minus the alarm's `updatedAt` in the raise's answer (the same clock).
 * The server and the browser are stopped at the end, also on failure.
 */
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { withServers, type ChildServer } from './children.js';
import { chromiumInstalled, CHROMIUM_BIN, firstRender, openWatched, withChromium, type FirstRender, type WatchedPage } from './console-page.js';
import { loadInBatches, postJson } from './load.js';
import { alarmInput, DETAIL } from './payloads.js';
import { percentile } from './percentile.js';
import { dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { serverBuilt, startAlarmCenter } from './servers.js';

/** Sizes of the console part. */
export interface ConsoleSettings {
  /** Active alarms the server holds before the page is opened. */
  alarms: number;
  /** Fresh page loads whose first render is read. */
  loads: number;
  /** New alarms per second while the page is open, for `seconds` measured after `warmupSeconds`. */
  rate: number;
  seconds: number;
  warmupSeconds: number;
}

const ALARMS = '/v4/default/admin/alarms';
const SEED_BATCH = 1000;
const SEED_IN_FLIGHT = 4;
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
/** The sources of the alarms raised while the page is open start with this; the seeded ones do not. */
const CHANGE_PREFIX = 'change-';
/** Most raises in flight at once. */
const RAISES_IN_FLIGHT = 16;
const REQUEST_TIMEOUT_MS = 30_000;
/** How long after the last raise's answer the page may take to show every row. */
const SEEN_TIMEOUT_MS = 15_000;
const POLL_MS = 100;
const NO_CHROMIUM = `Chromium not installed (no ${CHROMIUM_BIN}; Debian package chromium)`;

/** The name and target of a row, known before it is measured (for skip and error rows). */
interface Head {
  what: string;
  target: string;
}

/** One raise answered 2xx: its alarm's source, and its updatedAt in ms. */
interface Raised {
  n: number;
  source: string;
  committedAt: number;
}

/** What the scheduled raises came to. */
interface Raises {
  raised: Raised[];
  failed: number;
  /** How late, at most, a raise left after its slot in the schedule. */
  behindMaxMs: number;
  /** Raises sent per second, from the first to the last. */
  achievedRate: number;
}

/** Percentiles of a set of milliseconds. */
interface Spread {
  min: number;
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  return { min: sorted[0] ?? Number.NaN, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN, samples: sorted.length };
}

/** The rows of the part. */
function heads(s: ConsoleSettings): Head[] {
  return [
    {
      what: `console: first render with ${int(s.alarms)} active alarms in headless Chromium, mark console-first-render after navigation start, ${s.loads} fresh page loads`,
      target: 'report only',
    },
    {
      what: `console: delay from commit (the alarm's updatedAt) to its row in the page's DOM, ${int(s.rate)} new alarms/s for ${s.seconds} s, sorted newest first`,
      target: 'report only',
    },
    { what: `console at ${int(s.rate)} new alarms/s: every acknowledged alarm's row seen`, target: 'all' },
  ];
}

/** Raises `total` active alarms of assorted severities in batches. */
function seed(server: ChildServer, total: number): Promise<void> {
  return loadInBatches(total, SEED_BATCH, SEED_IN_FLIGHT, (first, size) =>
    postJson(`${server.url}${ALARMS}`, {
      alarms: Array.from({ length: size }, (_, i) => ({ ...alarmInput(first + i), severity: SEVERITIES[(first + i) % SEVERITIES.length] })),
    }),
  );
}

/** Raises the n-th new alarm; answers its updatedAt in ms, or undefined when the raise failed. */
async function raiseOne(server: ChildServer, n: number): Promise<Raised | undefined> {
  const source = `${CHANGE_PREFIX}${n}`;
  try {
    const res = await fetch(`${server.url}${ALARMS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ConsoleBench', source, severity: 'major', fields: { detail: DETAIL } }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await res.json()) as { alarms?: { updatedAt?: unknown }[] };
    const committedAt = Date.parse(String(body.alarms?.[0]?.updatedAt));
    return res.ok && Number.isFinite(committedAt) ? { n, source, committedAt } : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `count` raises, the n-th at n ÷ `rate` seconds (later when RAISES_IN_FLIGHT are in flight); resolves once all are answered. */
async function raiseOnSchedule(server: ChildServer, rate: number, count: number): Promise<Raises> {
  const out: Raises = { raised: [], failed: 0, behindMaxMs: 0, achievedRate: 0 };
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  let last = start;
  for (let n = 0; n < count; ) {
    const slot = start + (n * 1000) / rate;
    const now = performance.now();
    if (slot > now) await delay(slot - now);
    else if (pending.size >= RAISES_IN_FLIGHT) await Promise.race(pending);
    else {
      out.behindMaxMs = Math.max(out.behindMaxMs, now - slot);
      const p = raiseOne(server, n).then((r) => {
        if (r) out.raised.push(r);
        else out.failed += 1;
        pending.delete(p);
      });
      pending.add(p);
      last = now;
      n += 1;
    }
  }
  await Promise.all(pending);
  out.achievedRate = count > 1 ? ((count - 1) * 1000) / (last - start) : count;
  return out;
}

/** Polls the page until it has seen every raised alarm's row or the deadline passes; answers what it saw. */
async function seenAll(page: WatchedPage, raised: readonly Raised[]): Promise<Map<string, number>> {
  const deadline = performance.now() + SEEN_TIMEOUT_MS;
  for (;;) {
    const seen = await page.seen();
    if (raised.every((r) => seen.has(r.source)) || performance.now() >= deadline) return seen;
    await delay(POLL_MS);
  }
}

/** The first renders of `loads` fresh pages. */
async function firstRenders(browser: Browser, url: string, count: number, countText: string): Promise<FirstRender[]> {
  const loads: FirstRender[] = [];
  for (let i = 0; i < count; i++) loads.push(await firstRender(browser, url, countText));
  return loads;
}

function firstRenderRow(head: Head, loads: readonly FirstRender[]): Row {
  const mark = spread(loads.map((l) => l.markMs));
  const count = spread(loads.map((l) => l.countMs));
  const rows = [...new Set(loads.map((l) => l.rowsInDocument))].sort((a, b) => a - b);
  return {
    ...head,
    alarmCenter:
      `median ${int(mark.p50)} ms · max ${int(mark.max)} ms (each: ${loads.map((l) => int(l.markMs)).join(', ')}) · ` +
      `count shown at median ${int(count.p50)} ms, max ${int(count.max)} ms · ${rows.join(' or ')} rows in the document`,
    comparison: '—',
    verdict: 'info',
  };
}

/** The delays of the measured raises and of the warm-up's, and how many rows were not seen. */
function delaysOf(raised: readonly Raised[], seen: ReadonlyMap<string, number>, warmupCount: number): { measured: Spread; warmup: Spread; missing: number } {
  const measured: number[] = [];
  const warmup: number[] = [];
  let missing = 0;
  for (const r of raised) {
    const at = seen.get(r.source);
    if (at === undefined) missing += 1;
    else (r.n < warmupCount ? warmup : measured).push(at - r.committedAt);
  }
  return { measured: spread(measured), warmup: spread(warmup), missing };
}

/** Opens the watched page, raises on schedule, and answers the rows of the delay and the check that every row was seen. */
async function commitToRow(section: Section, browser: Browser, server: ChildServer, s: ConsoleSettings, countText: string): Promise<Row[]> {
  const [, delayHead, seenHead] = heads(s) as [Head, Head, Head];
  const page = await openWatched(browser, `${server.url}/?sort=time`, CHANGE_PREFIX, countText);
  try {
    const warmupCount = Math.round(s.rate * s.warmupSeconds);
    const raises = await raiseOnSchedule(server, s.rate, warmupCount + Math.round(s.rate * s.seconds));
    const seen = await seenAll(page, raises.raised);
    const d = delaysOf(raises.raised, seen, warmupCount);
    const sent = raises.raised.length + raises.failed;
    const ok = d.missing === 0 && raises.failed === 0 && page.problems.length === 0;
    const { raised, ...rest } = raises;
    section.figures.consoleDelay = { ...rest, acknowledged: raised.length, missing: d.missing, delayMs: d.measured, warmupDelayMs: d.warmup, problems: page.problems };
    return [
      {
        ...delayHead,
        alarmCenter:
          `p50 ${int(d.measured.p50)} ms · p99 ${int(d.measured.p99)} ms · max ${int(d.measured.max)} ms (${int(d.measured.samples)} changes; ` +
          `the ${s.warmupSeconds} s of warm-up before them: p99 ${int(d.warmup.p99)} ms, max ${int(d.warmup.max)} ms)`,
        comparison: '—',
        verdict: 'info',
      },
      {
        ...seenHead,
        alarmCenter:
          `${int(raised.length - d.missing)} of ${int(raised.length)} acknowledged alarms seen (warm-up included) · ${int(raises.failed)} of ${int(sent)} raises failed · ` +
          `raised at ${dec(raises.achievedRate, 1)}/s, at most ${dec(raises.behindMaxMs, 1)} ms behind the schedule · ${page.problems.length} script errors in the page`,
        comparison: '—',
        verdict: verdict(ok),
      },
    ];
  } finally {
    await page.context.close();
  }
}

/** How the part measures, for the notes. */
function methodNote(s: ConsoleSettings): string {
  return (
    `Console: Debian's Chromium, headless (playwright-core, a 1400×900 window), on a fresh Alarm Center as part B runs ` +
    `it holding ${int(s.alarms)} active alarms (raised over the API in batches of ${int(SEED_BATCH)}). First render: ` +
    `${s.loads} loads of / in fresh browser contexts (empty cache), one after the other; the page marks ` +
    `console-first-render once its first list has reached the screen (a frame, then a task, after the render), read as ` +
    `its startTime (ms after navigation start), and the count is when the text "${int(s.alarms)} active alarms" first ` +
    `appeared. Commit to row: one page on /?sort=time (newest first) that follows the project live; new alarms, one per ` +
    `request, on a fixed schedule of ${int(s.rate)}/s (open loop, at most ${RAISES_IN_FLIGHT} in flight), ` +
    `${s.warmupSeconds} s of warm-up then ${s.seconds} s measured. A MutationObserver put into the page before its ` +
    `scripts notes Date.now() when a row with the alarm's source is first in the document (after the render, before ` +
    `layout and paint); the delay is that minus the updatedAt of the raise's answer (in whole ms, the same machine's ` +
    `clock). It spans the commit, the watch stream, the page's batching of changes to the next frame, its sort of every ` +
    `alarm and the render.`
  );
}

/** Runs part H in `workDir`; its rows are skipped, loudly, when the server is not built or Chromium is missing. */
export async function runConsole(workDir: string, s: ConsoleSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const reason = !serverBuilt() ? 'server not built' : !chromiumInstalled() ? NO_CHROMIUM : undefined;
  if (reason) {
    progress(`!!! SKIPPING the console rows: ${reason}`);
    section.notes.push(`Console rows skipped: ${reason}.`);
    section.rows.push(...heads(s).map((h) => skippedRow(h.what, h.target, reason)));
    return section;
  }
  const [renderHead] = heads(s) as [Head];
  const countText = `${int(s.alarms)} active alarms`;
  try {
    await withServers({ ac: () => startAlarmCenter(path.join(workDir, 'console')) }, async ({ ac }) => {
      progress(`raising ${int(s.alarms)} alarms`);
      await seed(ac, s.alarms);
      await withChromium(async (browser) => {
        progress(`first render, ${s.loads} fresh page loads`);
        const loads = await firstRenders(browser, `${ac.url}/`, s.loads, countText);
        section.figures.consoleFirstRender = loads;
        section.rows.push(firstRenderRow(renderHead, loads));
        const problems = loads.flatMap((l) => l.problems);
        if (problems.length > 0) section.notes.push(`Console first render: script errors in the page: ${problems.join('; ')}`);
        progress(`commit to row, ${int(s.rate)} new alarms/s`);
        section.rows.push(...(await commitToRow(section, browser, ac, s, countText)));
      });
    });
  } catch (err) {
    section.notes.push(`error in part H: ${err instanceof Error ? err.message : String(err)}`);
    const done = new Set(section.rows.map((r) => r.what));
    section.rows.push(...heads(s).filter((h) => !done.has(h.what)).map((h) => errorRow(h.what, h.target, err)));
  }
  section.notes.push(methodNote(s));
  return section;
}
