import type { Logger } from 'winston';
import type { AlarmStore } from './store.js';

export interface FollowerOptions {
  store: Pick<AlarmStore, 'onRemoteCommit'>;
  /** Reads the changes other replicas committed (through the ALARM subscriber); resolves with the revision reached. */
  sync(): Promise<number>;
  /** The revision this replica has applied. */
  revision(): number;
  /** How often to read even without a notification: a lost one delays a change by at most this. */
  pollMs: number;
  logger: Logger;
}

/**
 * Keeps a replica following the changes other replicas commit to a shared store: a
 * notification carrying a newer revision, a reconnect (notifications may have been missed) or the
 * periodic poll asks for a sync. At most one sync is under way, and one more is asked for when
 * a request comes during it, so a burst of notifications costs two reads, not one per change.
 */
export class Follower {
  private readonly options: FollowerOptions;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: FollowerOptions) {
    this.options = options;
  }

  start(): void {
    this.options.store.onRemoteCommit?.((revision) => {
      if (revision === undefined || revision > this.options.revision()) this.request();
    });
    this.timer = setInterval(() => this.request(), this.options.pollMs);
    this.timer.unref();
  }

  /** Asks for a sync: now, or once the one under way is done. */
  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.options
      .sync()
      .catch((err: unknown) => {
        // The subscriber reported it (the store's failure); the next request reads again.
        this.options.logger.debug('sync failed', { error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
