/**
 * Notifications sent by a thread of their own (notify-worker.ts): the webhooks' deliveries and
 * the forwarding to Alertmanagers. Design note:
 *
 * - Why: a webhook delivery costs the server about as much CPU as the raise it reports, once per
 *   webhook, and a forwarded alarm a fair part of one; on the event loop that takes the raises,
 *   three webhooks and an Alertmanager halved the raises a second. In the thread they run on
 *   another core, at a lower scheduling priority on Linux (`notifyNice`, 19 by default): when the
 *   CPU runs out, the raises, which callers wait on, go first; the notifications fall behind
 *   (the webhooks' lag shows it) and catch up once there is CPU to spare. Nothing is lost either
 *   way: a change stays in the history until every webhook's cursor passed it, and forwarding
 *   reads the history too.
 * - Yielding: while the main event loop is saturated, the thread also paces itself (pacer.ts),
 *   working only a twentieth of the time, which nice alone does not do for the receivers, Alertmanager
 *   among them, whose work each request causes when they run on the same machine.
 * - What crosses: the main loop's utilization and durable revisions through shared counters,
 *   with one message only when the thread has taken the last one (a burst of commits costs one
 *   message); the jobs lease; dead letters queued; Alarm Center's URL; the active alarms at start (and again should retention
 *   remove changes before the thread read them). Back: log records (written by this process's
 *   logger), the metrics when /metrics is read, and ready/closed.
 * - Store: the thread opens its own connection to the same SQLite database (WAL: its reads never
 *   wait for the writer). The admin routes read cursors and dead letters here, on the store's.
 * - Faults: a thread that ends unasked is logged, counted
 *   (alarm_center_notify_thread_failures_total) and started again after a backoff (1 s,
 *   doubling to a minute); the webhooks resume from their stored cursors, at least once as
 *   always, and the Alertmanagers get the whole active set again, as after a restart.
 * - Where: a SQLite database in a file (an in-memory one has no second connection, and the
 *   PostgreSQL store's notifications wait on the network more than on the CPU: those are sent
 *   from the event loop).
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Counter, type Metric, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { Alarm, AlarmState } from '../alarm/model.js';
import type { AlarmStore, Lease, WebhookStore } from '../alarm/store.js';
import { threadEntry } from '../thread-entry.js';
import type { WebhookConfig } from './webhook-config.js';
import type { AlertmanagerEntry } from './alertmanager-config.js';
import { createForwardMetrics } from './metrics.js';
import { createWebhookMetrics } from './webhook-metrics.js';
import { WebhookAdmin, type Webhooks } from './webhooks.js';

/**
 * Slots of the shared counters: the last durable revision; whether a `durable` message waits
 * for the thread; the main event loop's utilization over its last LOAD_INTERVAL_MS, in thousandths.
 */
export const DURABLE = 0;
export const PENDING = 1;
export const LOAD = 2;
/** How often the main event loop's utilization is published to the thread. */
const LOAD_INTERVAL_MS = 100;

type Family = MetricObjectWithValues<MetricValue<string>>;

/** What the thread starts with. */
export interface ThreadData {
  file: string;
  hooks: readonly WebhookConfig[];
  nice: number;
  logLevel: string;
  leading: boolean;
  /** The last durable revision when the process started: a webhook without a cursor starts after it. */
  revision: number;
  externalUrl: string;
  /** Three BigInt64 slots: DURABLE, PENDING and LOAD. */
  shared: SharedArrayBuffer;
  /** The Alertmanagers to forward to, when there are some. */
  forwarding?: { alertmanagers: readonly AlertmanagerEntry[]; resendSeconds: number };
  /** The ACTIVATED alarms at a revision, where forwarding starts reading the history. */
  active: ActiveSet;
  /** Whether forwarding starts at once (a thread started again) or on `start`. */
  started: boolean;
}

/** The ACTIVATED alarms (their states: a thread gets no prototypes) at a revision. */
export interface ActiveSet {
  alarms: AlarmState[];
  revision: number;
}

export type ToThread =
  | { type: 'durable' }
  | { type: 'lead'; held: boolean }
  /** Starts forwarding: Alarm Center's URL is known. */
  | { type: 'start' }
  | { type: 'wake'; name: string }
  | { type: 'url'; url: string }
  | ({ type: 'active' } & ActiveSet)
  | { type: 'metrics'; id: number }
  | { type: 'close' };

