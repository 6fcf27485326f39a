import type { CloseReason } from './watcher.js';

/**
 * A transport's keep-alive beat (a WebSocket ping, an SSE comment line): one every interval,
 * none while the last is still being flushed, and `send-timeout` once a beat has waited longer
 * than the send timeout, which is how a peer that stopped reading is found.
 */
export class Heartbeat {
  private next: number;
  private sentAt = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly sendTimeoutMs: number,
    now: number,
    /** Sends one beat; `flushed` is called once it left the process (or failed). */
    private readonly send: (flushed: (err?: Error | null) => void) => void,
  ) {
    this.next = now + intervalMs;
  }

  /** Sends the beat when due; answers `send-timeout` when the last one is stuck. */
  tick(now: number): CloseReason | undefined {
    if (this.sentAt > 0) return now - this.sentAt > this.sendTimeoutMs ? 'send-timeout' : undefined;
    if (now < this.next) return undefined;
    this.next = now + this.intervalMs;
    this.sentAt = now;
    this.send((err) => {
      if (!err) this.sentAt = 0;
    });
    return undefined;
  }
}
