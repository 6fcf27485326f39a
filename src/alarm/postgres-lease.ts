import pg from 'pg';
import type { Logger } from 'winston';
import { clientConfig, type ConnectionSettings } from './postgres-connection.js';
import type { Lease } from './store.js';

/** The first key of every lease's advisory lock ('AL'); the second is the hash of its name. */
const LEASE_SPACE = 0x414c;

/**
 * How the server finds a holder's machine gone without a word (seconds): it probes an idle
 * connection after `idle`, then every `interval`, and ends the session after `count` unanswered
 * probes, which frees the lock. Slower than the holder giving the lease up on an unanswered check.
 */
const SERVER_KEEPALIVE = { idle: 5, interval: 2, count: 3 };

export interface AdvisoryLeaseOptions {
  settings: ConnectionSettings;
  logger: Logger;
  redact: (text: string) => string;
  /** How often the lease is tried for while not held, and checked while held. */
  retryMs: number;
  /** Called once the lease is closed. */
  onClose?: () => void;
}

/**
 * A lease as a PostgreSQL session advisory lock on (LEASE_SPACE, hashtext(name)), held by a
 * connection of its own: the lock lasts exactly as long as that session, so a holder that dies
 * (its process, its machine, its connection) frees it for the others.
 *
 * - Not held: `pg_try_advisory_lock` every `retryMs`, on the same connection while it lasts.
 * - Held: the connection is checked every `retryMs`; once it fails or ends, the lease is lost
 *   (listeners told at once) and tried for again on a new connection.
 * - Two names whose hashes collide share one lock: at worst one replica runs both jobs.
 */
export class AdvisoryLease implements Lease {
  private readonly name: string;
  private readonly options: AdvisoryLeaseOptions;
  private readonly listeners: ((held: boolean) => void)[] = [];
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private isHeld = false;
  private closed = false;

  constructor(name: string, options: AdvisoryLeaseOptions) {
    this.name = name;
    this.options = options;
    this.attempt = this.tryForIt();
  }

  get held(): boolean {
    return this.isHeld;
  }

  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** One try for the lease, or one check of it while held; then the next is scheduled. */
  private async tryForIt(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.isHeld) {
        await client.query('SELECT 1');
      } else {
        const { rows } = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS held', [
          LEASE_SPACE,
          this.name,
        ]);
        if (rows[0]?.held && client === this.client && !this.closed) this.set(true);
      }
    } catch (err) {
      if (!this.isHeld) this.options.logger.debug('lease not tried for: no connection', { lease: this.name, error: this.options.redact(String(err)) });
      if (this.client) this.lost(this.client, err);
    }
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.attempt = this.tryForIt();
    }, this.options.retryMs).unref();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      ...clientConfig(this.options.settings, `lease:${this.name}`),
      // An unanswered check counts as a lost connection well before the server frees the lock.
      query_timeout: Math.max(5 * this.options.retryMs, 3000),
    });
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    await client.connect();
    const k = SERVER_KEEPALIVE;
    // Best effort: a server or pooler that refuses them still frees the lock when the session ends.
    await client
      .query(
        `SELECT set_config('tcp_keepalives_idle', '${k.idle}', false), set_config('tcp_keepalives_interval', '${k.interval}', false),
                set_config('tcp_keepalives_count', '${k.count}', false)`,
      )
      .catch(() => undefined);
    return client;
  }

  /** Drops a connection found broken (once); a lease it held is lost with it. */
  private lost(client: pg.Client, err?: unknown): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (!this.isHeld || this.closed) return;
    const error = this.options.redact(err instanceof Error ? err.message : 'the connection ended');
    this.options.logger.warn('lease lost with its connection', { lease: this.name, error });
    this.set(false);
  }

  private set(held: boolean): void {
    if (held === this.isHeld) return;
    this.isHeld = held;
    if (held) this.options.logger.info('lease taken', { lease: this.name });
    for (const listener of this.listeners) {
      try {
        listener(held);
      } catch (err) {
        this.options.logger.error('lease listener failed', { lease: this.name, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** Unlocks and closes the connection; the lease is no longer tried for. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose?.();
    clearTimeout(this.timer);
    await this.attempt;
    const client = this.client;
    this.client = undefined;
    if (client) {
      if (this.isHeld) await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEASE_SPACE, this.name]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
    this.set(false);
  }
}
