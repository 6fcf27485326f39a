/**
 * The planner of alarm writes (DESIGN §2 semantics): what a write changes, decided from a
 * read-only view of the alarms, the write and the time alone. It does no I/O, reads no clock and
 * changes none of its inputs. The ALARM subscriber plans each write of a group commit over an
 * Overlay of the changes accepted before it in the batch, so the writes of one batch see each
 * other exactly as they would if each were committed on its own. Rules (PlanRules) add changes
 * of their own to a write's, in its commit: the watchdog's AlertingPipelineDown.
 */
import { AlarmCenterError, Codes } from '../errors.js';
import { fieldsBytesDelta } from './alarm-index.js';
import type { AlarmOp, ClearSelector, WriteRequest, WriteResult } from './event.js';
import {
  ACK_EXPIRED_BY,
  AlarmIds,
  DEFAULT_SEVERITY,
  alarmKey,
  isoTime,
  makeAlarm,
  scopeKey,
  type Alarm,
  type AlarmChange,
  type AlarmState,
  type ChangeAction,
  type Scope,
} from './model.js';

/** What planning reads of the alarms: the index, or an Overlay of planned changes over it. */
export interface AlarmView {
  /** Revision of the last change the view shows; a planned change takes the next one. */
  readonly revision: number;
  get(scope: Scope, id: string, source: string): Alarm | undefined;
  /**
   * The stored alarms of a scope in the index's order: grouped by id, ids in the order they
   * arrived in the scope, sources in the order they arrived under their id. A bulk write
   * (clear-all, clear-matching, purge) numbers its changes in this order.
   */
  scopeAlarms(scope: Scope): Iterable<Alarm>;
  /** The view's own copies of the scope's and the id's strings, for a new alarm to share. */
  canonical(scope: Scope, id: string): { domain: string; project: string; id: string };
}

/** How much a write grows (or, when negative, shrinks) the alarms and their fields in all scopes. */
export interface Growth {
  alarms: number;
  fieldsBytes: number;
}

/**
 * A write's plan: its changes in commit order and its answer, or why it is refused whole. The
 * changes come as an Overlay over the view they were planned on, which a batch takes in whole.
 */
export type WritePlan = { ok: true; planned: Overlay; result: WriteResult } | { ok: false; error: AlarmCenterError };

/** The key of an alarm among an overlay's changes. */
function overlayKey(scope: Scope, id: string, source: string): string {
  return `${scopeKey(scope)}\u0000${alarmKey(id, source)}`;
}

/** Adds an alarm to a scope laid out as the index lays it out (by id, then by source). */
function putLaidOut(byId: Map<string, Map<string, Alarm>>, a: Alarm): void {
  const sources = byId.get(a.id);
  if (sources) sources.set(a.source, a);
  else byId.set(a.id, new Map([[a.source, a]]));
}

/**
 * A view of changes over another view: what the alarms will be once the changes are applied.
 * It holds only the changes; reads of anything they do not touch go to the view below. Changes
 * are added, never taken back: a refused write's plan is simply not added.
 */
export class Overlay implements AlarmView {
  /** The changes added so far, in order: what a commit writes. */
  readonly changes: AlarmChange[] = [];
  /** The expiries re-sends moved, by alarm: each alarm as extended, at its own revision. */
  readonly extensions = new Map<string, Alarm>();
  /** How much the changes grow the alarms and their fields in all scopes. */
  readonly growth: Growth = { alarms: 0, fieldsBytes: 0 };
  revision: number;
  /** The base's revision when the overlay was made: what a plan absorbed must have been planned on. */
  private readonly from: number;
  /** The last state of every alarm a change touched; null once removed. */
  private readonly latest = new Map<string, Alarm | null>();
  /** Alarms the changes add to (or, when negative, remove from) each scope. */
  private readonly addedByScope = new Map<string, number>();

  constructor(private readonly base: AlarmView) {
    this.revision = base.revision;
    this.from = base.revision;
  }

  get(scope: Scope, id: string, source: string): Alarm | undefined {
    if (this.latest.size === 0) return this.base.get(scope, id, source);
    const staged = this.latest.get(overlayKey(scope, id, source));
    if (staged === undefined) return this.base.get(scope, id, source);
    return staged ?? undefined;
  }

  canonical(scope: Scope, id: string): { domain: string; project: string; id: string } {
    return this.base.canonical(scope, id);
  }

