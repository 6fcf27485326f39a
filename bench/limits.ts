/**
 * Part D: memory when clients fill the limits over all domains. Alarm Center's built server runs
 * with every setting at its default and V8's heap capped at 1 GiB; this process is a client
 * without a token that invents `x-domain-name` values. Two scenarios, each on a fresh server:
 * - burst: alarms with 15 KiB fields, each a new alarm, until 429002 (`maxFieldsBytes`);
 * - fill: alarms whose id and source are as long as allowed until 429002 (`maxAlarms`), each
 *   acknowledged with the longest texts, then raised again with 15 KiB fields until 429002
 *   (`maxFieldsBytes`): every alarm limit full, with the costliest alarms a client can make.
 * It reads the server's peak RSS (VmHWM) and the RSS it holds after a quiet spell. Every text is
 * one V8 keeps at two bytes a character, the most memory a counted byte can cost. Everything
 * goes to 127.0.0.1; requests and time are bounded.
 *
 * Run it alone with `BENCH_ONLY=limits npm run bench`.
 */
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { withServers, type ChildServer } from './children.js';
import { bytes, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import { serverBuilt, startAlarmCenterAsShipped } from './servers.js';

/** Sizes and bounds of the limits part. */
export interface LimitsSettings {
  /** UTF-8 bytes of each big alarm's fields JSON. */
  fieldsBytes: number;
  /** Big alarms per request: as many as fit the default 1 MiB body. */
  bigPerBatch: number;
  /** Alarms with the longest id and source per request. */
  longPerBatch: number;
  /** Invented domains the requests go round. */
  domains: number;
  /** Requests in flight at once. */
  inFlight: number;
  /** V8's heap cap of the server, in MiB. */
  heapMiB: number;
  /** Most requests of each burst, and the longest it may take. */
  maxRequests: number;
  deadlineMs: number;
}

/** How one burst ended. */
interface Burst {
  accepted: number;
  requests: number;
  seconds: number;
  /** The first number of every accepted batch. */
  batches: number[];
  /** The 429002 detail that ended the burst; undefined when a bound ended it first. */
  refusal?: string;
}

/** What one scenario measured. */
interface Memory {
  idle: number;
  peak: number;
  held: number;
}

/** Seconds without requests before the held RSS is read, as in part B (V8 gives garbage back by then). */
const HOLD_SECONDS = 20;
const ALARMS = '/v4/p/admin/alarms';
/** The RSS the server must stay under, filling every limit. */
const RSS_TARGET = 1024 * 1024 * 1024;

/** A text of `n` UTF-8 bytes (n ≥ 3) that V8 keeps at two bytes a character: it holds a `€`. */
function twoByteText(n: number): string {
  return `€${'x'.repeat(n - Buffer.byteLength('€'))}`;
}

/** A two-byte text of exactly `chars` characters starting with `tag`. */
function twoByteChars(tag: string, chars: number): string {
  return `€${tag}`.padEnd(chars, 'x');
}

const domainOf = (batch: number, settings: LimitsSettings) => `made-up-${batch % settings.domains}`;
/** The n-th alarm with the longest id and source. */
const longKey = (n: number) => ({ id: `${n}-`.padEnd(128, 'i'), source: twoByteChars(`${n}-`, 256) });

/** Fields of `fieldsBytes` JSON bytes. */
function bigFields(settings: LimitsSettings): { detail: string } {
  return { detail: twoByteText(settings.fieldsBytes - '{"detail":""}'.length) };
}

/**
 * Sends batches (numbered `first`, `first + perBatch`, …) to invented domains, `inFlight` at a
 * time, until the server answers 429002 or a bound is reached. 429001 (write rate or queue) is
 * waited out; any other answer fails the burst.
 */
async function burst(
  server: ChildServer,
  settings: LimitsSettings,
  perBatch: number,
  body: (first: number) => object,
  domain: (first: number) => string = (first) => domainOf(first / perBatch, settings),
): Promise<Burst> {
  const started = Date.now();
  const out: Burst = { accepted: 0, requests: 0, seconds: 0, batches: [] };
  let next = 0;
  const done = () => out.refusal !== undefined || out.requests >= settings.maxRequests || Date.now() - started > settings.deadlineMs;
  const worker = async (): Promise<void> => {
    while (!done()) {
      const first = next;
      next += perBatch;
      out.requests += 1;
      const res = await fetch(`${server.url}${ALARMS}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-domain-name': domain(first) },
        body: JSON.stringify(body(first)),
      });
      const answer = (await res.json()) as { alarms?: unknown[]; errorCode?: string; detail?: string };
      if (res.ok) {
        out.accepted += answer.alarms?.length ?? 0;
        out.batches.push(first);
      } else if (answer.errorCode === '429002') out.refusal ??= answer.detail;
      else if (answer.errorCode === '429001') await delay(100);
      else throw new Error(`POST ${ALARMS} answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: settings.inFlight }, worker));
  out.seconds = (Date.now() - started) / 1000;
  return out;
}

/** Acknowledges every alarm of the accepted long batches with the longest `by` and `comment`. */
async function ackAll(server: ChildServer, settings: LimitsSettings, batches: readonly number[]): Promise<number> {
  const keys = batches.flatMap((first) =>
    Array.from({ length: settings.longPerBatch }, (_, i) => ({ ...longKey(first + i), domain: domainOf(first / settings.longPerBatch, settings) })),
  );
  let at = 0;
  let acked = 0;
  const worker = async (): Promise<void> => {
    while (at < keys.length) {
      const key = keys[at++] as { id: string; source: string; domain: string };
      const res = await fetch(`${server.url}${ALARMS}/${key.id}/ack?source=${encodeURIComponent(key.source)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-domain-name': key.domain },
        body: JSON.stringify({ by: twoByteChars(key.id, 256), comment: twoByteChars(key.id, 1024) }),
      });
      const text = await res.text();
      if (res.ok) acked += 1;
      else if (res.status === 429) {
        // The write rate limit: this one is tried again after the others.
        keys.push(key);
        await delay(100);
      } else throw new Error(`ack answered ${res.status}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: settings.inFlight * 4 }, worker));
  return acked;
}

/** Reads the held RSS after the quiet spell, once the server shows it is still alive. */
async function hold(server: ChildServer): Promise<number> {
  await delay(HOLD_SECONDS * 1000);
  const live = await fetch(`${server.url}/livez`);
  if (!server.alive || live.status !== 200) throw new Error(`the server did not survive (livez ${live.status})`);
  return server.rss();
}

/** A row for one burst: it passes when a 429002 naming `limit` ended it. */
function burstRow(what: string, b: Burst, limit: string, extra = ''): Row {
  const ended = b.refusal ? `then 429002 "${b.refusal}"` : `no 429002 after ${int(b.requests)} requests`;
  return {
    what,
    alarmCenter: `${int(b.accepted)} accepted${extra} in ${b.seconds.toFixed(1)} s, ${ended}`,
    comparison: '—',
    target: `refused with 429002 (${limit})`,
    verdict: verdict(b.refusal?.includes(`(${limit})`) === true),
  };
}

/** The peak and held RSS rows of a scenario. */
function memoryRows(scenario: string, m: Memory): Row[] {
  return [
    { what: `limits, ${scenario}: server peak RSS (VmHWM)`, alarmCenter: `${bytes(m.peak)} (idle ${bytes(m.idle)})`, comparison: '—', target: '< 1 GiB', verdict: verdict(m.peak < RSS_TARGET) },
    { what: `limits, ${scenario}: server RSS held ${HOLD_SECONDS} s later`, alarmCenter: bytes(m.held), comparison: '—', target: '< 1 GiB', verdict: verdict(m.held < RSS_TARGET) },
  ];
}

const BURST = 'burst';
const FILL = 'fill';
const HEADS = {
  burst: `limits, ${BURST}: new alarms with 15 KiB fields over invented domains`,
  fillAlarms: `limits, ${FILL}: alarms with 128-char ids and 256-char sources over invented domains`,
  fillFields: `limits, ${FILL}: the same alarms, each acknowledged (256 + 1,024 chars), raised again with 15 KiB fields`,
};

async function burstScenario(server: ChildServer, settings: LimitsSettings, section: Section): Promise<void> {
  const idle = server.rss();
  const fields = bigFields(settings);
  const big = await burst(server, settings, settings.bigPerBatch, (first) => ({
    alarms: Array.from({ length: settings.bigPerBatch }, (_, i) => ({ id: 'Burst', source: `big-${first + i}`, fields })),
  }));
  const peak = server.peakRss();
  const memory = { idle, peak, held: await hold(server) };
  section.rows.push(burstRow(HEADS.burst, big, 'maxFieldsBytes', ` (${bytes(big.accepted * settings.fieldsBytes)} of fields)`), ...memoryRows(BURST, memory));
  section.figures.limitsBurst = { big: { ...big, batches: undefined }, ...memory };
}

async function fillScenario(server: ChildServer, settings: LimitsSettings, section: Section, progress: (what: string) => void): Promise<void> {
  const idle = server.rss();
  const per = settings.longPerBatch;
  progress(`${FILL}: alarms with long ids and sources until 429002`);
  const long = await burst(server, settings, per, (first) => ({
    alarms: Array.from({ length: per }, (_, i) => ({ ...longKey(first + i), fields: {} })),
  }));
  progress(`${FILL}: acknowledging them`);
  const acked = await ackAll(server, settings, long.batches);
  progress(`${FILL}: raising them again with big fields until 429002`);
  const fields = bigFields(settings);
  // Batch n re-raises alarms of accepted long batch n, in its domain, `bigPerBatch` at a time.
  const slices = long.batches.flatMap((first) => Array.from({ length: Math.ceil(per / settings.bigPerBatch) }, (_, j) => ({ first, j })));
  const big = await burst(server, { ...settings, maxRequests: Math.min(settings.maxRequests, slices.length) }, 1, (n) => {
    const { first, j } = slices[n] as { first: number; j: number };
    const from = first + j * settings.bigPerBatch;
    const size = Math.min(settings.bigPerBatch, first + per - from);
    return { alarms: Array.from({ length: size }, (_, i) => ({ ...longKey(from + i), fields })) };
  }, (n) => domainOf((slices[n] as { first: number }).first / per, settings));
  const peak = server.peakRss();
  const memory = { idle, peak, held: await hold(server) };
  section.rows.push(
    burstRow(HEADS.fillAlarms, long, 'maxAlarms'),
    burstRow(HEADS.fillFields, big, 'maxFieldsBytes', ` (${int(acked)} acknowledged first)`),
    ...memoryRows(FILL, memory),
  );
  section.figures.limitsFill = { long: { ...long, batches: undefined }, acked, big: { ...big, batches: undefined }, ...memory };
}

/** Runs part D in `workDir`; its rows are skipped when the server is not built. */
export async function runLimits(workDir: string, settings: LimitsSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  if (!serverBuilt()) {
    section.rows.push(...Object.values(HEADS).map((h) => skippedRow(h, '—', 'server not built')));
    return section;
  }
  const start = (name: string) => () => startAlarmCenterAsShipped(path.join(workDir, name), settings.heapMiB);
  const scenarios: [string, string, (s: ChildServer) => Promise<void>][] = [
    [BURST, HEADS.burst, (s) => burstScenario(s, settings, section)],
    [FILL, HEADS.fillAlarms, (s) => fillScenario(s, settings, section, progress)],
  ];
  for (const [name, head, run] of scenarios) {
    progress(name);
    try {
      await withServers({ ac: start(name) }, ({ ac }) => run(ac));
    } catch (err) {
      section.rows.push(errorRow(head, '—', err));
    }
  }
  section.notes.push(
    `Limits: each scenario runs a fresh server with its default settings (write rate limit included) under ` +
      `\`--max-old-space-size=${settings.heapMiB}\`; the client sends ${settings.inFlight} requests at a time to ` +
      `${int(settings.domains)} invented domains. Every text sent holds a character past Latin-1, so V8 keeps it at two ` +
      `bytes a character, the most a byte counted by maxFieldsBytes can cost. Peak RSS is the process's VmHWM.`,
  );
  return section;
}
