/**
 * Part I's lapse delay: on a running Alarm Center, `lapses` heartbeats are registered (a
 * registration is a beat) and never beaten again. Once their deadlines pass, each one's
 * HeartbeatMissing `raisedAt` minus the deadline its registration answered is its delay; both
 * times are the server's clock. Every one must be raised, and no other heartbeat (those the beater
 * keeps beating meanwhile) may be.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Tally } from './checks-beater.js';
import type { ChildServer } from './children.js';
import { getJson, loadInBatches } from './load.js';
import { percentile } from './percentile.js';
import { int, verdict, type Row } from './report.js';

/** The HeartbeatMissing alarms of project default, found by the index of ids whatever the number of alarms. */
export type Missing = { source: string; raisedAt: string }[];

/** What keeps the other heartbeats beating while the lapses are measured. */
export interface Beats {
  start(): void;
  pause(): Promise<Tally>;
}

const ALARMS = '/v4/default/admin/alarms';
const HEARTBEATS = '/v4/default/admin/heartbeats';
const TIMEOUT_SECONDS = 2;
const DELAY_TARGET_MS = 1000;
/** How long after the last deadline the lapses may take to be raised before the bench stops waiting. */
const WAIT_MS = 15_000;
const IN_FLIGHT = 16;
const POLL_MS = 200;

export function missingOf(server: ChildServer): Promise<Missing> {
  return getJson(`${server.url}${ALARMS}?id=HeartbeatMissing`).then((b) => (b as { alarms: Missing }).alarms);
}

/** The lapse row's name and target, known before it is measured. */
export function lapseHead(lapses: number): { what: string; target: string } {
  return {
    what: `heartbeat lapse: deadline to HeartbeatMissing raisedAt, ${int(lapses)} heartbeats (timeout ${TIMEOUT_SECONDS} s) never beaten again, while the others beat and the checks run`,
    target: `p99 < ${int(DELAY_TARGET_MS)} ms · all raised`,
  };
}

/** Registers the lapsing heartbeats; answers each one's deadline (ms) as its registration answered it. */
async function register(server: ChildServer, n: number): Promise<Map<string, number>> {
  const deadlines = new Map<string, number>();
  await loadInBatches(n, 1, IN_FLIGHT, async (i) => {
    const name = `lapse-${i}`;
    const res = await fetch(`${server.url}${HEARTBEATS}/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timeoutSeconds: TIMEOUT_SECONDS }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`PUT ${HEARTBEATS}/${name} answered ${res.status}: ${text.slice(0, 300)}`);
    deadlines.set(name, Date.parse((JSON.parse(text) as { heartbeat: { deadline: string } }).heartbeat.deadline));
  });
  return deadlines;
}

/** Measures the lapses on `server` while `beats` beat the others; answers the row and its figures. */
export async function measureLapses(server: ChildServer, lapses: number, beats: Beats): Promise<{ row: Row; figures: Record<string, unknown> }> {
  beats.start();
  const deadlines = await register(server, lapses);
  const giveUp = Math.max(...deadlines.values()) + WAIT_MS;
  let missing = await missingOf(server);
  while (missing.filter((a) => deadlines.has(a.source)).length < lapses && Date.now() < giveUp) {
    await delay(POLL_MS);
    missing = await missingOf(server);
  }
  const tally = await beats.pause();
  const delays = missing.filter((a) => deadlines.has(a.source)).map((a) => Date.parse(a.raisedAt) - (deadlines.get(a.source) as number));
  const others = missing.length - delays.length;
  const sorted = Float64Array.from(delays).sort();
  const [p50, p99, max] = [percentile(sorted, 50), percentile(sorted, 99), sorted[sorted.length - 1] ?? Number.NaN];
  const row: Row = {
    ...lapseHead(lapses),
    alarmCenter: `p50 ${int(p50)} ms · p99 ${int(p99)} ms · max ${int(max)} ms · ${int(delays.length)} of ${int(lapses)} raised`,
    comparison: `meanwhile ${int(tally.ok / tally.seconds)} beats/s of the others, ${int(others)} of them raised`,
    verdict: verdict(p99 < DELAY_TARGET_MS && delays.length === lapses && others === 0),
  };
  return { row, figures: { lapses, timeoutSeconds: TIMEOUT_SECONDS, raised: delays.length, delayMs: { p50, p99, max }, othersRaised: others, beats: tally } };
}

/** How the lapse delay is measured, for the notes. */
export const LAPSE_NOTE =
  `The lapse delay: heartbeats registered with timeoutSeconds ${TIMEOUT_SECONDS} on the server with heartbeats, after ` +
  `the raises, and never beaten again; each one's delay is the raisedAt of its HeartbeatMissing minus the deadline its ` +
  `registration answered (both the server's clock). The server looks for lapsed heartbeats every 250 ms.`;
