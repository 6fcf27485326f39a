/**
 * One webhook's delivery loop. Design:
 *
 * - Ordering: the loop reads a page of the history after the webhook's cursor, takes the changes
 *   its `match` selects and delivers them one at a time in revision order; a change is not
 *   started before the one before it was delivered or given up on. Only durable changes are
 *   read: none past the revision `durable()` reports.
 * - At least once: the cursor in the store moves past a change only after a 2xx for it (or its
 *   dead letter), so a crash or a stop at any point sends it again after the restart. It is
 *   stored at the end of each page, every SAVE_MS within one and at a stop, not once per change
 *   (a write per delivery cost more than the delivery): a crash sends again at most what was
 *   delivered since. Each request carries `Idempotency-Key: {webhook}-{revision}` for receivers
 *   to drop repeats.
 * - Retries: a timeout, a connection error, a 5xx or a 429 is tried again after an exponential
 *   backoff with full jitter (or the answer's Retry-After); any other answer, or `maxAttempts`
 *   used up, makes a dead letter at once and the loop moves on. Dead letters queued for
 *   another round (POST …/failed) are sent before the next page, one round of attempts each.
 * - Isolation: each loop has its own HTTP agent and its own timers, so a receiver that hangs
 *   delays only its own webhook.
 * - Gaps: when retention removed changes past the cursor, the loop logs and counts them, and
 *   moves on from the first change still there.
 */
import type { Logger } from 'winston';
import type { HistoryEntry, WebhookFailure, WebhookStore } from '../alarm/store.js';
import { SIGNATURE_HEADER, signature, webhookBody } from './webhook-body.js';
import { sendsChange, type WebhookConfig } from './webhook-config.js';
import type { WebhookMetrics } from './webhook-metrics.js';
import { WebhookSender } from './webhook-sender.js';

/** The timing of retries and polls; defaults are production's, tests shorten them. */
export interface WebhookTiming {
  /** The backoff's first ceiling: the first retry waits up to this (default 1,000 ms). */
  retryBaseMs: number;
  /** The backoff's cap (default 5 minutes). */
  retryMaxMs: number;
  /** The longest Retry-After honoured (default an hour). */
  retryAfterMaxMs: number;
  /** How often an idle loop looks for dead letters queued elsewhere (another replica) (default 5 s). */
  idlePollMs: number;
  /** How long a loop waits after a store failure before reading again (default 1 s). */
  storeRetryMs: number;
  /** A number in [0, 1), for the jitter. */
  random: () => number;
}

export const DEFAULT_TIMING: WebhookTiming = {
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  retryAfterMaxMs: 3_600_000,
  idlePollMs: 5000,
  storeRetryMs: 1000,
  random: Math.random,
};

/** History entries read at a time. */
const PAGE = 256;
/** Dead letters sent again per round. */
const RETRY_PAGE = 100;

export interface WebhookLoopOptions {
  hook: WebhookConfig;
  store: WebhookStore;
  /** The last revision known durable; the loop reads nothing past it. */
  durable(): number;
  /** Alarm Center's URL, for the Alertmanager body's `externalURL`. */
  externalUrl(): string;
  metrics: WebhookMetrics;
  logger: Logger;
  clock: () => number;
  timing: WebhookTiming;
  /** Waits, when the process asks notifications to yield, before each attempt (pacer.ts); none by default. */
  pace?: () => Promise<void>;
}

/** The wait before retry `attempt` (1 for the first): full jitter under an exponential ceiling. */
export function backoffMs(attempt: number, timing: Pick<WebhookTiming, 'retryBaseMs' | 'retryMaxMs' | 'random'>): number {
  const ceiling = Math.min(timing.retryMaxMs, timing.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(timing.random() * ceiling);
}

/** A wait that ends at its time, on `wake`, or when the signal aborts. */
function pause(ms: number, signal: AbortSignal, wakeable?: { onWake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      if (wakeable) wakeable.onWake = undefined;
      resolve();
    };
    // A wait alone does not keep the process alive: the server, or the embedder, does.
    const timer = setTimeout(done, ms).unref();
    signal.addEventListener('abort', done);
    if (wakeable) wakeable.onWake = done;
  });
}

type Outcome = 'delivered' | 'dead' | 'stopped';

