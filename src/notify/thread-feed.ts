/**
 * What the notifications thread (notify-worker.ts) forwards to Alertmanagers from: the active
 * alarms, as the main thread's index had them when the thread started, kept current by reading
 * the history after that revision as revisions become durable. The main thread's index stays
 * where it is; this copy holds only the ACTIVATED alarms, which is all a resend reads.
 */
import type { Alarm, AlarmChange, Scope } from '../alarm/model.js';

const keyOf = (domain: string, project: string, id: string, source: string): string => `${domain}\u0000${project}\u0000${id}\u0000${source}`;

/** The ACTIVATED alarms, by scope, id and source. */
export class ActiveAlarms {
  private readonly alarms = new Map<string, Alarm>();

  constructor(alarms: Iterable<Alarm>) {
    for (const a of alarms) if (a.status === 'ACTIVATED') this.alarms.set(keyOf(a.domain, a.project, a.id, a.source), a);
  }

  get size(): number {
    return this.alarms.size;
  }

  /** Applies committed changes, in order. */
  apply(changes: readonly AlarmChange[]): void {
    for (const { alarm: a, removed } of changes) {
      const key = keyOf(a.domain, a.project, a.id, a.source);
      if (!removed && a.status === 'ACTIVATED') this.alarms.set(key, a);
      else this.alarms.delete(key);
    }
  }

  get(scope: Scope, id: string, source: string): Alarm | undefined {
    return this.alarms.get(keyOf(scope.domain, scope.project, id, source));
  }

  allAlarms(): IterableIterator<Alarm> {
    return this.alarms.values();
  }
}

export interface ChangeFeedOptions {
  /** The changes after a revision, up to another, at most `limit`, in revision order. */
  read(after: number, upTo: number, limit: number): AlarmChange[];
  /** The last revision retention removed from the history. */
  pruned(): number;
  /** Where the reading starts: the revision the active alarms were read at. */
  from: number;
  /** Takes each page of changes, in order. */
  take(changes: readonly AlarmChange[]): void;
  /** Retention removed changes before they were read: the active alarms must be read again. */
  lost(from: number, to: number): void;
  /** Whether `take` should wait: the reading goes on once it says no more (polled every WAIT_MS). */
  busy?(): boolean;
  /** The durable revisions not read yet, after each page and each notice of more. */
  backlog?(revisions: number): void;
}

/** How often a busy taker is asked again. */
const WAIT_MS = 20;

/** Changes read at a time. */
const PAGE = 512;

/**
 * Reads the history in revision order up to the last durable revision it was told of, one page
 * per turn of the event loop so the thread stays responsive to its messages, and none while the
 * taker is busy: the history keeps what is not read yet, so the taker's queues need not.
 */
export class ChangeFeed {
  private cursor: number;
  private durable: number;
  private scheduled = false;
  private stopped = false;

  constructor(private readonly o: ChangeFeedOptions) {
    this.cursor = o.from;
    this.durable = o.from;
  }

  /** The changes up to `revision` are durable: reads them (soon). */
  notify(revision: number): void {
    if (revision > this.durable) this.durable = revision;
    this.o.backlog?.(this.durable - this.cursor);
    this.schedule();
  }

  /** Starts again at `revision`, the active alarms having been read again at it. */
  restart(revision: number): void {
    this.cursor = revision;
    this.schedule();
  }

  /** Reads nothing more (the thread is closing its connection). */
  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    if (this.stopped || this.scheduled || this.cursor >= this.durable) return;
    this.scheduled = true;
    const busy = this.o.busy?.() ?? false;
    const next = () => {
      this.scheduled = false;
      if (this.stopped) return;
      if (this.o.busy?.()) this.schedule();
      else this.step();
    };
    if (busy) setTimeout(next, WAIT_MS).unref();
    else setImmediate(next);
  }

  private step(): void {
    const changes = this.o.read(this.cursor, this.durable, PAGE);
    const first = changes[0]?.alarm.revision;
    const pruned = this.o.pruned();
    if (pruned > this.cursor && (first === undefined || first > this.cursor + 1)) {
      const from = this.cursor + 1;
      this.cursor = Math.max(this.cursor, pruned);
      this.o.lost(from, pruned);
      return;
    }
    if (changes.length > 0) {
      this.cursor = (changes[changes.length - 1] as AlarmChange).alarm.revision;
      this.o.take(changes);
    } else {
      this.cursor = this.durable;
    }
    this.o.backlog?.(this.durable - this.cursor);
    this.schedule();
  }
}
