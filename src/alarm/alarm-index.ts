import {
  alarmKey,
  scopeKey,
  type Alarm,
  type AlarmChange,
  type AlarmFilter,
  type AlarmStatus,
  type Scope,
  type Severity,
} from './model.js';

class ScopeAlarms {
  readonly alarms = new Map<string, Alarm>();
  /** ACTIVATED alarms by id, so a health check costs O(1) whatever the number of alarms. */
  readonly activeById = new Map<string, Map<string, Alarm>>();

  put(key: string, alarm: Alarm): void {
    this.drop(key);
    this.alarms.set(key, alarm);
    if (alarm.status === 'ACTIVATED') {
      let m = this.activeById.get(alarm.id);
      if (!m) {
        m = new Map();
        this.activeById.set(alarm.id, m);
      }
      m.set(key, alarm);
    }
  }

  /** Removes the alarm from the active view only; `put` or `delete` follow. */
  private drop(key: string): void {
    const old = this.alarms.get(key);
    if (old?.status !== 'ACTIVATED') return;
    const m = this.activeById.get(old.id);
    m?.delete(key);
    if (m?.size === 0) this.activeById.delete(old.id);
  }

  delete(key: string): void {
    this.drop(key);
    this.alarms.delete(key);
  }
}

function matches(a: Alarm, f: AlarmFilter): boolean {
  return (
    (f.status === undefined || a.status === f.status) &&
    (f.id === undefined || a.id === f.id) &&
    (f.source === undefined || a.source === f.source) &&
    (f.severity === undefined || a.severity === f.severity)
  );
}

/**
 * The in-memory view of the store, the only thing reads touch. It is changed only by `load` at
 * start-up and by `apply` after a commit succeeded, so it never shows an uncommitted change.
 * System alarms (Alarm Center's own, kept in memory only) are visible in every scope.
 */
export class AlarmIndex {
  private readonly scopes = new Map<string, ScopeAlarms>();
  private readonly system = new Map<string, Alarm>();
  private readonly tally = new Map<string, number>();
  /** Revision of the last committed change. */
  revision = 0;

  load(alarms: readonly Alarm[], revision: number): void {
    for (const a of alarms) this.put(a);
    this.revision = revision;
  }

  get(scope: Scope, id: string, source: string): Alarm | undefined {
    return this.scopes.get(scopeKey(scope))?.alarms.get(alarmKey(id, source));
  }

  /** The stored alarms of a scope, without system alarms, in index order. */
  scopeAlarms(scope: Scope): IterableIterator<Alarm> {
    const s = this.scopes.get(scopeKey(scope));
    return (s ? s.alarms : new Map<string, Alarm>()).values();
  }

  /** Alarms of the scope matching the filter, system alarms first. */
  list(scope: Scope, filter: AlarmFilter = {}): Alarm[] {
    const out: Alarm[] = [];
    for (const a of this.system.values()) if (matches(a, filter)) out.push(a);
    for (const a of this.scopeAlarms(scope)) if (matches(a, filter)) out.push(a);
    return out;
  }

  /** The first ACTIVATED alarm with one of `ids` in the scope (or among system alarms). */
  firstActive(scope: Scope, ids: readonly string[]): Alarm | undefined {
    for (const a of this.system.values()) if (a.status === 'ACTIVATED' && ids.includes(a.id)) return a;
    const s = this.scopes.get(scopeKey(scope));
    if (!s) return undefined;
    for (const id of ids) {
      const m = s.activeById.get(id);
      if (m) for (const a of m.values()) return a;
    }
    return undefined;
  }

  /** Applies committed changes, in order. */
  apply(changes: readonly AlarmChange[]): void {
    for (const c of changes) {
      if (c.removed) this.remove(c.alarm);
      else this.put(c.alarm);
      if (c.alarm.revision > this.revision) this.revision = c.alarm.revision;
    }
  }

  /** Sets a system alarm (kept in memory only); replaces one with the same id and source. */
  setSystem(alarm: Alarm): void {
    const key = alarmKey(alarm.id, alarm.source);
    const old = this.system.get(key);
    if (old) this.count(old, -1);
    this.system.set(key, alarm);
    this.count(alarm, 1);
  }

  getSystem(id: string, source: string): Alarm | undefined {
    return this.system.get(alarmKey(id, source));
  }

  /** Number of alarms by status and severity, system alarms included. */
  counts(): { status: AlarmStatus; severity: Severity; count: number }[] {
    return [...this.tally].map(([k, count]) => {
      const [status, severity] = k.split('|') as [AlarmStatus, Severity];
      return { status, severity, count };
    });
  }

  /** Stored alarms across every scope. */
  get size(): number {
    let n = 0;
    for (const s of this.scopes.values()) n += s.alarms.size;
    return n;
  }

  private put(a: Alarm): void {
    const sk = scopeKey(a);
    let s = this.scopes.get(sk);
    if (!s) {
      s = new ScopeAlarms();
      this.scopes.set(sk, s);
    }
    const key = alarmKey(a.id, a.source);
    const old = s.alarms.get(key);
    if (old) this.count(old, -1);
    s.put(key, a);
    this.count(a, 1);
  }

  private remove(a: Alarm): void {
    const sk = scopeKey(a);
    const s = this.scopes.get(sk);
    const key = alarmKey(a.id, a.source);
    const old = s?.alarms.get(key);
    if (!s || !old) return;
    this.count(old, -1);
    s.delete(key);
    if (s.alarms.size === 0) this.scopes.delete(sk);
  }

  private count(a: Alarm, delta: number): void {
    const k = `${a.status}|${a.severity}`;
    this.tally.set(k, (this.tally.get(k) ?? 0) + delta);
  }
}
