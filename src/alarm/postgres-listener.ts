import pg from 'pg';
import type { Logger } from 'winston';
import { clientConfig, type ConnectionSettings } from './postgres-connection.js';

/** The channel each commit notifies, with the commit's last revision as its payload. */
export const COMMIT_CHANNEL = 'alarm_center';

/** The first wait before reconnecting; it doubles with each failed attempt, up to the cap. */
const FIRST_BACKOFF_MS = 100;

export interface CommitListenerOptions {
  settings: ConnectionSettings;
  logger: Logger;
  /** Hides the URL's password in a message. */
  redact: (text: string) => string;
  /** Longest wait between two attempts to reconnect. */
  maxBackoffMs: number;
}

/**
 * Hears the commits of every writer on the database: `LISTEN` on a connection of its own (a
 * pooled one would be handed to others). Each notification is passed on with its revision. The
 * connection is kept: once lost it is made again, after a wait doubling up to `maxBackoffMs`;
 * every time it listens again (and the first time: commits made before it listened were not
 * heard) the listeners are called without a revision, since notifications may have been missed.
 * Listeners are called in the order they were added; one that throws does not stop the others.
 */
export class CommitListener {
  private readonly options: CommitListenerOptions;
  private readonly listeners: ((revision?: number) => void)[] = [];
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private started = false;
  private closed = false;

  constructor(options: CommitListenerOptions) {
    this.options = options;
  }

  /** Adds a listener; the first one starts listening. */
  add(listener: (revision?: number) => void): void {
    this.listeners.push(listener);
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.retry = undefined;
    if (this.closed) return;
    const client = new pg.Client(clientConfig(this.options.settings, 'listen'));
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => {
      if (n.channel !== COMMIT_CHANNEL) return;
      const revision = Number(n.payload);
      this.tell(Number.isSafeInteger(revision) ? revision : undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMIT_CHANNEL}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) return;
    if (this.backoffMs > 0) this.options.logger.info('listening to other replicas again');
    this.backoffMs = 0;
    this.tell(undefined);
  }

  /** Drops a connection found broken (once) and tries again after the backoff. */
  private lost(client: pg.Client, err?: unknown): void {
    if (client !== this.client) return;
    this.client = undefined;
    // Further errors of a dropped connection are its last words; nothing is left to do about them.
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, FIRST_BACKOFF_MS), this.options.maxBackoffMs);
    const error = this.options.redact(err instanceof Error ? err.message : 'the connection ended');
    this.options.logger.warn('not listening to other replicas; reconnecting', { error, retryMs: this.backoffMs });
    this.retry = setTimeout(() => void this.connect(), this.backoffMs).unref();
  }

  private tell(revision: number | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(revision);
      } catch (err) {
        this.options.logger.error('commit listener failed', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