/** Within a page, the cursor is stored at most this often. */
const SAVE_MS = 250;

/** Delivers one webhook's changes while started; see the design note above. */
export class WebhookLoop {
  private readonly sender: WebhookSender;
  private readonly url: URL;
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;
  /** The cursor as this loop last stored it or moved it past skipped changes; re-read at each start. */
  private cursor: number | undefined;
  /** The cursor as stored, and when; the time of the last 2xx not stored yet. */
  private saved = 0;
  private savedAt = 0;
  private successAt: number | undefined;
  private readonly wakeable: { onWake?: () => void } = {};
  private woken = false;

  constructor(private readonly o: WebhookLoopOptions) {
    this.url = new URL(o.hook.url);
    this.sender = new WebhookSender(this.url);
  }

  get name(): string {
    return this.o.hook.name;
  }

  /** Whether the loop runs (this replica delivers). */
  get active(): boolean {
    return this.controller !== undefined;
  }

  /** Starts delivering from the stored cursor; no-op while running. */
  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    this.cursor = undefined;
    this.running = this.run(controller.signal);
  }

  /** Stops: an attempt in flight is abandoned (its change is sent again by the next start); resolves once the loop ended. */
  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = undefined;
    await this.running;
    this.running = undefined;
  }

  /** Tells an idle loop that there may be more to do: a durable change, a dead letter queued. */
  wake(): void {
    this.woken = true;
    this.reportLag();
    this.wakeable.onWake?.();
  }

  /** Sets the lag gauge from the cursor as this loop knows it. */
  private reportLag(): void {
    if (this.cursor !== undefined) this.o.metrics.lag(this.name, this.o.durable() - this.cursor);
  }

  /** Stops for good and lets go of the connections. */
  async close(): Promise<void> {
    await this.stop();
    this.sender.close();
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.woken = false;
      let busy: boolean;
      try {
        busy = await this.step(signal);
        if (signal.aborted) await this.save(true);
      } catch (err) {
        this.o.logger.warn('webhook store access failed; trying again', { webhook: this.name, error: messageOf(err) });
        await pause(this.o.timing.storeRetryMs, signal);
        continue;
      }
      if (!busy && !this.woken) await pause(this.o.timing.idlePollMs, signal, this.wakeable);
    }
  }

  /** One round: queued dead letters, then one page of the history. Answers whether it did anything. */
  private async step(signal: AbortSignal): Promise<boolean> {
    const { store, hook } = this.o;
    if (this.cursor === undefined) {
      this.cursor = await this.openCursor();
      this.reportLag();
      await this.countDeadLetters();
    }
    if (await this.retryQueued(signal)) return true;
    const cursor = this.cursor;
    const page = await store.historyAfter(cursor, PAGE);
    const pruned = store.prunedRevision?.() ?? 0;
    if (pruned > cursor) {
      this.o.logger.error('webhook missed changes retention removed before they were delivered', { webhook: hook.name, from: cursor + 1, to: pruned });
      this.o.metrics.lost(hook.name, pruned - cursor);
      this.cursor = pruned;
      await this.save(true);
      return true;
    }
    const durable = this.o.durable();
    let scanned = cursor;
    for (const entry of page) {
      if (entry.revision > durable || signal.aborted) break;
      if (sendsChange(hook, entry.alarm)) {
        if ((await this.deliver(entry, 0, signal)) === 'stopped') return true;
        this.cursor = entry.revision;
        this.reportLag();
        await this.save(false);
      }
      scanned = entry.revision;
    }
    if (scanned > this.cursor) this.cursor = scanned;
    await this.save(true);
    this.reportLag();
    return scanned > cursor;
  }

  /** The stored cursor; a webhook new to the store starts at the last durable change: it sends what comes after. */
  private async openCursor(): Promise<number> {
    this.successAt = undefined;
    const stored = await this.o.store.webhookCursor(this.name);
    if (stored) {
      this.saved = stored.revision;
      return stored.revision;
    }
    const start = this.o.durable();
    await this.o.store.advanceWebhookCursor(this.name, start);
    this.saved = start;
    return start;
  }

  /**
   * Stores the cursor, and the time of the last 2xx, when either moved since they were stored:
   * `now` at the end of a page and at a stop, else only once SAVE_MS passed since the last time.
   */
  private async save(now: boolean): Promise<void> {
    const cursor = this.cursor;
    if (cursor === undefined || (cursor <= this.saved && this.successAt === undefined)) return;
    if (!now && this.o.clock() - this.savedAt < SAVE_MS) return;
    const successAt = this.successAt;
    this.successAt = undefined;
    await this.o.store.advanceWebhookCursor(this.name, Math.max(cursor, this.saved), successAt);
    this.saved = Math.max(cursor, this.saved);
    this.savedAt = this.o.clock();
  }

  /** Sends the dead letters queued for another round; answers whether there were any. */
  private async retryQueued(signal: AbortSignal): Promise<boolean> {
    const { failures: queued } = await this.o.store.webhookFailures(this.name, { limit: RETRY_PAGE, queued: true });
    for (const f of queued) {
      if ((await this.deliver(f.entry, f.attempts, signal)) === 'stopped') return true;
    }
    await this.save(true);
    if (queued.length > 0) await this.countDeadLetters();
    return queued.length > 0;
  }

  /** The webhook's dead letters, as the gauge shows them. */
  async countDeadLetters(): Promise<number> {
    const { total } = await this.o.store.webhookFailures(this.name, { limit: 0 });
    this.o.metrics.deadLetters(this.name, total);
    return total;
  }

  /** The request's headers: the configured ones, then Alarm Center's, which they cannot replace. */
  private headersFor(entry: HistoryEntry, body: string): Record<string, string> {
    const { hook } = this.o;
    const headers: Record<string, string> = {
      ...hook.headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Idempotency-Key': `${hook.name}-${entry.revision}`,
      'User-Agent': 'alarm-center',
    };
    if (hook.secret !== undefined) headers[SIGNATURE_HEADER] = signature(hook.secret, body);
    return headers;
  }

  /**
   * Delivers one change, retrying as the policy says; `before` attempts were made in earlier
   * rounds (a dead letter sent again). A 2xx moves the cursor (and removes the dead letter);
   * giving up stores the dead letter and moves the cursor past it.
   */
  private async deliver(entry: HistoryEntry, before: number, signal: AbortSignal): Promise<Outcome> {
    const { hook, metrics, store, clock } = this.o;
    const body = webhookBody(entry, hook.format, hook.name, this.o.externalUrl());
    const request = { url: this.url, headers: this.headersFor(entry, body), body, timeoutMs: hook.timeoutSeconds * 1000, signal };
    for (let attempt = 1; ; attempt += 1) {
      if (attempt > 1) metrics.retried(hook.name);
      await this.o.pace?.();
      if (signal.aborted) return 'stopped';
      const result = await this.sender.send(request);
      if (signal.aborted) return 'stopped';
      if (result.kind === 'delivered') {
        metrics.attempted(hook.name, 'success');
        metrics.delivered(hook.name, (clock() - entry.at) / 1000);
        if (before > 0) await store.removeWebhookFailure(hook.name, entry.revision);
        // The cursor moves past it when the caller stores it (save): once per page, not per change.
        this.successAt = clock();
        return 'delivered';
      }
      await store.noteWebhookError(hook.name, result.error, clock());
      if (result.kind === 'refused' || attempt >= hook.maxAttempts) {
        await this.giveUp({ webhook: hook.name, entry, attempts: before + attempt, error: result.error, failedAt: clock(), queued: false });
        return 'dead';
      }
      metrics.attempted(hook.name, 'retry');
      const wait = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, this.o.timing.retryAfterMaxMs) : backoffMs(attempt, this.o.timing);
      this.o.logger.info('webhook delivery failed; retrying', { webhook: hook.name, revision: entry.revision, attempt, error: result.error, waitMs: wait });
      await pause(wait, signal);
      if (signal.aborted) return 'stopped';
    }
  }

  private async giveUp(failure: WebhookFailure): Promise<void> {
    this.o.metrics.attempted(failure.webhook, 'failed');
    await this.o.store.addWebhookFailure(failure);
    this.o.logger.warn('webhook gave up on a change; it is a dead letter', {
      webhook: failure.webhook,
      revision: failure.entry.revision,
      attempts: failure.attempts,
      error: failure.error,
    });
    await this.countDeadLetters();
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