export type ToMain =
  | { type: 'ready' }
  | { type: 'closed' }
  | { type: 'log'; component: string; level: string; message: string; meta: Record<string, unknown> }
  /** Retention removed changes before forwarding read them: it needs the active alarms again. */
  | { type: 'lost'; from: number; to: number }
  | { type: 'metrics'; id: number; families: Family[] };

export interface NotifyThreadOptions {
  hooks: readonly WebhookConfig[];
  forwarding?: ThreadData['forwarding'];
  /** The alarms and the revision of this process's index now. */
  index: { allAlarms(): Iterable<Alarm>; readonly revision: number };
  /** The store of this process, on the database file the thread opens too. */
  store: AlarmStore & WebhookStore;
  file: string;
  lease?: Lease;
  externalUrl(): string;
  /** The thread's nice value (0 to 19); 0 leaves its priority as the process's. */
  nice: number;
  registry?: Registry;
  /** Counts the thread ending unasked (alarm_center_notify_thread_failures_total). */
  threadFailures?: Pick<Counter, 'inc'>;
  logger: Logger;
}

/** How long /metrics waits for the thread's metrics before answering without their samples. */
const METRICS_TIMEOUT_MS = 2000;
const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 60_000;
/** How long a close waits for the thread to store its cursors and end before ending it. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Reports this event loop's utilization (0 to 1) over each `intervalMs`, at its end; the timer keeps nothing alive. */
export function watchLoad(report: (utilization: number) => void, intervalMs: number): NodeJS.Timeout {
  let last = performance.eventLoopUtilization();
  return setInterval(() => {
    const now = performance.eventLoopUtilization();
    report(performance.eventLoopUtilization(now, last).utilization);
    last = now;
  }, intervalMs).unref();
}

/** The states of the ACTIVATED alarms of the index, at its revision. */
function activeSet(index: NotifyThreadOptions['index']): ActiveSet {
  const alarms: AlarmState[] = [];
  for (const a of index.allAlarms()) if (a.status === 'ACTIVATED') alarms.push({ ...a });
  return { alarms, revision: index.revision };
}

/** The notifications of one Alarm Center, sent by a thread; see the design note above. */
export class NotifyThread implements Webhooks {
  private readonly shared = new BigInt64Array(new SharedArrayBuffer(24));
  private readonly loadTimer: NodeJS.Timeout;
  private readonly hooks: Map<string, WebhookConfig>;
  private worker: Worker | undefined;
  private running = false;
  private started = false;
  private closing = false;
  private durable: number;
  private readonly startRevision: number;
  private url: string;
  private restartMs = RESTART_FIRST_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private metricsId = 0;
  private readonly metricsWaiting = new Map<number, (families: Family[]) => void>();
  private snapshot: Promise<Family[]> | undefined;
  private readonly threadFailures: Pick<Counter, 'inc'> | undefined;
  private readonly log: Logger;
  readonly admin: WebhookAdmin;

  constructor(private readonly o: NotifyThreadOptions) {
    this.hooks = new Map(o.hooks.map((h) => [h.name, h]));
    this.log = o.logger.child({ component: 'notify' });
    this.admin = new WebhookAdmin({
      hooks: this.hooks,
      store: o.store,
      durable: () => this.durable,
      delivering: () => this.running && (this.o.lease?.held ?? true),
      wake: (name) => this.post({ type: 'wake', name }),
    });
    // The index's revision at start: the last durable one, which `notify` moves on.
    this.startRevision = o.index.revision;
    this.durable = this.startRevision;
    this.url = o.externalUrl();
    Atomics.store(this.shared, DURABLE, BigInt(this.startRevision));
    if (o.registry) this.registerFamilies(o.registry);
    this.threadFailures = o.threadFailures;
    o.lease?.onChange((held) => this.post({ type: 'lead', held }));
    this.loadTimer = watchLoad((utilization) => Atomics.store(this.shared, LOAD, BigInt(Math.round(utilization * 1000))), LOAD_INTERVAL_MS);
    this.spawn();
  }

  /** Starts forwarding, once Alarm Center's URL is known. */
  start(): void {
    this.started = true;
    this.syncUrl();
    this.post({ type: 'start' });
  }

  notify(revision: number): void {
    if (revision <= this.durable) return;
    this.durable = revision;
    // The URL first: it is known once the server listens, and the changes' bodies carry it.
    this.syncUrl();
    Atomics.store(this.shared, DURABLE, BigInt(revision));
    if (Atomics.compareExchange(this.shared, PENDING, 0n, 1n) === 0n) this.post({ type: 'durable' });
  }