  /**
   * The scope's alarms after the changes, in the order the index will hold them once they are
   * applied (a removed then raised alarm moves to the end, as it does in the index), so a bulk
   * write numbers its changes the same however the writes before it were batched.
   */
  scopeAlarms(scope: Scope): Alarm[] {
    const sk = scopeKey(scope);
    const mine = this.changes.filter((c) => scopeKey(c.alarm) === sk);
    if (mine.length === 0) return Array.from(this.base.scopeAlarms(scope), (a) => this.extended(a));
    const byId = new Map<string, Map<string, Alarm>>();
    for (const a of this.base.scopeAlarms(scope)) putLaidOut(byId, a);
    for (const { alarm, removed } of mine) {
      if (!removed) {
        putLaidOut(byId, alarm);
        continue;
      }
      const sources = byId.get(alarm.id);
      sources?.delete(alarm.source);
      if (sources?.size === 0) byId.delete(alarm.id);
    }
    const out: Alarm[] = [];
    for (const sources of byId.values()) for (const a of sources.values()) out.push(this.extended(a));
    return out;
  }

  /** The alarm with the expiry a re-send of the batch moved, while it is at that extension's revision. */
  private extended(a: Alarm): Alarm {
    if (this.extensions.size === 0) return a;
    const e = this.extensions.get(overlayKey(a, a.id, a.source));
    return e?.revision === a.revision ? e : a;
  }

  /** Alarms the changes add to (or, when negative, remove from) the scope. */
  addedTo(scope: Scope): number {
    return this.addedByScope.get(scopeKey(scope)) ?? 0;
  }

  /**
   * Moves the expiry of an alarm the view shows, without a change (a re-send that changed nothing
   * else): later reads of the overlay see the new expiry; answers the alarm as extended.
   */
  extend(old: Alarm, expiresAt: number): Alarm {
    const alarm = makeAlarm({ ...old, expiresAt });
    const key = overlayKey(old, old.id, old.source);
    this.extensions.set(key, alarm);
    this.latest.set(key, alarm);
    return alarm;
  }

  /** Adds a change; its revision must follow the overlay's. The change's alarm names its scope. */
  add(change: AlarmChange): void {
    const { alarm, removed } = change;
    const old = this.get(alarm, alarm.id, alarm.source);
    const delta = removed ? (old ? -1 : 0) : old ? 0 : 1;
    if (delta !== 0) {
      const sk = scopeKey(alarm);
      this.addedByScope.set(sk, (this.addedByScope.get(sk) ?? 0) + delta);
      this.growth.alarms += delta;
    }
    this.growth.fieldsBytes += fieldsBytesDelta(old, removed ? undefined : alarm);
    this.latest.set(overlayKey(alarm, alarm.id, alarm.source), removed ? null : alarm);
    this.changes.push(change);
    this.revision = alarm.revision;
  }

  /**
   * Adds the changes of an overlay planned over this one as it stands (nothing added since), as
   * `add` would one by one, without looking each alarm up again.
   */
  absorb(planned: Overlay): void {
    if (planned.base !== this || planned.from !== this.revision) throw new Error('an overlay can only absorb one planned over it as it stands');
    for (const change of planned.changes) this.changes.push(change);
    for (const [key, alarm] of planned.latest) this.latest.set(key, alarm);
    for (const [key, alarm] of planned.extensions) this.extensions.set(key, alarm);
    for (const [sk, n] of planned.addedByScope) this.addedByScope.set(sk, (this.addedByScope.get(sk) ?? 0) + n);
    this.growth.alarms += planned.growth.alarms;
    this.growth.fieldsBytes += planned.growth.fieldsBytes;
    this.revision = planned.revision;
  }
}

/** What planning follows besides the view, the write and the time: the settings that add changes of their own. */
export interface PlanRules {
  /**
   * The watchdog (`watchdogAlerts`): alerts expected to keep arriving. The expiry of one raises
   * AlertingPipelineDown with its source, in the same commit, and its new activation clears it.
   */
  watchdogIds?: ReadonlySet<string>;
}

/**
 * Plans a write over `view` at time `now`: its changes, numbered from `view.revision + 1`, and its
 * answer (the alarms its raises, clears, acknowledgements and bulk clears leave, in order), or the
 * refusal of the whole write. Later operations of the write see the earlier ones.
 */
export function planWrite(view: AlarmView, write: WriteRequest, now: number, rules: PlanRules = {}): WritePlan {
  const error = refusal(view, write);
  if (error) return { ok: false, error };
  const planned = new Overlay(view);
  const alarms: Alarm[] = [];
  for (const op of write.ops) planOp(planned, write.scope, op, now, alarms, rules);
  return { ok: true, planned, result: { alarms, revision: planned.revision } };
}

/**
 * Why the write cannot be applied, judged on the view before any of its operations, so a write is
 * all or nothing: a clear that must find its alarm, an ack or unack of an unknown alarm, an ack
 * of a CLEARED one.
 */
