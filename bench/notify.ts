/**
 * Part G: notifications, each measurement on fresh servers, stopped at its end also when it fails.
 * - Attached vs none: single raises (a new alarm per request, as part B's raise row) to Alarm
 *   Center A, with no notifications, and to Alarm Center B, with 3 webhooks (two of format
 *   `alarm`, one of them signed, and one of format `alertmanager`) and 1 Alertmanager attached;
 *   both on SQLite, durability full. The sides take turns as in part B (same connections and
 *   duration); after each of B's turns the bench waits until B has delivered everything (every
 *   webhook's lag 0, the Alertmanager queue empty), so B's deliveries never run during A's turn.
 *   Beside the rates, each server's CPU per 1,000 raises (B's until it had delivered everything),
 *   and a check, from the receiver's counts, that each webhook got every change B committed and
 *   Alertmanager holds every alarm B raised.
 * - Delivery delay at a fixed rate (notify-delay.ts).
 * The webhook receiver (webhook-receiver.ts) runs in a process of its own and answers 200 at once.
 * Without the Debian Alertmanager, the receiver stands in for it, and the rows say so.
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { withServers, type ChildServer } from './children.js';
import { compare, getJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { delayHeads, delayNote, measureDelay, type DelaySettings } from './notify-delay.js';
import {
  DRAIN_TIMEOUT_MS,
  POLL_MS,
  deliveredAll,
  hookPath,
  maxLag,
  metricsText,
  readingOf,
  samples,
  settle,
  sumOf,
  writeConfig,
  type Hook,
  type Reading,
} from './notify-readings.js';
import { alarmInput, sequence } from './payloads.js';
import { processCpuSeconds } from './process-cpu.js';
import { dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import {
  ALERTMANAGER_BIN,
  alertmanagerInstalled,
  serverBuilt,
  startAlarmCenter,
  startAlarmCenterWithConfig,
  startAlertmanager,
  startWebhookReceiver,
} from './servers.js';
import type { ReceiverCounts } from './webhook-receiver.js';

/** Sizes of the notifications part. */
export interface NotifySettings {
  /** How the attached-vs-none comparison drives each side (as part B). */
  load: LoadSettings;
  delay: DelaySettings;
}

/** The name and target of a row, known before it is measured (for error rows). */
interface Head {
  what: string;
  target: string;
}

interface Context {
  settings: NotifySettings;
  section: Section;
  /** A fresh folder for one server's data. */
  dir: (name: string) => string;
  /** Whether the Debian Alertmanager is installed; without it the receiver stands in for it. */
  alertmanager: boolean;
}

/** One measurement: its rows and how to measure them. */
interface Measurement {
  heads: (s: NotifySettings, alertmanager: boolean) => Head[];
  run: (ctx: Context, heads: Head[]) => Promise<Row[]>;
}

const ALARMS = '/v4/default/admin/alarms';
const RATIO_TARGET = 0.8;
/** Unmeasured seconds at the start of each turn after a side's first, as load.ts ramps up its later slices. */
const RAMP_SECONDS = 1;
/** How long Alertmanager may take to hold what Alarm Center sent it. */
const HELD_TIMEOUT_MS = 15_000;
const NO_ALERTMANAGER = `Alertmanager not installed (no ${ALERTMANAGER_BIN})`;

/** B's webhooks: two of format alarm (the second signed), one of format alertmanager. */
const HOOKS: readonly Hook[] = [
  { name: 'alarm-1', format: 'alarm' },
  { name: 'alarm-2-signed', format: 'alarm', secret: 'bench-webhook-secret' },
  { name: 'alertmanager-1', format: 'alertmanager' },
];

/** One side's turn: its load, what it committed, the CPU it spent, and (with notifications) its delivery of them. */
interface Turn {
  load: LoadFigures;
  committed: number;
  cpuSeconds: number;
  /** The largest webhook lag right after the load, and when the wait for the deliveries ended. */
  lagAfterLoad: number;
  lagAtEnd: number;
  /** Seconds from the end of the load until everything was delivered (or the deadline). */
  drainSeconds: number;
  drained: boolean;
}

/**
 * One turn of a side: its share of the measured seconds of raises after `warmup` unmeasured ones,
 * then the wait until its commits stopped and, when it notifies `hooks` webhooks, until it
 * delivered everything; CPU and commits are read around both.
 */
