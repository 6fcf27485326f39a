/**
 * What the notifications part (part G) shares between its measurements: the config file it starts
 * Alarm Center with (webhooks to the receiver, an Alertmanager), and what it reads from Alarm
 * Center's /metrics: the revision, each webhook's lag and deliveries, the Alertmanager queue.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ChildServer } from './children.js';

/** A webhook of the config file; the receiver takes it on its own path. */
export interface Hook {
  name: string;
  format: 'alarm' | 'alertmanager';
  secret?: string;
}

/** How long a server may take to deliver what it committed before the bench stops waiting. */
export const DRAIN_TIMEOUT_MS = 300_000;
/** How often a server's /metrics is read while waiting. */
export const POLL_MS = 200;

/** The receiver's path of a webhook. */
export function hookPath(h: Hook): string {
  return `/hooks/${h.name}`;
}

/** Writes Alarm Center's config file: the webhooks to the receiver, and the Alertmanager when given. */
export function writeConfig(dir: string, receiver: string, hooks: readonly Hook[], alertmanager?: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'alarm-center.json');
  const webhooks = hooks.map((h) => ({ name: h.name, url: `${receiver}${hookPath(h)}`, format: h.format, ...(h.secret !== undefined && { secret: h.secret }) }));
  fs.writeFileSync(file, `${JSON.stringify({ webhooks, ...(alertmanager !== undefined && { alertmanagers: [alertmanager] }) }, null, 2)}\n`);
  return file;
}

/** Every sample of the metric `name` in a /metrics text, by its labels as written (`''` for none). */
export function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest.startsWith(' ')) out.set('', Number(rest.slice(1)));
    else if (rest.startsWith('{')) {
      const end = rest.lastIndexOf('} ');
      out.set(rest.slice(1, end), Number(rest.slice(end + 2)));
    }
  }
  return out;
}

/** The sum of the samples whose labels hold every one of `labels` (`name="value"`). */
export function sumOf(m: Map<string, number>, ...labels: string[]): number {
  let sum = 0;
  for (const [l, v] of m) if (labels.every((x) => l.includes(x))) sum += v;
  return sum;
}

export async function metricsText(server: ChildServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`${server.name}: GET /metrics answered ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** What Alarm Center's /metrics says of its changes and notifications at one moment. */
export interface Reading {
  revision: number;
  /** ACTIVATED alarms held. */
  active: number;
  /** Each webhook's lag, by name. */
  lag: Map<string, number>;
  /** 2xx answers to webhook deliveries. */
  delivered: number;
  /** Webhook attempts to be tried again, and dead letters. */
  retries: number;
  deadLetters: number;
  /** Alerts waiting for the Alertmanager, taken by it, and let go of. */
  queue: number;
  /** Durable revisions the forwarding has not read yet. */
  backlog: number;
  sent: number;
  dropped: number;
}

export async function readingOf(server: ChildServer): Promise<Reading> {
  const text = await metricsText(server);
  const lag = new Map<string, number>();
  for (const [labels, v] of samples(text, 'alarm_center_webhook_lag_revisions')) lag.set(/webhook="([^"]*)"/.exec(labels)?.[1] ?? labels, v);
  const deliveries = samples(text, 'alarm_center_webhook_deliveries_total');
  return {
    revision: sumOf(samples(text, 'alarm_center_store_revision')),
    active: sumOf(samples(text, 'alarm_center_alarms'), 'status="ACTIVATED"'),
    lag,
    delivered: sumOf(deliveries, 'outcome="success"'),
    retries: sumOf(deliveries, 'outcome="retry"'),
    deadLetters: sumOf(samples(text, 'alarm_center_webhook_dead_letters')),
    queue: sumOf(samples(text, 'alarm_center_alertmanager_queue_length')),
    backlog: sumOf(samples(text, 'alarm_center_alertmanager_backlog_revisions')),
    sent: sumOf(samples(text, 'alarm_center_alertmanager_alerts_sent_total')),
    dropped: sumOf(samples(text, 'alarm_center_alertmanager_alerts_dropped_total')),
  };
}

/** The largest lag of any webhook. */
export function maxLag(r: Reading): number {
  return Math.max(0, ...r.lag.values());
}

/** Whether every one of `hooks` webhooks has delivered every durable change and nothing waits for the Alertmanager, read or not. */
export function deliveredAll(r: Reading, hooks: number): boolean {
  return r.lag.size === hooks && maxLag(r) === 0 && r.queue === 0 && r.backlog === 0;
}

/**
 * Reads the server every POLL_MS until its revision stopped moving and `done` holds, or the
 * deadline passes; answers the last reading and whether it got there.
 */
export async function settle(server: ChildServer, done: (r: Reading) => boolean, timeoutMs: number): Promise<{ reading: Reading; settled: boolean }> {
  const deadline = performance.now() + timeoutMs;
  let last = await readingOf(server);
  for (;;) {
    await delay(POLL_MS);
    const now = await readingOf(server);
    if (now.revision === last.revision && done(now)) return { reading: now, settled: true };
    if (performance.now() >= deadline) return { reading: now, settled: false };
    last = now;
  }
}
