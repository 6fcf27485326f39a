import type { ListKey } from './cursor.js';
import { selects, selectsAll, type AlarmSelection, type PageRequest } from './filter.js';
import {
  alarmKey,
  scopeKey,
  SEVERITIES,
  STATUSES,
  type Alarm,
  type AlarmChange,
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
  /** The scope's alarms by (id, source), built on the first page and kept in step after. */
  private keyed: Alarm[] | undefined;
  /** Grows with every put and delete; keys the counts below. */
  private changes = 0;
  /** How many alarms recent selections take, by selection, as of a number of changes. */
  private readonly counts = new Map<string, { changes: number; total: number }>();

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

  /**
   * Every alarm in (id, source) order. Sorted once; later changes replace, insert or remove one
   * element each (raises and clears of known alarms do not move it), so paging stays cheap while
   * writes continue.
   */
  inKeyOrder(): readonly Alarm[] {
    this.keyed ??= [...this.values()].sort(byKey);
    return this.keyed;
  }

  /**
   * How many of the scope's alarms the selection takes (`signature` names it). Counted with one
   * pass, then kept until the scope changes, so the pages of one query cost one pass in all.
   */
  count(selection: AlarmSelection, signature: string): number {
    const hit = this.counts.get(signature);
    if (hit && hit.changes === this.changes) return hit.total;
    let total = 0;
    for (const a of this.inKeyOrder()) if (selects(a, selection)) total += 1;
    this.counts.delete(signature);
    this.counts.set(signature, { changes: this.changes, total });
    if (this.counts.size > COUNTS_KEPT) this.counts.delete(this.counts.keys().next().value as string);
    return total;
  }

  /** Forgets the key order, for a change so large that sorting again is cheaper than splicing. */
  dropKeyOrder(): void {
    this.keyed = undefined;
  }

  /** Sets the alarm; returns the one it replaced. */
  put(alarm: Alarm): Alarm | undefined {
    this.ordered = undefined;
    this.changes += 1;
    const all = this.byId.get(alarm.id);
    const replaced = all?.get(alarm.source);
    // Only an ACTIVATED alarm is in activeById; an ACTIVATED one replacing it is set below.
    if (replaced?.status === 'ACTIVATED' && alarm.status !== 'ACTIVATED') this.remove(this.activeById, alarm.id, alarm.source);
    if (all) all.set(alarm.source, alarm);
    else this.byId.set(alarm.id, new Map([[alarm.source, alarm]]));
    if (!replaced) this.size += 1;
    if (this.keyed) {
      const at = keyPosition(this.keyed, alarm.id, alarm.source);
      if (replaced) this.keyed[at] = alarm;
      else this.keyed.splice(at, 0, alarm);
    }
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
    this.changes += 1;
    this.remove(this.activeById, id, source);
    const old = this.remove(this.byId, id, source);
    if (old) this.size -= 1;
    if (old && this.keyed) this.keyed.splice(keyPosition(this.keyed, id, source), 1);
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

/** Page order: by `id`, then `source`, keys a raise or clear never changes. */
function byKey(a: Alarm, b: Alarm): number {
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return 0;
}

/** The first position in `sorted` (by key) whose key is not below (id, source). */
function keyPosition(sorted: readonly Alarm[], id: string, source: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const a = sorted[mid] as Alarm;
    if (a.id < id || (a.id === id && a.source < source)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first position in `sorted` (by key) that comes after `key`. */
function positionAfter(sorted: readonly Alarm[], key: ListKey, stored: boolean): number {
  const at = keyPosition(sorted, key.id, key.source);
  const same = sorted[at];
  // A system alarm comes before a stored alarm with the same key.
  const skipSame = same !== undefined && same.id === key.id && same.source === key.source && (!stored || !key.system);
  return skipSame ? at + 1 : at;
}

/** Changes in one batch past which a scope's key order is sorted again rather than spliced. */
const RESORT_AFTER = 256;
/** Selections whose count a scope keeps. */
const COUNTS_KEPT = 16;

/** A text that names a selection: equal for equal selections. */
function signatureOf(s: AlarmSelection): string {
  return JSON.stringify([
    s.status ?? null,
    s.ids ? [...s.ids].sort() : null,
    s.source ?? null,
    s.severities ? [...s.severities].sort() : null,
    s.acknowledged ?? null,
    s.updatedSince ?? null,
  ]);
}

/** One page of a list, and how many alarms match in all. */
export interface IndexPage {
  alarms: Alarm[];
  total: number;
  /** The key of the page's last alarm, when more alarms match after it. */
  next?: ListKey;
}

/**
 * The bytes an alarm's fields count against `maxFieldsBytes`: the UTF-8 size of their JSON text,
 * the measure of the 16 KiB limit of one alarm's fields.
 */
export function fieldsBytesOf(alarm: Alarm): number {
  return Buffer.byteLength(alarm.fieldsJson);
}

/** How many bytes of fields `next` holds more than `old` (either may be absent); 0 for shared text. */
export function fieldsBytesDelta(old: Alarm | undefined, next: Alarm | undefined): number {
  if (old && next && old.fieldsJson === next.fieldsJson) return 0;
  return (next ? fieldsBytesOf(next) : 0) - (old ? fieldsBytesOf(old) : 0);
}

/** The tally's `status|severity` keys, made once rather than per change. */
const TALLY_KEYS = Object.fromEntries(
  STATUSES.map((status) => [status, Object.fromEntries(SEVERITIES.map((severity) => [severity, `${status}|${severity}`]))]),
) as Record<AlarmStatus, Record<Severity, string>>;

/**
 * The in-memory view of the store, the only thing reads touch. It is changed only by `load` at
 * start-up and by `apply` after a commit succeeded, so it never shows an uncommitted change.
 * System alarms (Alarm Center's own, kept in memory only) are visible in every scope.
 */
export class AlarmIndex {
  private readonly scopes = new Map<string, ScopeAlarms>();
  private readonly system = new Map<string, Alarm>();
  private readonly tally = new Map<string, number>();
  /** Stored alarms held in every scope (system alarms aside): what `maxAlarms` bounds. */
  size = 0;
  /** Bytes of fields the stored alarms hold, by `fieldsBytesOf`: what `maxFieldsBytes` bounds. */
  fieldsBytes = 0;
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
   * Alarms of the scope matching the selection: system alarms first, then the scope's by
   * `raisedAt`, `id` and `source`, an order built only from stored values so a restart lists
   * them the same.
   */
  list(scope: Scope, selection: AlarmSelection = {}): Alarm[] {
    const ordered = this.scopes.get(scopeKey(scope))?.inOrder() ?? [];
    const out = selectsAll(selection) ? [...ordered] : ordered.filter((a) => selects(a, selection));
    const system: Alarm[] = [];
    for (const a of this.system.values()) if (selects(a, selection)) system.push(a);
    return system.length === 0 ? out : [...system, ...out];
  }

  /**
   * A page of the scope's alarms matching the selection, in (id, source) order with system
   * alarms merged in, after `page.after`. The key of an alarm never changes, so a client paging
   * while writes continue sees every alarm that exists throughout exactly once. Costs a binary
   * search and the page, plus, when filtered, one pass over the scope to count the matches the
   * first time a selection is paged after a change of the scope.
   */
  page(scope: Scope, selection: AlarmSelection, page: PageRequest): IndexPage {
    const alarmsOfScope = this.scopes.get(scopeKey(scope));
    const stored = alarmsOfScope?.inKeyOrder() ?? [];
    const system = [...this.system.values()].filter((a) => selects(a, selection)).sort(byKey);
    const all = selectsAll(selection);
    let total = system.length;
    if (all) total += stored.length;
    else if (alarmsOfScope) total += alarmsOfScope.count(selection, signatureOf(selection));
    let i = page.after ? positionAfter(stored, page.after, true) : 0;
    let j = page.after ? positionAfter(system, page.after, false) : 0;
    const alarms: Alarm[] = [];
    let last: ListKey | undefined;
    for (;;) {
      while (i < stored.length && !all && !selects(stored[i] as Alarm, selection)) i += 1;
      const s = stored[i];
      const y = system[j];
      if (!s && !y) return { alarms, total };
      if (alarms.length === page.limit) return { alarms, total, next: last };
      if (y && (!s || byKey(y, s) <= 0)) {
        alarms.push(y);
        last = { id: y.id, source: y.source, system: true };
        j += 1;
      } else if (s) {
        alarms.push(s);
        last = { id: s.id, source: s.source, system: false };
        i += 1;
      }
    }
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

  /**
   * The ACTIVATED alarms with one of `ids` in the scope (system alarms first), at most `limit` of
   * them, and how many there are in all: O(limit + number of ids), whatever the number of alarms.
   */
  activeOf(scope: Scope, ids: readonly string[], limit: number): { alarms: Alarm[]; total: number } {
    const alarms: Alarm[] = [];
    let total = 0;
    for (const a of this.system.values()) {
      if (a.status !== 'ACTIVATED' || !ids.includes(a.id)) continue;
      total += 1;
      if (alarms.length < limit) alarms.push(a);
    }
    const s = this.scopes.get(scopeKey(scope));
    for (const id of s ? ids : []) {
      const active = s?.activeById.get(id);
      if (!active) continue;
      for (const a of active.values()) {
        if (alarms.length >= limit) break;
        alarms.push(a);
      }
      total += active.size;
    }
    return { alarms, total };
  }

  /** Applies committed changes, in order. */
  apply(changes: readonly AlarmChange[]): void {
    this.version += 1;
    if (changes.length > RESORT_AFTER) this.dropKeyOrders(changes);
    for (const c of changes) {
      if (c.removed) this.remove(c.alarm);
      else this.put(c.alarm);
      if (c.alarm.revision > this.revision) this.revision = c.alarm.revision;
    }
  }

  /**
   * Applies expiry extensions: each alarm replaces the index's one when that one is still ACTIVATED
   * at the extension's revision (a later change makes the extension stale). Answers those applied.
   */
  extend(extended: Iterable<Alarm>): Alarm[] {
    const applied: Alarm[] = [];
    for (const a of extended) {
      const current = this.get(a, a.id, a.source);
      if (current?.revision !== a.revision || current.status !== 'ACTIVATED' || current.expiresAt === a.expiresAt) continue;
      this.put(a);
      applied.push(a);
    }
    if (applied.length > 0) this.version += 1;
    return applied;
  }

  /** Drops the key order of scopes to which the changes add or from which they remove many alarms. */
  private dropKeyOrders(changes: readonly AlarmChange[]): void {
    const moved = new Map<ScopeAlarms, number>();
    for (const c of changes) {
      const s = this.scopes.get(scopeKey(c.alarm));
      if (s && (c.removed || !s.get(c.alarm.id, c.alarm.source))) moved.set(s, (moved.get(s) ?? 0) + 1);
    }
    for (const [s, n] of moved) if (n > RESORT_AFTER) s.dropKeyOrder();
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
    else this.size += 1;
    this.fieldsBytes += fieldsBytesDelta(old, a);
    this.count(a, 1);
  }

  private remove(a: Alarm): void {
    const sk = scopeKey(a);
    const s = this.scopes.get(sk);
    const old = s?.delete(a.id, a.source);
    if (!s || !old) return;
    this.count(old, -1);
    this.size -= 1;
    this.fieldsBytes -= fieldsBytesOf(old);
    if (s.size === 0) this.scopes.delete(sk);
  }

  private count(a: Alarm, delta: number): void {
    const k = TALLY_KEYS[a.status][a.severity];
    this.tally.set(k, (this.tally.get(k) ?? 0) + delta);
  }
}
