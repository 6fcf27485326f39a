/**
 * What the intake part reads from its two servers, Alarm Center and Alertmanager, around a
 * comparison: each server's own counts of the alerts it took, from its /metrics, and the CPU its
 * process has spent.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ChildServer } from './children.js';
import { processCpuSeconds } from './process-cpu.js';

/** The two servers: Alarm Center and Alertmanager. */
export type Side = 'ac' | 'am';
export const SIDES = ['ac', 'am'] as const;

/** A server's own counts of what it took, and the CPU its process has spent, at one moment. */
export interface Reading {
  received: number;
  stored: number;
  cpuSeconds: number;
}

/**
 * Where a server counts, in its /metrics, the alerts it took (Alarm Center: accepted, that is
 * stored, by this intake; Alertmanager: received) and what only a new alert moves: Alarm Center's revision (one
 * history entry per change), the alerts Alertmanager holds in any state.
 */
const COUNTERS: Record<Side, { received: readonly string[]; stored: readonly string[] }> = {
  ac: {
    received: ['alarm_center_intake_alerts_total{intake="alertmanager_api",result="accepted"}'],
    stored: ['alarm_center_store_revision'],
  },
  am: {
    received: ['alertmanager_alerts_received_total{status="firing",version="v2"}'],
    stored: ['active', 'suppressed', 'unprocessed'].map((state) => `alertmanager_alerts{state="${state}"}`),
  },
};

/** The counts are read again after this long, until two readings agree. */
const SETTLE_MS = 250;
const SETTLE_TRIES = 40;

/**
 * The sum of the samples of `series` (names with their labels, exactly as exposed) in a /metrics
 * text. A series of a declared metric that has no sample yet counts 0 (prom-client shows a
 * labelled counter only once incremented); one of an undeclared metric fails.
 */
function sumOf(text: string, series: readonly string[]): number {
  const lines = text.split('\n');
  let sum = 0;
  for (const name of series) {
    const line = lines.find((l) => l.startsWith(`${name} `));
    if (line !== undefined) sum += Number(line.slice(name.length + 1));
    else if (!lines.some((l) => l.startsWith(`# TYPE ${name.split('{')[0]} `))) throw new Error(`no ${name} in /metrics`);
  }
  return sum;
}

/** A server's counts, from one GET /metrics. */
async function counts(server: ChildServer, side: Side): Promise<Omit<Reading, 'cpuSeconds'>> {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`${server.name}: GET /metrics answered ${res.status}: ${text.slice(0, 300)}`);
  return { received: sumOf(text, COUNTERS[side].received), stored: sumOf(text, COUNTERS[side].stored) };
}

/**
 * Both servers' readings once their received counts stopped moving, so the requests in flight
 * when a load ended are in; the CPU is read after the last count.
 */
export async function settledReadings(s: Record<Side, ChildServer>): Promise<Record<Side, Reading>> {
  const both = async () => ({ ac: await counts(s.ac, 'ac'), am: await counts(s.am, 'am') });
  let last = await both();
  for (let tries = 0; tries < SETTLE_TRIES; tries += 1) {
    await delay(SETTLE_MS);
    const now = await both();
    if (SIDES.every((k) => now[k].received === last[k].received)) {
      return { ac: { ...now.ac, cpuSeconds: processCpuSeconds(s.ac.pid) }, am: { ...now.am, cpuSeconds: processCpuSeconds(s.am.pid) } };
    }
    last = now;
  }
  throw new Error(`the servers' counts still move ${(SETTLE_TRIES * SETTLE_MS) / 1000} s after the load`);
}
