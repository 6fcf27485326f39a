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

type BySource = Map<string, Alarm>;

/**
 * The alarms of one scope, id → source → alarm. Nesting (rather than one map keyed by a
 * concatenated string) keeps no key string per alarm: the id key is shared by every source and
 * the source key is the alarm's own string.
 */
class ScopeAlarms {
  readonly domain: string;
  readonly project: string;
  readonly byId = new Map<string, BySource>();
  /** ACTIVATED alarms by id, so a health check costs O(1) whatever the number of alarms. */
  readonly activeById = new Map<string, BySource>();
  size = 0;
  /** The scope's alarms in list order, kept until the next change. */
  private ordered: Alarm[] | undefined;

  constructor(domain: string, project: string) {
    this.domain = domain;
    this.project = project;
  }

  get(id: string, source: string): Alarm | undefined {
    return this.byId.get(id)?.get(source);
  }

  /** Every alarm in list order; sorted once per change, not once per read. */
  inOrder(): readonly Alarm[] {
    if (!this.ordered) this.ordered = [...this.values()].sort(byRaise);
    return this.ordered;
  }

  /** Sets the alarm; returns the one it replaced. */
  put(alarm: Alarm): Alarm | undefined {
    this.ordered = undefined;
    this.remove(this.activeById, alarm.id, alarm.source);
    const all = this.byId.get(alarm.id);
    const replaced = all?.get(alarm.source);
    if (all) all.set(alarm.source, alarm);
    else this.byId.set(alarm.id, new Map([[alarm.source, alarm]]));
    if (!replaced) this.size += 1;
    if (alarm.status === 'ACTIVATED') {
      const active = this.activeById.get(alarm.id);
      if (active) active.set(alarm.source, alarm);
      else this.activeById.set(alarm.id, new Map([[alarm.source, alarm]]));
    }
    return replaced;
  }

  /** Removes the alarm; returns it, or undefined when there was none. */
  delete(id: string, source: string): Alarm | undefined {
    this.ordered = undefined;
    this.remove(this.activeById, id, source);
    const old = this.remove(this.byId, id, source);
    if (old) this.size -= 1;
    return old;
  }

  *values(): IterableIterator<Alarm> {
    for (const m of this.byId.values()) yield* m.values();
  }

  private remove(map: Map<string, BySource>, id: string, source: string): Alarm | undefined {
    const m = map.get(id);
    const old = m?.get(source);
    if (!m || !old) return undefined;
    m.delete(source);
    if (m.size === 0) map.delete(id);
    return old;
  }
}

/** List order: by `raisedAt`, then `id`, then `source`. */
function byRaise(a: Alarm, b: Alarm): number {
  if (a.raisedAt !== b.raisedAt) return a.raisedAt - b.raisedAt;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return 0;
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
  /** Grows with every change the index shows, system alarms included; keys caches of reads. */
  version = 0;

  load(alarms: readonly Alarm[], revision: number): void {
    this.version += 1;
    for (const a of alarms) this.put(a);
    this.revision = revision;
  }

  get(scope: Scope, id: string, source: string): Alarm | undefined {
    return this.scopes.get(scopeKey(scope))?.get(id, source);
  }

  /**
   * The index's own copies of the scope's and the id's strings when it has them, so that new
   * alarms share them instead of holding one copy each of every request's strings.
   */
  canonical(scope: Scope, id: string): { domain: string; project: string; id: string } {
    const s = this.scopes.get(scopeKey(scope));
    if (!s) return { domain: scope.domain, project: scope.project, id };
    const known = s.byId.get(id)?.values().next().value;
    return { domain: s.domain, project: s.project, id: known ? known.id : id };
  }

  /** Every stored alarm of every scope (system alarms aside). */
  *allAlarms(): IterableIterator<Alarm> {
    for (const s of this.scopes.values()) yield* s.values();
  }

  /** The scopes holding a CLEARED alarm cleared before `before` (what retention purges). */
  scopesWithClearedBefore(before: number): Scope[] {
    const out: Scope[] = [];
    for (const s of this.scopes.values()) {
      for (const a of s.values()) {
        if (a.status === 'CLEARED' && (a.clearedAt ?? a.updatedAt) < before) {
          out.push({ domain: s.domain, project: s.project });
          break;
        }
      }
    }
    return out;
  }

  /** How many alarms the scope holds (system alarms aside). */
  scopeSize(scope: Scope): number {
    return this.scopes.get(scopeKey(scope))?.size ?? 0;
  }

  /** The stored alarms of a scope, without system alarms, grouped by id. */
  scopeAlarms(scope: Scope): IterableIterator<Alarm> {
    const s = this.scopes.get(scopeKey(scope));
    return s ? s.values() : [].values();
  }

  /**
   * Alarms of the scope matching the filter: system alarms first, then the scope's by `raisedAt`,
   * `id` and `source`, an order built only from stored values so a restart lists them the same.
   */
  list(scope: Scope, filter: AlarmFilter = {}): Alarm[] {
    const ordered = this.scopes.get(scopeKey(scope))?.inOrder() ?? [];
    const unfiltered = filter.status === undefined && filter.id === undefined && filter.source === undefined && filter.severity === undefined;
    const out = unfiltered ? [...ordered] : ordered.filter((a) => matches(a, filter));
    const system: Alarm[] = [];
    for (const a of this.system.values()) if (matches(a, filter)) system.push(a);
    return system.length === 0 ? out : [...system, ...out];
  }

  /** The first ACTIVATED alarm with one of `ids` in the scope (or among system alarms). */
  firstActive(scope: Scope, ids: readonly string[]): Alarm | undefined {
    for (const a of this.system.values()) if (a.status === 'ACTIVATED' && ids.includes(a.id)) return a;
    const s = this.scopes.get(scopeKey(scope));
    if (!s) return undefined;
    for (const id of ids) {
      const first = s.activeById.get(id)?.values().next();
      if (first && !first.done) return first.value;
    }
    return undefined;
  }

  /** Applies committed changes, in order. */
  apply(changes: readonly AlarmChange[]): void {
    this.version += 1;
    for (const c of changes) {
      if (c.removed) this.remove(c.alarm);
      else this.put(c.alarm);
      if (c.alarm.revision > this.revision) this.revision = c.alarm.revision;
    }
  }

  /** Sets a system alarm (kept in memory only); replaces one with the same id and source. */
  setSystem(alarm: Alarm): void {
    this.version += 1;
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

  private put(a: Alarm): void {
    const sk = scopeKey(a);
    let s = this.scopes.get(sk);
    if (!s) {
      s = new ScopeAlarms(a.domain, a.project);
      this.scopes.set(sk, s);
    }
    const old = s.put(a);
    if (old) this.count(old, -1);
    this.count(a, 1);
  }

  private remove(a: Alarm): void {
    const sk = scopeKey(a);
    const s = this.scopes.get(sk);
    const old = s?.delete(a.id, a.source);
    if (!s || !old) return;
    this.count(old, -1);
    if (s.size === 0) this.scopes.delete(sk);
  }

  private count(a: Alarm, delta: number): void {
    const k = `${a.status}|${a.severity}`;
    this.tally.set(k, (this.tally.get(k) ?? 0) + delta);
  }
}
