import type { Logger } from 'winston';
import type { AlarmIndex } from './alarm-index.js';
import type { Alarm, Scope } from './model.js';
import type { Lease } from './store.js';

/**
 * A deadline that passed: the alarm's expiry (`expiresAt`: it clears as EXPIRE) or its
 * acknowledgement's (`ackExpiresAt`: the acknowledgement is withdrawn), as tracked.
 */
export type DueExpiry = { id: string; source: string; expiresAt: number } | { id: string; source: string; ackExpiresAt: number };

interface Due {
  /** When to look at it: the deadline, or a retry after a failed attempt. */
  at: number;
  /** Whose deadline: the acknowledgement's, or the alarm's. */
  ack: boolean;
  /** The deadline when tracked; a different one in the index means it moved (a new raise or ack). */
  deadline: number;
  scope: Scope;
  id: string;
  source: string;
}

/** The deadline of this kind the alarm has now, if any: only an ACTIVATED alarm has one. */
function deadlineOf(alarm: Alarm | undefined, ack: boolean): number | undefined {
  if (alarm?.status !== 'ACTIVATED') return undefined;
  return ack ? alarm.ackExpiresAt : alarm.expiresAt;
}

/** A binary min-heap of deadlines by time. */
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
  /** Writes the changes of the deadlines of one scope that passed (through the bus, like any write). */
  expire(scope: Scope, due: DueExpiry[]): Promise<unknown>;
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

/** Which deadline an entry is for: the alarm's or its acknowledgement's, of one alarm. */
function entryKey(d: Due): string {
  return `${d.ack ? 'ack' : 'alarm'}\u0000${d.scope.domain}\u0000${d.scope.project}\u0000${d.id}\u0000${d.source}`;
}

/**
 * A time per deadline of one kind, in maps nested by domain, project, id and source: looked up
 * at every re-send, it reuses the hashes V8 keeps on those strings instead of hashing a key made
 * anew each time.
 */
class DeadlineTimes {
  private readonly byDomain = new Map<string, Map<string, Map<string, Map<string, number>>>>();

  private sources(d: Due, create: boolean): Map<string, number> | undefined {
    let projects = this.byDomain.get(d.scope.domain);
    if (!projects) {
      if (!create) return undefined;
      projects = new Map();
      this.byDomain.set(d.scope.domain, projects);
    }
    let ids = projects.get(d.scope.project);
    if (!ids) {
      if (!create) return undefined;
      ids = new Map();
      projects.set(d.scope.project, ids);
    }
    let sources = ids.get(d.id);
    if (!sources && create) {
      sources = new Map();
      ids.set(d.id, sources);
    }
    return sources;
  }

  get(d: Due): number | undefined {
    return this.sources(d, false)?.get(d.source);
  }

  set(d: Due, at: number): void {
    this.sources(d, true)?.set(d.source, at);
  }

  /** Forgets the deadline's time, and the maps it leaves empty. */
  delete(d: Due): void {
    const projects = this.byDomain.get(d.scope.domain);
    const ids = projects?.get(d.scope.project);
    const sources = ids?.get(d.id);
    if (!projects || !ids || !sources?.delete(d.source) || sources.size > 0) return;
    ids.delete(d.id);
    if (ids.size > 0) return;
    projects.delete(d.scope.project);
    if (projects.size === 0) this.byDomain.delete(d.scope.domain);
  }
}

/** What the writer is told of a due entry. */
function dueExpiry(d: Due): DueExpiry {
  return d.ack ? { id: d.id, source: d.source, ackExpiresAt: d.deadline } : { id: d.id, source: d.source, expiresAt: d.deadline };
}

/** The longest delay setTimeout takes. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Clears ACTIVATED alarms whose TTL ran out (what Alertmanager calls resolve_timeout), and
 * withdraws acknowledgements whose TTL ran out. Deadlines wait in one heap ordered by time under
 * one timer set for the earliest; an entry is checked against the index when due, so a re-raise
 * or a re-ack (a new deadline), a withdrawal or a clear since simply makes it stale. Alarms loaded
 * at start-up are tracked too: what is overdue is applied at once, dated when it ran out.
 */