  private syncUrl(): void {
    const url = this.o.externalUrl();
    if (url === this.url) return;
    this.url = url;
    this.post({ type: 'url', url });
  }

  /** Stops the thread once it stored its cursors; a delivery in flight is sent again by the next start. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.loadTimer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies ToThread);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  private spawn(): void {
    const data: ThreadData = {
      file: this.o.file,
      hooks: this.o.hooks,
      nice: this.o.nice,
      logLevel: this.o.logger.level,
      leading: this.o.lease?.held ?? true,
      revision: this.startRevision,
      externalUrl: this.url,
      shared: this.shared.buffer as SharedArrayBuffer,
      ...(this.o.forwarding && { forwarding: this.o.forwarding }),
      active: this.o.forwarding ? activeSet(this.o.index) : { alarms: [], revision: this.o.index.revision },
      started: this.started,
    };
    Atomics.store(this.shared, PENDING, 0n);
    const entry = threadEntry(import.meta.url, 'notify-worker', { ...data });
    const worker = new Worker(entry.url, entry.options);
    this.worker = worker;
    worker.on('message', (m: ToMain) => this.onMessage(m));
    let error: string | undefined;
    worker.on('error', (err) => (error = err.message));
    worker.on('exit', (code) => {
      this.running = false;
      if (this.worker === worker) this.worker = undefined;
      for (const resolve of this.metricsWaiting.values()) resolve([]);
      this.metricsWaiting.clear();
      if (this.closing) return;
      this.threadFailures?.inc();
      this.log.error('notifications thread ended; starting it again', { error: error ?? `exit code ${code}`, retryInMs: this.restartMs });
      this.restartTimer = setTimeout(() => this.spawn(), this.restartMs).unref();
      this.restartMs = Math.min(RESTART_MAX_MS, this.restartMs * 2);
    });
    // The thread keeps nothing alive: the server, or the embedder, does. After the listeners: a
    // 'message' listener added later would hold the process again.
    worker.unref();
  }

  private onMessage(m: ToMain): void {
    switch (m.type) {
      case 'ready':
        this.running = true;
        this.restartMs = RESTART_FIRST_MS;
        // A revision stored while the thread started, or before a restart, is read now.
        this.syncUrl();
        this.post({ type: 'durable' });
        break;
      case 'log':
        this.o.logger.log(m.level, m.message, { component: m.component, ...m.meta });
        break;
      case 'lost':
        this.log.warn('changes removed by retention before they were forwarded; reading the active alarms again', { from: m.from, to: m.to });
        if (this.o.forwarding) this.post({ type: 'active', ...activeSet(this.o.index) });
        break;
      case 'metrics':
        this.metricsWaiting.get(m.id)?.(m.families);
        this.metricsWaiting.delete(m.id);
        break;
      case 'closed':
        this.running = false;
        break;
    }
  }

  /** The thread's metric families, asked once for every family /metrics reads together. */
  private threadFamilies(): Promise<Family[]> {
    this.snapshot ??= new Promise<Family[]>((resolve) => {
      if (!this.worker || !this.running) {
        resolve([]);
        return;
      }
      const id = ++this.metricsId;
      const timer = setTimeout(() => {
        this.metricsWaiting.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS).unref();
      this.metricsWaiting.set(id, (families) => {
        clearTimeout(timer);
        resolve(families);
      });
      this.post({ type: 'metrics', id });
    }).finally(() => setImmediate(() => (this.snapshot = undefined)));
    return this.snapshot;
  }

  /**
   * Registers the families of the webhooks and the forwarding, as the thread has them, in this
   * process's registry: the same names, help and types whatever the thread answers (none of its
   * samples when it does not).
   */
  private registerFamilies(registry: Registry): void {
    const shape = new Registry();
    createWebhookMetrics(shape);
    createForwardMetrics(shape);
    for (const m of shape.getMetricsAsArray()) {
      const { name, help, type, aggregator } = m;
      const family = {
        name,
        help,
        type,
        aggregator,
        get: async (): Promise<Family> => (await this.threadFamilies()).find((f) => f.name === name) ?? { name, help, type, aggregator, values: [], collect: () => undefined },
        reset: () => undefined,
      };
      // The registry reads a metric through its name and get() only.
      registry.registerMetric(family as unknown as Metric);
    }
  }
}
