/**
 * Bus: one event type's bounded FIFO queue and its single dispatcher.
 *
 * Design note.
 * - Ordering: one dispatcher per type; events are taken from the queue in firing order and each
 *   subscriber receives its events in that order, one call at a time.
 * - Delivery: the dispatcher takes everything queued (up to `maxBatch`) in one turn; subscribers
 *   with `onBatch` get the turn's events in one call (that is how the ALARM subscriber commits
 *   a group of writes in one transaction), others get `onMessage` per event. Subscribers of one
 *   turn run concurrently; the next turn starts when all of them are done.
 * - Completion: `fire()` resolves when every targeted subscriber has handled the event, with a
 *   count of deliveries and failures. A throwing subscriber is isolated and reported to the
 *   owner (the BusService evicts it); it never makes `fire()` reject.
 * - Limits and overflow: the queue holds `queueSize` events. When it is full, `reject` makes
 *   `fire()` reject with ERR_BUS_QUEUE_FULL and keeps what was accepted; `drop-oldest` discards
 *   the oldest queued event, whose `fire()` resolves with status `dropped`, and counts it.
 * - Stop: `stop()` refuses new events with ERR_BUS_STOPPED and resolves once the queue is drained.
 */
import { BusError } from './bus-error.js';
import type { BusEvent } from './event.js';
import { Subject } from './subject.js';
import type { Subscriber } from './subscriber.js';

export type OverflowPolicy = 'reject' | 'drop-oldest';

/** How a type's queue behaves; given when the type is registered on a BusService. */
export interface BusTypeOptions {
  /** Most events waiting at once (≥ 1). */
  queueSize: number;
  overflow: OverflowPolicy;
  /** Most events one dispatcher turn takes (≥ 1); defaults to the queue size. */
  maxBatch?: number;
}

/** What became of one fired event. */
export interface FireResult {
  status: 'delivered' | 'dropped' | 'no-subscriber';
  /** Subscribers that handled it without error. */
  delivered: number;
  /** Subscribers that threw on it. */
  failed: number;
}

/** Counters of one bus since it was created. */
export interface BusStats {
  type: string;
  queued: number;
  fired: number;
  delivered: number;
  failed: number;
  dropped: number;
  noSubscriber: number;
}

/** Observers of a bus's life, supplied by the BusService (metrics, eviction). */
export interface BusHooks {
  onQueued(event: BusEvent, depth: number): void;
  onDispatched(event: BusEvent): void;
  onHandled(event: BusEvent, ok: boolean): void;
  onDropped(event: BusEvent): void;
  onNoSubscriber(event: BusEvent): void;
  /** Reports a subscriber that threw; answers whether it is being evicted (then it gets no more events). */
  onSubscriberError(subscriber: Subscriber, error: unknown, event: BusEvent): boolean;
}

interface Entry {
  event: BusEvent;
  resolve: (r: FireResult) => void;
  delivered: number;
  failed: number;
}

/** A bounded FIFO with O(1) push and shift. */
class Ring<T> {
  private items: (T | undefined)[];
  private head = 0;
  length = 0;

  constructor(capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[(this.head + this.length) % this.items.length] = item;
    this.length += 1;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.length -= 1;
    return item;
  }
}

