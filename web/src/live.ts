/**
 * A project's alarms, live: listed once, then followed over the watch route from the listed
 * revision (README, "Watch": list, watch with since, apply, resume, RESYNC → list again).
 * Messages are applied in batches, once per animation frame (or at once while the page is
 * hidden and frames stop), so a burst of changes costs one render, not one per change.
 */
import { ApiError, type Api } from './api.js';
import { AlarmBook, type WatchMessage } from './model.js';
import { WatchStream, type StreamState } from './stream.js';

export interface LiveListener {
  /** The book changed: render it. */
  onChange(): void;
  onStream(state: StreamState): void;
  /** Listing failed; the error says why. */
  onError(error: ApiError): void;
  /** The token was refused. */
  onRefused(error: ApiError): void;
}

export class LiveAlarms {
  readonly book = new AlarmBook();
  /** Whether the first list has arrived. */
  loaded = false;
  private stream: WatchStream | undefined;
  private queue: WatchMessage[] = [];
  private scheduled = false;
  private loading: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly listener: LiveListener,
  ) {}

  /** Lists the project and follows it from the listed revision; on failure, tries again with backoff. */
  async start(attempt = 0): Promise<void> {
    this.stream?.stop();
    this.stream = undefined;
    this.queue = [];
    this.loading?.abort();
    const loading = (this.loading = new AbortController());
    try {
      const list = await this.api.list(loading.signal);
      if (loading.signal.aborted || this.stopped) return;
      this.book.reset(list.alarms, list.revision);
      this.loaded = true;
      this.listener.onChange();
      this.stream = new WatchStream(
        {
          api: this.api,
          onMessage: (m) => this.receive(m),
          onState: (s) => this.listener.onStream(s),
          onRefused: (e) => this.listener.onRefused(e),
        },
        list.revision,
      );
    } catch (err) {
      if (loading.signal.aborted || this.stopped) return;
      const error = err instanceof ApiError ? err : new ApiError(0, undefined, String(err));
      if (error.status === 401 || error.status === 403) {
        this.listener.onRefused(error);
        return;
      }
      this.listener.onError(error);
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      this.listener.onStream({ kind: 'retrying', at: Date.now() + delay, error: error.message });
      setTimeout(() => {
        if (!this.stopped && this.loading === loading) void this.start(attempt + 1);
      }, delay);
    }
  }

  stop(): void {
    this.stopped = true;
    this.loading?.abort();
    this.stream?.stop();
  }

  private receive(message: WatchMessage): void {
    this.queue.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    if (document.hidden) setTimeout(() => this.flush(), 0);
    else requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let changed = false;
    for (const m of batch) {
      const applied = this.book.apply(m);
      if (applied === 'resync') {
        void this.start();
        return;
      }
      changed ||= applied === 'changed';
    }
    if (changed) this.listener.onChange();
  }
}