function refusal(view: AlarmView, write: WriteRequest): AlarmCenterError | undefined {
  for (const op of write.ops) {
    const mustExist = (op.kind === 'clear' && op.mustExist) || op.kind === 'ack' || (op.kind === 'unack' && op.ackExpiresAt === undefined);
    if (!mustExist) continue;
    const current = view.get(write.scope, op.id, op.source);
    if (!current) {
      return new AlarmCenterError(Codes.AlarmNotFound, `alarm ${op.id} with source "${op.source}" does not exist`);
    }
    if (op.kind === 'ack' && current.status !== 'ACTIVATED') {
      return new AlarmCenterError(
        Codes.InvalidParams,
        `alarm ${op.id} with source "${op.source}" is CLEARED: only an ACTIVATED alarm can be acknowledged`,
      );
    }
  }
  return undefined;
}

/** The state without its acknowledgement: what a clear, or an unack, leaves. */
function withoutAck(a: AlarmState): AlarmState {
  return { ...a, ackedBy: undefined, ackedAt: undefined, ackComment: undefined, ackExpiresAt: undefined };
}

/** Whether a bulk clear's selector takes the alarm. */
function selects(selector: ClearSelector, a: Alarm): boolean {
  return (
    (selector.ids === undefined || selector.ids.includes(a.id)) &&
    (selector.source === undefined || selector.source === a.source) &&
    (selector.severity === undefined || selector.severity === a.severity)
  );
}

/** Plans one operation into `draft`; the alarms it leaves (or finds unchanged) go to `out`. */
function planOp(draft: Overlay, scope: Scope, op: AlarmOp, now: number, out: Alarm[], rules: PlanRules): void {
  switch (op.kind) {
    case 'clearAll':
      for (const a of draft.scopeAlarms(scope)) {
        draft.add({ action: 'clear-all', alarm: makeAlarm({ ...a, revision: draft.revision + 1 }), removed: true, at: now });
      }
      return;
    case 'clearMatching':
      for (const a of draft.scopeAlarms(scope)) {
        if (a.status === 'ACTIVATED' && selects(op.selector, a)) out.push(cleared(draft, a, 'clear', now, now));
      }
      return;
    case 'purge':
      for (const a of draft.scopeAlarms(scope)) {
        if (a.status === 'CLEARED' && (a.clearedAt ?? a.updatedAt) < op.before) {
          draft.add({ action: 'purge', alarm: makeAlarm({ ...a, revision: draft.revision + 1 }), removed: true, at: now });
        }
      }
      return;
    case 'raise': {
      const before = draft.revision;
      const alarm = raised(draft, scope, op, now);
      out.push(alarm);
      // A new activation of a watched alert: the pipeline is back.
      if (rules.watchdogIds?.has(op.id) && alarm.revision > before && alarm.count === 1) pipelineBack(draft, scope, op.source, now);
      return;
    }
    default:
      break;
  }
  const old = draft.get(scope, op.id, op.source);
  if (!old) return;
  switch (op.kind) {
    case 'clear': {
      if (old.status === 'CLEARED') {
        out.push(old);
        return;
      }
      const hasFields = op.fields !== undefined && Object.keys(op.fields).length > 0;
      out.push(cleared(draft, hasFields ? { ...old, fieldsJson: JSON.stringify(op.fields) } : old, 'clear', now, now));
      return;
    }
    case 'expire':
      // Raised again (a new expiry) or cleared since: nothing to expire.
      if (old.status !== 'ACTIVATED' || old.expiresAt !== op.expiresAt) return;
      out.push(cleared(draft, old, 'expire', op.expiresAt, now));
      if (rules.watchdogIds?.has(op.id)) pipelineDown(draft, scope, old, now);
      return;
    case 'ack':
    case 'unack':
      acknowledgement(draft, old, op, now, out);
      return;
  }
}

/**
 * Plans an ack (a new acknowledgement replaces the last one, its expiry included) or an unack:
 * asked for (an alarm not acknowledged is answered unchanged), or the expiry of one.
 */
function acknowledgement(draft: Overlay, old: Alarm, op: Extract<AlarmOp, { kind: 'ack' | 'unack' }>, now: number, out: Alarm[]): void {
  if (op.kind === 'ack') {
    const ackExpiresAt = op.ttlSeconds === undefined ? undefined : now + op.ttlSeconds * 1000;
    const state = { ...old, ackedBy: op.by, ackedAt: now, ackComment: op.comment, ackExpiresAt, updatedAt: now, revision: draft.revision + 1 };
    out.push(changed(draft, 'ack', state, now, op.by));
  } else if (op.ackExpiresAt !== undefined) {
    ackExpired(draft, old, op.ackExpiresAt, now, out);
  } else {
    out.push(old.ackedAt === undefined ? old : changed(draft, 'unack', { ...withoutAck(old), updatedAt: now, revision: draft.revision + 1 }, now));
  }
}