async function turn(server: ChildServer, endpoint: Endpoint, load: LoadSettings, warmup: number, hooks: number): Promise<Turn> {
  const before = await readingOf(server);
  const cpuBefore = processCpuSeconds(server.pid);
  const r = await compare({ side: endpoint }, { connections: load.connections, seconds: load.seconds / load.rounds, warmupSeconds: warmup, rounds: 1 });
  const loaded = performance.now();
  const afterLoad = await readingOf(server);
  const { reading, settled } = await settle(server, (now) => hooks === 0 || deliveredAll(now, hooks), DRAIN_TIMEOUT_MS);
  return {
    load: r.side,
    committed: reading.revision - before.revision,
    cpuSeconds: processCpuSeconds(server.pid) - cpuBefore,
    lagAfterLoad: maxLag(afterLoad),
    lagAtEnd: maxLag(reading),
    drainSeconds: (performance.now() - loaded) / 1000,
    drained: settled,
  };
}

/** A side's turns taken together: answered requests per second over its measured time. */
function rateOf(turns: readonly Turn[]): number {
  const seconds = turns.reduce((s, t) => s + t.load.seconds, 0);
  return turns.reduce((s, t) => s + t.load.reqPerSec * t.load.seconds, 0) / seconds;
}

function total(turns: readonly Turn[], pick: (t: Turn) => number): number {
  return turns.reduce((s, t) => s + pick(t), 0);
}

/** Milliseconds of server CPU per 1,000 committed raises. */
function cpuPerThousand(turns: readonly Turn[]): number {
  return (total(turns, (t) => t.cpuSeconds) * 1_000_000) / total(turns, (t) => t.committed);
}

function rateCell(turns: readonly Turn[]): string {
  const failures = total(turns, (t) => t.load.failures);
  const failed = failures > 0 ? ` · ${int(failures)} failed` : '';
  return `${int(rateOf(turns))} req/s · p99 ${turns.map((t) => dec(t.load.p99Ms, 1)).join(' / ')} ms${failed}`;
}

function cpuCell(turns: readonly Turn[]): string {
  return `${dec(cpuPerThousand(turns), 1)} ms per 1,000 raises (${dec(total(turns, (t) => t.cpuSeconds), 1)} s for ${int(total(turns, (t) => t.committed))})`;
}

/** The CPU seconds the helper processes (receiver, Alertmanager) have spent so far. */
function helpersCpu(helpers: readonly ChildServer[]): number {
  return helpers.reduce((s, h) => s + processCpuSeconds(h.pid), 0);
}

/**
 * The alerts Alertmanager holds in any state (without it, the alerts posted to the receiver
 * standing in for it), once at least `expected` or at the deadline.
 */
function alertmanagerHolds(am: ChildServer | undefined, receiver: ChildServer, expected: number): Promise<number> {
  const read = am
    ? async () => sumOf(samples(await metricsText(am), 'alertmanager_alerts'))
    : async () => ((await getJson(`${receiver.url}/counts`)) as ReceiverCounts).paths['/api/v2/alerts']?.alerts ?? 0;
  return atLeast(read, expected, HELD_TIMEOUT_MS);
}

/** Polls until `read` answers at least `expected` or the deadline passes; answers the last value. */
async function atLeast(read: () => Promise<number>, expected: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const n = await read();
    if (n >= expected || performance.now() >= deadline) return n;
    await delay(POLL_MS);
  }
}

/** What each of B's webhooks received, checked against what B committed. */
function webhookCheck(counts: ReceiverCounts, b: readonly Turn[], final: Reading): { cell: string; ok: boolean } {
  const committed = final.revision;
  const per = HOOKS.map((h) => counts.paths[hookPath(h)] ?? { requests: 0, distinct: 0, signed: 0, alerts: 0 });
  const repeats = per.reduce((s, p) => s + p.requests - p.distinct, 0);
  const signedOk = per.every((p, i) => p.signed === (HOOKS[i]?.secret !== undefined ? p.requests : 0));
  const ok = per.every((p) => p.distinct === committed) && signedOk && final.deadLetters === 0 && counts.unreadable === 0 && b.every((t) => t.drained);
  const received = per.map((p) => int(p.distinct)).join(' / ');
  const drain = b.map((t) => `lag ${int(t.lagAfterLoad)} → ${int(t.lagAtEnd)} in ${dec(t.drainSeconds, 1)} s`).join(', ');
  const cell =
    `${received} of ${int(committed)} changes · ${int(repeats)} repeats · ${int(final.retries)} retries · ${int(final.deadLetters)} dead letters · ` +
    `signed ${signedOk ? 'as configured' : 'NOT as configured'} · after each turn: ${drain}`;
  return { cell, ok };
}

/** The Alertmanager's name in rows: the Debian binary, or the receiver standing in for it. */
function amName(alertmanager: boolean): string {
  return alertmanager ? '1 Alertmanager' : '1 fake Alertmanager (the counting receiver)';
}

