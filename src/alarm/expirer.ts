import type { Logger } from 'winston';
import type { AlarmIndex } from './alarm-index.js';
import type { Alarm, Scope } from './model.js';
import type { Lease } from './store.js';

interface Due {
  /** When to look at it: the expiry, or a retry after a failed one. */
  at: number;
  /** The alarm's expiry when tracked; a different one in the index means it was raised again. */
  expiresAt: number;
  scope: Scope;
  id: string;
  source: string;
}

/** A binary min-heap of expiries by time. */
class Heap {
  private readonly items: Due[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Due | undefined {
    return this.items[0];
  }

  push(d: Due): void {
    const a = this.items;
    a.push(d);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Due).at <= d.at) break;
      a[i] = a[p] as Due;
      i = p;
    }
    a[i] = d;
  }

  pop(): Due | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && (a[r] as Due).at < (a[l] as Due).at ? r : l;
      if ((a[c] as Due).at >= last.at) break;
      a[i] = a[c] as Due;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

export interface ExpirerOptions {
  index: AlarmIndex;
  /** Writes the EXPIRE changes of one scope (through the bus, like any write). */
  expire(scope: Scope, due: { id: string; source: string; expiresAt: number }[]): Promise<unknown>;
  logger: Logger;
  clock?: () => number;
  /** How long a failed expiry waits before it is tried again. */
  retryMs?: number;
  /**
   * With replicas, the lease of the jobs that run once: expiries are written only while it is
   * held (alarms are tracked all the same, so a replica that takes it over expires them on time).
   */
  lease?: Lease;
}

/** The longest delay setTimeout takes. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Clears ACTIVATED alarms whose TTL ran out (what Alertmanager calls resolve_timeout). Expiries
 * wait in a heap ordered by time under one timer set for the earliest; an entry is checked
 * against the index when due, so a re-raise (a new expiry) or a clear since simply makes it
 * stale. Alarms loaded at start-up are tracked too: those overdue expire at once, cleared at the
 * time they expired.
 */
export class Expirer {
  private readonly heap = new Heap();
  private readonly options: ExpirerOptions;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running = false;
  private closed = false;

  constructor(options: ExpirerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    options.lease?.onChange((held) => {
      if (held) this.schedule();
      else if (this.timer) clearTimeout(this.timer);
    });
  }

  /** Whether this process may write expiries now. */
  private get leading(): boolean {
    return this.options.lease?.held ?? true;
  }

  /** Alarms waiting for their expiry (stale entries included until they come due). */
  get pending(): number {
    return this.heap.size;
  }

  /** Tracks the alarm when it is ACTIVATED with an expiry. */
  track(alarm: Alarm): void {
    if (this.closed || alarm.status !== 'ACTIVATED' || alarm.expiresAt === undefined) return;
    this.heap.push({ at: alarm.expiresAt, expiresAt: alarm.expiresAt, scope: { domain: alarm.domain, project: alarm.project }, id: alarm.id, source: alarm.source });
    if (alarm.expiresAt < this.timerAt) this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.leading) return;
    const next = this.heap.peek();
    if (!next) return;
    this.timerAt = next.at;
    this.timer = setTimeout(() => void this.run(), Math.min(MAX_DELAY, Math.max(0, next.at - this.clock())));
    this.timer.unref();
  }

  /** Expires everything due, one write per scope, then waits for the next expiry. */
  private async run(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.leading) return;
    this.running = true;
    try {
      const now = this.clock();
      const byScope = new Map<string, { scope: Scope; due: { id: string; source: string; expiresAt: number }[] }>();
      while ((this.heap.peek()?.at ?? Infinity) <= now) {
        const d = this.heap.pop() as Due;
        const alarm = this.options.index.get(d.scope, d.id, d.source);
        if (alarm?.status !== 'ACTIVATED' || alarm.expiresAt !== d.expiresAt) continue;
        const key = `${d.scope.domain}/${d.scope.project}`;
        let group = byScope.get(key);
        if (!group) {
          group = { scope: d.scope, due: [] };
          byScope.set(key, group);
        }
        group.due.push({ id: d.id, source: d.source, expiresAt: d.expiresAt });
      }
      for (const { scope, due } of byScope.values()) {
        try {
          await this.options.expire(scope, due);
        } catch (err) {
          if (this.closed) return;
          this.options.logger.warn('expiry failed; retrying', { domain: scope.domain, project: scope.project, alarms: due.length, error: String(err) });
          // Still due: tried again after a pause, when the store may be back.
          const retry = this.clock() + (this.options.retryMs ?? 1000);
          for (const d of due) this.heap.push({ at: retry, expiresAt: d.expiresAt, scope, id: d.id, source: d.source });
        }
      }
    } finally {
      this.running = false;
    }
    this.schedule();
  }
}
