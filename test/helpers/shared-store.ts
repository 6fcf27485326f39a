/**
 * A store several replicas in one process share, in memory: one log of committed changes, a
 * commit refused with StoreConflict when another writer committed first, notifications of the
 * others' commits, and one lease. It keeps the contract of a shared store (src/alarm/store.ts)
 * without a database, so the core's following of other replicas is tested on its own.
 */
import { alarmKey, scopeKey, type Alarm, type AlarmChange, type Scope } from '../../src/alarm/model.js';
import { StoreConflict, StoreError, type AlarmStore, type HistoryEntry, type Lease, type StoreSnapshot } from '../../src/alarm/store.js';

/** What the replicas share: the committed changes, in revision order. */
export class SharedLog {
  readonly changes: AlarmChange[] = [];
  readonly stores = new Set<SharedStore>();
  /** Stores that are not told of the others' commits, as when their notifications are lost. */
  readonly muted = new Set<AlarmStore>();
  /** While set, every commit and read fails with it, as when the database is unreachable. */
  down: Error | undefined;
  private leaseHolder: SharedLease | undefined;
  private readonly waiting: SharedLease[] = [];

  get revision(): number {
    return this.changes.length === 0 ? 0 : (this.changes[this.changes.length - 1] as AlarmChange).alarm.revision;
  }

  /** A store of one more replica. */
  open(): SharedStore {
    const store = new SharedStore(this);
    this.stores.add(store);
    return store;
  }

  takeLease(lease: SharedLease): void {
    if (!this.leaseHolder) {
      this.leaseHolder = lease;
      lease.grant();
    } else this.waiting.push(lease);
  }

  dropLease(lease: SharedLease): void {
    const i = this.waiting.indexOf(lease);
    if (i >= 0) this.waiting.splice(i, 1);
    if (this.leaseHolder !== lease) return;
    this.leaseHolder = this.waiting.shift();
    this.leaseHolder?.grant();
  }
}

class SharedLease implements Lease {
  held = false;
  private readonly listeners: ((held: boolean) => void)[] = [];

  constructor(private readonly log: SharedLog) {
    log.takeLease(this);
  }

  grant(): void {
    this.held = true;
    for (const l of this.listeners) l(true);
  }

  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.held) {
      this.held = false;
      for (const l of this.listeners) l(false);
    }
    this.log.dropLease(this);
  }
}

/** One replica's connection to the shared log. */
export class SharedStore implements AlarmStore {
  private readonly remote: ((revision?: number) => void)[] = [];
  private readonly leases: SharedLease[] = [];
  private closed = false;

  constructor(private readonly log: SharedLog) {}

  private check(): void {
    if (this.closed) throw new StoreError('the store is closed');
    if (this.log.down) throw new StoreError(this.log.down.message, { backendCode: 'ECONNREFUSED' });
  }

  async load(): Promise<StoreSnapshot> {
    this.check();
    const alarms = new Map<string, Alarm>();
    for (const c of this.log.changes) {
      const key = `${scopeKey(c.alarm)}\u0000${alarmKey(c.alarm.id, c.alarm.source)}`;
      if (c.removed) alarms.delete(key);
      else alarms.set(key, c.alarm);
    }
    return { alarms: [...alarms.values()].sort((a, b) => a.revision - b.revision), revision: this.log.revision };
  }

  async commit(changes: readonly AlarmChange[]): Promise<void> {
    this.check();
    const first = changes[0];
    if (!first) return;
    if (first.alarm.revision !== this.log.revision + 1) throw new StoreConflict(this.log.revision, first.alarm.revision - 1);
    this.log.changes.push(...changes);
    const revision = this.log.revision;
    for (const other of this.log.stores) if (other !== this && !this.log.muted.has(other)) other.notify(revision);
  }

  private notify(revision: number): void {
    // As NOTIFY is: after the commit, on another connection's turn.
    setImmediate(() => {
      if (!this.closed) for (const l of this.remote) l(revision);
    });
  }

  async history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]> {
    this.check();
    const key = scopeKey(scope);
    return this.log.changes
      .filter((c) => c.alarm.revision > since && scopeKey(c.alarm) === key)
      .slice(0, limit)
      .map((c) => ({ revision: c.alarm.revision, action: c.action, alarm: c.alarm, at: c.at }));
  }

  async changesAfter(revision: number, limit: number): Promise<AlarmChange[]> {
    this.check();
    return this.log.changes.filter((c) => c.alarm.revision > revision).slice(0, limit);
  }

  onRemoteCommit(listener: (revision?: number) => void): void {
    this.remote.push(listener);
  }

  lease(): Lease {
    const lease = new SharedLease(this.log);
    this.leases.push(lease);
    return lease;
  }

  async ping(): Promise<void> {
    this.check();
  }

  /** Ends the replica's connection: its leases go to the others, as a dead holder's session does. */
  async close(): Promise<void> {
    this.closed = true;
    this.log.stores.delete(this);
    for (const l of this.leases) await l.close();
  }
}