/** Raises one new alarm per request. */
function raiseEndpoint(server: ChildServer, next: () => number): Endpoint {
  return { url: server.url, method: 'POST', path: ALARMS, body: () => JSON.stringify(alarmInput(next())) };
}

const attached: Measurement = {
  heads: (_s, am) => [
    {
      what: `notifications: single raise (new alarm per request) with 3 webhooks + ${amName(am)} attached vs none, req/s`,
      target: `ratio ≥ ${dec(RATIO_TARGET, 1)}`,
    },
    { what: 'notifications: server CPU (utime + stime) per 1,000 raises, with notifications (until all delivered) vs none', target: '—' },
    { what: 'notifications: each webhook received every change committed with notifications attached (distinct Idempotency-Keys)', target: 'all · 0 dead letters' },
    { what: `notifications: every alarm raised with notifications attached held by ${amName(am)}`, target: 'all' },
  ],
  async run(ctx, heads) {
    const { load } = ctx.settings;
    const helperStarts: Record<string, () => Promise<ChildServer>> = { receiver: () => startWebhookReceiver() };
    if (ctx.alertmanager) helperStarts.am = () => startAlertmanager(ctx.dir('alertmanager'), load.connections);
    return withServers(helperStarts, async (helpers) => {
      const receiver = helpers.receiver as ChildServer;
      const config = writeConfig(ctx.dir('notifying'), receiver.url, HOOKS, (helpers.am ?? receiver).url);
      const starts = {
        none: () => startAlarmCenter(ctx.dir('none')),
        notifying: () => startAlarmCenterWithConfig(ctx.dir('notifying'), config, 'Alarm Center with notifications'),
      };
      return withServers(starts, async (s) => {
        const turns = await takeTurns(s, Object.values(helpers), load);
        const final = await readingOf(s.notifying);
        const counts = (await getJson(`${receiver.url}/counts`)) as ReceiverCounts;
        const held = await alertmanagerHolds(helpers.am, receiver, final.active);
        const { helperCpu } = turns;
        ctx.section.figures.notifyAttached = {
          hooks: HOOKS.map((h) => ({ ...h, secret: h.secret !== undefined })),
          ...turns,
          final: { ...final, lag: Object.fromEntries(final.lag) },
          receiver: counts.paths,
          held,
        };
        ctx.section.notes.push(
          `Over the turns with notifications, drains included, the receiver${helpers.am ? ' and Alertmanager' : ''} spent ` +
            `${dec(helperCpu, 1)} s of CPU (${dec((helperCpu * 1_000_000) / total(turns.notifying, (t) => t.committed), 1)} ms per ` +
            `1,000 raises) on the cores the server and the load generator use.`,
        );
        return attachedRows(heads, turns, webhookCheck(counts, turns.notifying, final), held, final, helpers.am !== undefined);
      });
    });
  },
};

/**
 * The sides' turns, taken as part B's comparisons take them (same connections and seconds, a
 * warm-up before each side's first); the deliveries of the side with notifications end before
 * the other side's next turn. Answers the turns, and the CPU the helpers spent over B's.
 */
async function takeTurns(
  s: { none: ChildServer; notifying: ChildServer },
  helpers: readonly ChildServer[],
  load: LoadSettings,
): Promise<{ none: Turn[]; notifying: Turn[]; helperCpu: number }> {
  const next = sequence();
  const out = { none: [] as Turn[], notifying: [] as Turn[], helperCpu: 0 };
  for (let round = 0; round < load.rounds; round++) {
    const warmup = round === 0 ? load.warmupSeconds : RAMP_SECONDS;
    out.none.push(await turn(s.none, raiseEndpoint(s.none, next), load, warmup, 0));
    const before = helpersCpu(helpers);
    out.notifying.push(await turn(s.notifying, raiseEndpoint(s.notifying, next), load, warmup, HOOKS.length));
    out.helperCpu += helpersCpu(helpers) - before;
  }
  return out;
}