/**
 * Plans the expiry of an acknowledgement: withdrawn, by ACK_EXPIRED_BY, when the alarm is still
 * ACTIVATED and acknowledged with this deadline; `updatedAt` is when it ran out (later when the
 * alarm changed since), as an EXPIRE's `clearedAt` is.
 */
function ackExpired(draft: Overlay, old: Alarm, ackExpiresAt: number, now: number, out: Alarm[]): void {
  if (old.status !== 'ACTIVATED' || old.ackExpiresAt !== ackExpiresAt) return;
  const state = { ...withoutAck(old), updatedAt: Math.max(old.updatedAt, ackExpiresAt), revision: draft.revision + 1 };
  out.push(changed(draft, 'unack', state, now, ACK_EXPIRED_BY));
}

/**
 * Plans a raise: a new activation, or a re-raise of an ACTIVATED alarm (count + 1, same
 * activation), or, for a re-send that changes nothing but the expiry, an extension.
 */
function raised(draft: Overlay, scope: Scope, op: Extract<AlarmOp, { kind: 'raise' }>, now: number): Alarm {
  const old = draft.get(scope, op.id, op.source);
  const reraise = old?.status === 'ACTIVATED';
  const fieldsJson = op.fieldsJson ?? JSON.stringify(op.fields ?? {});
  const expiresAt = op.expiresAt ?? (op.ttlSeconds === undefined ? undefined : now + op.ttlSeconds * 1000);
  // A re-send that changes nothing is nothing; one that moves the expiry, an extension (one that drops it re-raises).
  if (op.resend && reraise && fieldsJson === old.fieldsJson && (op.severity ?? old.severity) === old.severity) {
    if (old.expiresAt === expiresAt) return old;
    if (expiresAt !== undefined) return draft.extend(old, expiresAt);
  }
  const names = draft.canonical(scope, op.id);
  // A re-raise is the same activation: its acknowledgement stands.
  const ack =
    reraise && old.ackedAt !== undefined
      ? { ackedBy: old.ackedBy, ackedAt: old.ackedAt, ackComment: old.ackComment, ackExpiresAt: old.ackExpiresAt }
      : {};
  return changed(
    draft,
    reraise ? 'reraise' : 'raise',
    {
      domain: names.domain,
      project: names.project,
      id: names.id,
      source: op.source,
      status: 'ACTIVATED',
      severity: op.severity ?? (reraise ? old.severity : DEFAULT_SEVERITY),
      fieldsJson,
      count: reraise ? old.count + 1 : 1,
      raisedAt: reraise ? old.raisedAt : now,
      updatedAt: now,
      revision: draft.revision + 1,
      ...ack,
      expiresAt,
    },
    now,
  );
}

/** Plans the clear of an ACTIVATED alarm at `clearedAt`: its acknowledgement and expiry end with it. */
function cleared(draft: Overlay, old: AlarmState, action: ChangeAction, clearedAt: number, now: number): Alarm {
  const state: AlarmState = { ...withoutAck(old), expiresAt: undefined, status: 'CLEARED', updatedAt: clearedAt, clearedAt, revision: draft.revision + 1 };
  return changed(draft, action, state, now);
}

/**
 * Adds the change that leaves the alarm in `state`, whose revision must be the draft's next, made
 * `by` someone when it is an acknowledgement's change; returns the alarm.
 */
function changed(draft: Overlay, action: ChangeAction, state: AlarmState, now: number, by?: string): Alarm {
  const alarm = makeAlarm(state);
  draft.add(by === undefined ? { action, alarm, removed: false, at: now } : { action, alarm, removed: false, at: now, by });
  return alarm;
}

/** The watchdog's alarm: a watched alert stopped arriving. Not part of the write's answer. */
function pipelineDown(draft: Overlay, scope: Scope, expired: Alarm, now: number): void {
  if (draft.get(scope, AlarmIds.AlertingPipelineDown, expired.source)?.status === 'ACTIVATED') return;
  const detail = `alert ${expired.id} ${expired.source} stopped arriving: expected again by ${isoTime(expired.expiresAt ?? now)}`;
  const op = { kind: 'raise', id: AlarmIds.AlertingPipelineDown, source: expired.source, severity: 'critical', fields: { detail, alert: expired.id } } as const;
  raised(draft, scope, op, now);
}

/** The watched alert arrived again: its AlertingPipelineDown clears. */
function pipelineBack(draft: Overlay, scope: Scope, source: string, now: number): void {
  const down = draft.get(scope, AlarmIds.AlertingPipelineDown, source);
  if (down?.status === 'ACTIVATED') cleared(draft, down, 'clear', now, now);
}
