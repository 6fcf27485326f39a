/**
 * Durable webhooks: one delivery loop per configured webhook (webhook-loop.ts), run where the
 * jobs lease is held (with replicas on PostgreSQL, one replica delivers; a new holder resumes
 * from the stored cursors), woken by every durable change, and the state the admin routes show.
 */
import type { Logger } from 'winston';
import type { Scope } from '../alarm/model.js';
import type { Lease, WebhookFailure, WebhookStore } from '../alarm/store.js';
import { publicUrl } from '../config-lists.js';
import type { WebhookConfig, WebhookFormat } from './webhook-config.js';
import { DEFAULT_TIMING, WebhookLoop, type WebhookTiming } from './webhook-loop.js';
import type { WebhookMetrics } from './webhook-metrics.js';

/** How a webhook fares, as `GET …/admin/webhooks` answers it. */
export interface WebhookStatus {
  name: string;
  /** Without user name and password. */
  url: string;
  format: WebhookFormat;
  /** The last revision delivered or given up on (the last durable one for a webhook that has not run yet). */
  cursor: number;
  /** Durable revisions after the cursor. */
  lag: number;
  /** Whether this replica delivers it (it holds the jobs lease). */
  delivering: boolean;
  lastSuccessAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  deadLetters: number;
}

/** What the composition root and the admin routes use of the webhooks, delivered here or in a thread. */
export interface Webhooks {
  /** A durable change up to `revision` (this replica's or another's): the webhooks may deliver up to it. */
  notify(revision: number): void;
  /** What the admin routes read and do: the same wherever the webhooks are delivered. */
  readonly admin: WebhookAdmin;
  close(): Promise<void>;
}

/** A webhook's state as `GET …/admin/webhooks` answers it, read from the store. */
async function webhookStatus(hook: WebhookConfig, store: WebhookStore, durable: number, delivering: boolean): Promise<WebhookStatus> {
  const [cursor, failures] = await Promise.all([store.webhookCursor(hook.name), store.webhookFailures(hook.name, { limit: 0 })]);
  const at = cursor?.revision ?? durable;
  const s: WebhookStatus = {
    name: hook.name,
    url: publicUrl(hook.url),
    format: hook.format,
    cursor: at,
    lag: Math.max(0, durable - at),
    delivering,
    deadLetters: failures.total,
  };
  if (cursor?.deliveredAt !== undefined) s.lastSuccessAt = cursor.deliveredAt;
  if (cursor?.error !== undefined) s.lastError = cursor.error;
  if (cursor?.errorAt !== undefined) s.lastErrorAt = cursor.errorAt;
  return s;
}

/** What the admin routes read and do of the webhooks, through the store: the same wherever they are delivered. */
export class WebhookAdmin {
  constructor(
    private readonly o: {
      hooks: ReadonlyMap<string, WebhookConfig>;
      store: WebhookStore;
      /** The last durable revision known here. */
      durable(): number;
      /** Whether this process delivers the webhook now. */
      delivering(name: string): boolean;
      /** Tells the webhook's deliverer that dead letters were queued. */
      wake(name: string): void;
    },
  ) {}

  /** Every webhook's state, in configuration order. */
  list(): Promise<WebhookStatus[]> {
    return Promise.all([...this.o.hooks.values()].map((h) => webhookStatus(h, this.o.store, this.o.durable(), this.o.delivering(h.name))));
  }

  /** A webhook's dead letters of alarms in `scope`, oldest first, at most `limit`; undefined for an unknown webhook. */
  async failures(name: string, scope: Scope, limit: number): Promise<{ failures: WebhookFailure[]; total: number } | undefined> {
    if (!this.o.hooks.has(name)) return undefined;
    return this.o.store.webhookFailures(name, { limit, scope });
  }

  /**
   * Queues a webhook's dead letters of alarms in `scope` (those of `revisions` only, when given)
   * for another round of delivery; answers how many, or undefined for an unknown webhook. The
   * replica that delivers picks them up at once when it is this one, within its idle poll otherwise.
   */
  async retry(name: string, scope: Scope, revisions?: readonly number[]): Promise<number | undefined> {
    if (!this.o.hooks.has(name)) return undefined;
    const queued = await this.o.store.queueWebhookFailures(name, revisions, scope);
    if (queued > 0) this.o.wake(name);
    return queued;
  }
}

export interface WebhookDispatcherOptions {
  hooks: readonly WebhookConfig[];
  store: WebhookStore;
  /** The jobs lease of a store replicas share; without it this process always delivers. */
  lease?: Lease;
  /** The last durable revision at start; `notify` moves it on. */
  revision: number;
  externalUrl(): string;
  metrics: WebhookMetrics;
  logger: Logger;
  clock: () => number;
  timing?: Partial<WebhookTiming>;
  /** Waits before each attempt when notifications yield (pacer.ts). */
  pace?: () => Promise<void>;
}

/** The webhooks of one Alarm Center; see the design notes here and in webhook-loop.ts. */
export class WebhookDispatcher implements Webhooks {
  private readonly loops = new Map<string, WebhookLoop>();
  private readonly hooks = new Map<string, WebhookConfig>();
  private durable: number;
  private closed = false;
  readonly admin: WebhookAdmin;

  constructor(private readonly o: WebhookDispatcherOptions) {
    this.durable = o.revision;
    this.admin = new WebhookAdmin({
      hooks: this.hooks,
      store: o.store,
      durable: () => this.durable,
      delivering: (name) => this.loops.get(name)?.active ?? false,
      wake: (name) => this.wake(name),
    });
    const timing = { ...DEFAULT_TIMING, ...o.timing };
    for (const hook of o.hooks) {
      this.hooks.set(hook.name, hook);
      const loop = new WebhookLoop({
        hook,
        store: o.store,
        durable: () => this.durable,
        externalUrl: o.externalUrl,
        metrics: o.metrics,
        logger: o.logger,
        clock: o.clock,
        timing,
        ...(o.pace && { pace: o.pace }),
      });
      this.loops.set(hook.name, loop);
    }
    o.lease?.onChange((held) => (held ? this.startAll() : void this.stopAll()));
    if (!o.lease || o.lease.held) this.startAll();
  }

  /** The names of the configured webhooks. */
  get names(): string[] {
    return [...this.hooks.keys()];
  }

  /** A durable change up to `revision` (this replica's or another's): the loops may read up to it. */
  notify(revision: number): void {
    if (revision <= this.durable) return;
    this.durable = revision;
    for (const loop of this.loops.values()) loop.wake();
  }

  private startAll(): void {
    if (this.closed) return;
    if (this.loops.size > 0) this.o.logger.info('delivering webhooks', { webhooks: this.names });
    for (const loop of this.loops.values()) loop.start();
  }

  private async stopAll(): Promise<void> {
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
  }

  /** Tells a webhook's loop that dead letters were queued for it (by this process or another). */
  wake(name: string): void {
    this.loops.get(name)?.wake();
  }

  /** Stops every loop; a delivery in flight is abandoned and sent again by the next start. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.loops.values()].map((l) => l.close()));
  }
}