/** The rows of the attached-vs-none measurement. */
function attachedRows(
  heads: Head[],
  turns: { none: Turn[]; notifying: Turn[] },
  hooks: { cell: string; ok: boolean },
  held: number,
  final: Reading,
  alertmanager: boolean,
): Row[] {
  const { none, notifying } = turns;
  const ratio = rateOf(notifying) / rateOf(none);
  const clean = total([...none, ...notifying], (t) => t.load.failures) === 0;
  const heldWhat = alertmanager ? 'alerts held by Alertmanager' : 'alerts posted to the fake';
  return [
    { ...(heads[0] as Head), alarmCenter: rateCell(notifying), comparison: rateCell(none), ratio, verdict: verdict(ratio >= RATIO_TARGET && clean) },
    { ...(heads[1] as Head), alarmCenter: cpuCell(notifying), comparison: cpuCell(none), ratio: cpuPerThousand(notifying) / cpuPerThousand(none), verdict: 'info' },
    { ...(heads[2] as Head), alarmCenter: hooks.cell, comparison: '—', verdict: verdict(hooks.ok) },
    {
      ...(heads[3] as Head),
      alarmCenter: `${int(held)} ${heldWhat} of ${int(final.active)} active alarms · ${int(final.sent)} alerts sent · ${int(final.dropped)} dropped`,
      comparison: '—',
      verdict: verdict(held >= final.active),
    },
  ];
}

const deliveryDelay: Measurement = {
  heads: (s) => delayHeads(s.delay),
  async run(ctx) {
    const r = await measureDelay(ctx.dir('delay'), ctx.settings.delay);
    ctx.section.figures.notifyDelay = r.figures;
    return r.rows;
  },
};

const MEASUREMENTS: readonly Measurement[] = [attached, deliveryDelay];

function methodNotes(s: NotifySettings, alertmanager: boolean): string[] {
  const { connections, seconds, warmupSeconds, rounds } = s.load;
  const am = alertmanager
    ? 'the Debian Alertmanager as part B runs it (no clustering, one receiver without integrations)'
    : `the receiver, counting the alerts posted to its /api/v2/alerts (no ${ALERTMANAGER_BIN})`;
  return [
    `Notifications attached vs none: two Alarm Centers as part B runs them (SQLite, durability full), one without ` +
      `notifications, one with 3 webhooks (two of format alarm, the second with a secret, so its bodies are signed; one ` +
      `of format alertmanager) and, as its Alertmanager, ${am}. Single raises of a new alarm each, autocannon, ` +
      `${connections} connections, ${seconds} s measured per side after a ${warmupSeconds} s warm-up, taking turns in ` +
      `${rounds} rounds; after each turn of the side with notifications the bench waits (at most ` +
      `${DRAIN_TIMEOUT_MS / 1000} s) until every webhook's lag (alarm_center_webhook_lag_revisions) is 0 and the ` +
      `Alertmanager queue is empty, so its deliveries never run during the other side's turn. The p99s are those of ` +
      `each turn. CPU per 1,000 raises: utime + stime of each server process over its turns (with notifications: ` +
      `until everything was delivered) ÷ the revisions it committed over them. The webhooks' receiver, a node:http ` +
      `server in a process of its own on 127.0.0.1, answers 200 as soon as a body has arrived and counts the distinct ` +
      `Idempotency-Keys per webhook; each webhook must have received every revision the server committed.`,
    delayNote(s.delay),
  ];
}

/** Runs part G in `workDir`; its rows are skipped when the server is not built. */
export async function runNotify(workDir: string, settings: NotifySettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  const alertmanager = alertmanagerInstalled();
  if (!serverBuilt()) {
    for (const m of MEASUREMENTS) section.rows.push(...m.heads(settings, alertmanager).map((h) => skippedRow(h.what, h.target, 'server not built')));
    return section;
  }
  if (!alertmanager) section.notes.push(`Notifications: ${NO_ALERTMANAGER}; a counting receiver stands in for it, as its rows say.`);
  let dirs = 0;
  const ctx: Context = { settings, section, dir: (name) => path.join(workDir, `${String(++dirs).padStart(2, '0')}-${name}`), alertmanager };
  const started = performance.now();
  const loadAverages: number[] = [];
  for (const m of MEASUREMENTS) {
    const heads = m.heads(settings, alertmanager);
    progress(heads[0]?.what ?? '');
    loadAverages.push(os.loadavg()[0] ?? Number.NaN);
    try {
      section.rows.push(...(await m.run(ctx, heads)));
    } catch (err) {
      section.notes.push(`error in "${heads[0]?.what}": ${err instanceof Error ? err.message : String(err)}`);
      section.rows.push(...heads.map((h) => errorRow(h.what, h.target, err)));
    }
  }
  const tookSeconds = (performance.now() - started) / 1000;
  section.notes.push(
    ...methodNotes(settings, alertmanager),
    `The notifications part took ${dec(tookSeconds, 0)} s; the machine's 1-minute load average before each of its ` +
      `measurements: ${loadAverages.map((l) => dec(l, 2)).join(', ')} (${os.cpus().length} cores).`,
  );
  section.figures.notify = { tookSeconds, loadAverages };
  return section;
}
