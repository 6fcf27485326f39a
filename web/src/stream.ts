/**
 * Follows the watch route over Server-Sent Events, read with fetch so that the request carries
 * the token and the domain in headers. It resumes after the last revision it received: after a
 * dropped connection, a server restart or a network change it reconnects with exponential
 * backoff (0.5 s doubling to 30 s, with jitter) and `since` = that revision, so no change is
 * missed. A stream silent for longer than `idleMs` (the server writes a heartbeat every 30 s by
 * default) is taken for dead and opened again. A 401 or 403 stops it: a token is needed.
 */
import { ApiError, errorOf, type Api } from './api.js';
import type { WatchMessage } from './model.js';
import { SseParser } from './sse.js';

/** How the stream fares, for the console's connection badge. */
export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'retrying'; at: number; error: string }
  | { kind: 'stopped'; error: string };

export interface StreamOptions {
  api: Api;
  /** Called with each message, in order. */
  onMessage(message: WatchMessage): void;
  onState(state: StreamState): void;
  /** The token was refused (401 or 403): the stream has stopped. */
  onRefused(error: ApiError): void;
  /** Longest silence before the stream is opened again. */
  idleMs?: number;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** One watch, from a revision on, until `stop`. */
export class WatchStream {
  private readonly abort = new AbortController();
  private since: number;

  constructor(
    private readonly options: StreamOptions,
    since: number,
  ) {
    this.since = since;
    void this.run();
  }

  /** The last revision received. */
  get revision(): number {
    return this.since;
  }

  stop(): void {
    this.abort.abort();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.options.onState({ kind: 'connecting' });
      let error: string;
      try {
        const opened = await this.follow(() => {
          attempt = 0;
          this.options.onState({ kind: 'live' });
        });
        error = opened ? 'the stream ended' : 'no answer';
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          this.options.onState({ kind: 'stopped', error: err.message });
          this.options.onRefused(err);
          return;
        }
        error = err instanceof Error ? err.message : String(err);
      }
      if (this.stopped) return;
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt) * (0.75 + Math.random() / 4);
      attempt += 1;
      this.options.onState({ kind: 'retrying', at: Date.now() + delay, error });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }

  /** Opens one stream and reads it to its end; true once it was open. */
  private async follow(opened: () => void): Promise<boolean> {
    const { api } = this.options;
    const idle = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, idle.signal]);
    const res = await fetch(`${api.path('admin/alarms/watch')}?since=${this.since}`, {
      headers: api.headers({ accept: 'text/event-stream' }),
      cache: 'no-store',
      signal,
    });
    if (!res.ok) throw await errorOf(res);
    if (!res.body) return false;
    opened();
    const idleMs = this.options.idleMs ?? 75_000;
    let timer = setTimeout(() => idle.abort(), idleMs);
    const parser = new SseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        clearTimeout(timer);
        if (done) return true;
        timer = setTimeout(() => idle.abort(), idleMs);
        for (const event of parser.push(value)) this.deliver(event.data);
      }
    } catch (err) {
      if (idle.signal.aborted && !this.stopped) throw new Error(`no heartbeat for ${Math.round(idleMs / 1000)} s`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
  }

  private deliver(data: string): void {
    let message: WatchMessage;
    try {
      message = JSON.parse(data) as WatchMessage;
    } catch {
      return;
    }
    if (typeof message.revision === 'number' && message.revision > this.since) this.since = message.revision;
    this.options.onMessage(message);
  }
}