export class Bus {
  readonly type: string;
  readonly queueSize: number;
  readonly overflow: OverflowPolicy;
  readonly maxBatch: number;
  private readonly subjects = new Map<string, Subject>();
  private readonly queue: Ring<Entry>;
  private readonly broken = new WeakSet<Subscriber>();
  private readonly hooks: BusHooks;
  private readonly counters: BusStats;
  private scheduled = false;
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(type: string, options: BusTypeOptions, hooks: BusHooks) {
    if (!Number.isInteger(options.queueSize) || options.queueSize < 1) {
      throw new BusError('ERR_BUS_INVALID_OPTIONS', `queueSize of ${type} must be an integer ≥ 1`);
    }
    if (options.overflow !== 'reject' && options.overflow !== 'drop-oldest') {
      throw new BusError('ERR_BUS_INVALID_OPTIONS', `overflow of ${type} must be reject or drop-oldest`);
    }
    const maxBatch = options.maxBatch ?? options.queueSize;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new BusError('ERR_BUS_INVALID_OPTIONS', `maxBatch of ${type} must be an integer ≥ 1`);
    }
    this.type = type;
    this.queueSize = options.queueSize;
    this.overflow = options.overflow;
    this.maxBatch = maxBatch;
    this.queue = new Ring<Entry>(options.queueSize);
    this.hooks = hooks;
    this.counters = { type, queued: 0, fired: 0, delivered: 0, failed: 0, dropped: 0, noSubscriber: 0 };
  }

  /** Events waiting for the dispatcher. */
  get depth(): number {
    return this.queue.length;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stats(): BusStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Whether any subscriber is attached, whatever its subject. */
  get hasSubscribers(): boolean {
    return this.subjects.size > 0;
  }

  subject(name: string): Subject | undefined {
    return this.subjects.get(name);
  }

  /** Every attached subscriber, subject by subject and group by group. */
  subscribers(): Subscriber[] {
    const out: Subscriber[] = [];
    for (const s of this.subjects.values()) s.targets('', out);
    return out;
  }

  addSubscriber(subscriber: Subscriber): void {
    let s = this.subjects.get(subscriber.subject);
    if (!s) {
      s = new Subject(subscriber.subject);
      this.subjects.set(subscriber.subject, s);
    }
    s.groupOrNew(subscriber.group).add(subscriber);
  }

  /** Removes the subscriber; returns whether it was a member. Empty groups and subjects go too. */
  removeSubscriber(subscriber: Subscriber): boolean {
    const s = this.subjects.get(subscriber.subject);
    const g = s?.group(subscriber.group);
    if (!s || !g || g.member(subscriber.id) !== subscriber) return false;
    g.remove(subscriber.id);
    if (g.size === 0) s.removeGroup(g.name);
    if (s.size === 0) this.subjects.delete(s.name);
    return true;
  }

  /** Queues the event; resolves when every targeted subscriber has handled it. */
  fire(event: BusEvent): Promise<FireResult> {
    if (this.stopped) {
      return Promise.reject(new BusError('ERR_BUS_STOPPED', `bus ${this.type} is stopped`));
    }
    if (this.queue.length >= this.queueSize) {
      if (this.overflow === 'reject') {
        return Promise.reject(
          new BusError('ERR_BUS_QUEUE_FULL', `queue of ${this.type} is full (${this.queueSize} events)`),
        );
      }
      this.dropOldest();
    }
    return new Promise<FireResult>((resolve) => {
      this.queue.push({ event, resolve, delivered: 0, failed: 0 });
      this.counters.fired += 1;
      this.hooks.onQueued(event, this.queue.length);
      this.schedule();
    });
  }

  /** Refuses new events and resolves once everything already queued has been delivered. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.idle();
  }

  /** Resolves when the queue is empty and no delivery is under way. */
  idle(): Promise<void> {
    if (!this.running && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private dropOldest(): void {
    const oldest = this.queue.shift();
    if (!oldest) return;
    this.counters.dropped += 1;
    this.hooks.onDropped(oldest.event);
    oldest.resolve({ status: 'dropped', delivered: 0, failed: 0 });
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate, not a microtask: I/O that arrived meanwhile is read first, so the next
    // turn carries every write that is already waiting (group commit).
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch: Entry[] = [];
        while (batch.length < this.maxBatch && this.queue.length > 0) batch.push(this.queue.shift() as Entry);
        await this.deliver(batch);
        if (this.queue.length > 0) await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async deliver(batch: Entry[]): Promise<void> {
    const perSubscriber = new Map<Subscriber, Entry[]>();
    const targets: Subscriber[] = [];
    const reachedEntries: Entry[] = [];
    for (const entry of batch) {
      this.hooks.onDispatched(entry.event);
      targets.length = 0;
      this.subjects.get(entry.event.subject)?.targets(entry.event.group, targets);
      let reached = 0;
      for (const t of targets) {
        if (this.broken.has(t)) continue;
        reached += 1;
        const list = perSubscriber.get(t);
        if (list) list.push(entry);
        else perSubscriber.set(t, [entry]);
      }
      if (reached > 0) {
        reachedEntries.push(entry);
        continue;
      }
      this.counters.noSubscriber += 1;
      this.hooks.onNoSubscriber(entry.event);
      entry.resolve({ status: 'no-subscriber', delivered: 0, failed: 0 });
    }
    const work: Promise<void>[] = [];
    for (const [subscriber, entries] of perSubscriber) work.push(this.invoke(subscriber, entries));
    await Promise.all(work);
    for (const entry of reachedEntries) {
      this.counters.delivered += entry.delivered;
      this.counters.failed += entry.failed;
      this.hooks.onHandled(entry.event, entry.failed === 0);
      entry.resolve({ status: 'delivered', delivered: entry.delivered, failed: entry.failed });
    }
  }

  private async invoke(subscriber: Subscriber, entries: Entry[]): Promise<void> {
    if (subscriber.onBatch) {
      try {
        const r = subscriber.onBatch(entries.map((e) => e.event));
        if (r) await r;
        for (const e of entries) e.delivered += 1;
      } catch (err) {
        for (const e of entries) e.failed += 1;
        this.markBroken(subscriber, err, (entries[0] as Entry).event);
      }
      return;
    }
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i] as Entry;
      if (this.broken.has(subscriber)) {
        entry.failed += 1;
        continue;
      }
      try {
        const r = subscriber.onMessage(entry.event);
        if (r) await r;
        entry.delivered += 1;
      } catch (err) {
        entry.failed += 1;
        this.markBroken(subscriber, err, entry.event);
      }
    }
  }

  private markBroken(subscriber: Subscriber, error: unknown, event: BusEvent): void {
    if (this.broken.has(subscriber)) return;
    if (this.hooks.onSubscriberError(subscriber, error, event)) this.broken.add(subscriber);
  }
}