export class Expirer {
  private readonly heap = new Heap();
  /** The earliest time each deadline has an entry on the heap: the alarms' expiries, the acknowledgements'. */
  private readonly queued = { alarm: new DeadlineTimes(), ack: new DeadlineTimes() };
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

  /** Deadlines waiting (stale entries included until they come due). */
  get pending(): number {
    return this.heap.size;
  }

  /** Tracks the deadlines of the alarm when it is ACTIVATED: its expiry, its acknowledgement's. */
  track(alarm: Alarm): void {
    if (this.closed) return;
    this.trackOne(alarm, false);
    this.trackOne(alarm, true);
  }

  private trackOne(alarm: Alarm, ack: boolean): void {
    const deadline = deadlineOf(alarm, ack);
    if (deadline === undefined) return;
    this.enqueue({ at: deadline, ack, deadline, scope: { domain: alarm.domain, project: alarm.project }, id: alarm.id, source: alarm.source });
  }

  /**
   * Puts an entry on the heap, unless one of the same deadline's comes out no later: that one,
   * when due, finds the deadline moved and puts it back at its new time. So a deadline moved
   * again and again (Prometheus re-sends every firing alert each minute, each moving its expiry)
   * holds one entry, not one per move.
   */
  private enqueue(d: Due): void {
    const times = d.ack ? this.queued.ack : this.queued.alarm;
    const queuedAt = times.get(d);
    if (queuedAt !== undefined && queuedAt <= d.at) return;
    times.set(d, d.at);
    this.heap.push(d);
    if (d.at < this.timerAt) this.schedule();
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

  /** Applies every deadline due, one write per scope, then waits for the next one. */
  private async run(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.leading) return;
    this.running = true;
    try {
      for (const { scope, due } of this.takeDue(this.clock())) {
        try {
          await this.options.expire(scope, due.map(dueExpiry));
        } catch (err) {
          if (this.closed) return;
          this.options.logger.warn('expiry failed; retrying', { domain: scope.domain, project: scope.project, alarms: due.length, error: String(err) });
          // Still due: tried again after a pause, when the store may be back.
          const retry = this.clock() + (this.options.retryMs ?? 1000);
          for (const d of due) this.enqueue({ ...d, at: retry });
        }
      }
    } finally {
      this.running = false;
    }
    this.schedule();
  }

  /**
   * Takes off the heap the entries due at `now`, dropping the stale ones and those tracked twice
   * (an alarm is tracked at each change), grouped by scope in deadline order.
   */
  private takeDue(now: number): { scope: Scope; due: Due[] }[] {
    const byScope = new Map<string, { scope: Scope; due: Due[]; seen: Set<string> }>();
    while ((this.heap.peek()?.at ?? Infinity) <= now) {
      const d = this.heap.pop() as Due;
      const times = d.ack ? this.queued.ack : this.queued.alarm;
      if (times.get(d) === d.at) times.delete(d);
      const deadline = deadlineOf(this.options.index.get(d.scope, d.id, d.source), d.ack);
      if (deadline === undefined) continue;
      if (deadline !== d.deadline) {
        // Moved since this entry was queued: it waits for its new time (at once when that passed too).
        this.enqueue({ ...d, at: deadline, deadline });
        continue;
      }
      const key = `${d.scope.domain}/${d.scope.project}`;
      let group = byScope.get(key);
      if (!group) {
        group = { scope: d.scope, due: [], seen: new Set() };
        byScope.set(key, group);
      }
      const entry = entryKey(d);
      if (group.seen.has(entry)) continue;
      group.seen.add(entry);
      group.due.push(d);
    }
    return [...byScope.values()];
  }
}
