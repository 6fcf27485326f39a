import type { Logger } from 'winston';
import { AlarmCenterError, Codes } from '../errors.js';
import type { BusEvent } from '../event/event.js';
import type { Subscriber } from '../event/subscriber.js';
import { fieldsBytesDelta, type AlarmIndex } from './alarm-index.js';
import { ALARM, ALARM_SUBJECT, type AlarmOp, type AlarmWrite, type ClearSelector } from './event.js';
import type { AlarmLimit, AlarmMetrics } from './metrics.js';
import {
  AlarmIds,
  DEFAULT_SEVERITY,
  makeAlarm,
  SELF_SOURCE,
  alarmKey,
  scopeKey,
  type Alarm,
  type AlarmChange,
  type AlarmState,
  type ChangeAction,
  type Scope,
} from './model.js';
import type { AlarmStore, StoreFailure } from './store.js';

export interface AlarmSubscriberOptions {
  store: AlarmStore;
  index: AlarmIndex;
  logger: Logger;
  metrics: AlarmMetrics;
  clock?: () => number;
  /**
   * Called with each committed batch's changes once they are durable, in revision order: the
   * feed of history readers and watchers, which never see a change that could still be lost.
   */
  onDurable?: (changes: readonly AlarmChange[]) => void;
  /** Most alarms one domain/project may hold; 0 is no limit. A write past it is refused whole. */
  maxAlarmsPerScope?: number;
  /** Most alarms all scopes together may hold; 0 is no limit. A write past it is refused whole. */
  maxAlarms?: number;
  /**
   * Most bytes of fields (`fieldsBytesOf`) all alarms together may hold; 0 is no limit. A write
   * that would add bytes past it is refused whole.
   */
  maxFieldsBytes?: number;
}

interface Staged {
  scope: Scope;
  alarm: Alarm | null;
}

/** Where a Stage stood before a write was planned, to take the write back out whole. */
interface StageMark {
  changes: number;
  revision: number;
  alarms: number;
  fieldsBytes: number;
  scopeKey: string;
  scopeAdded: number | undefined;
}

/** The state without its acknowledgement: what a clear, or an unack, leaves. */
function withoutAck(a: AlarmState): AlarmState {
  return { ...a, ackedBy: undefined, ackedAt: undefined, ackComment: undefined };
}

/** Whether a bulk clear's selector takes the alarm. */
function selects(selector: ClearSelector, a: Alarm): boolean {
  return (
    (selector.ids === undefined || selector.ids.includes(a.id)) &&
    (selector.source === undefined || selector.source === a.source) &&
    (selector.severity === undefined || selector.severity === a.severity)
  );
}

/** The key of an alarm among a batch's staged changes. */
function stageKey(scope: Scope, id: string, source: string): string {
  return `${scopeKey(scope)}\u0000${alarmKey(id, source)}`;
}

/** Changes of the writes of one batch, staged over the index until the commit succeeds. */
class Stage {
  readonly changes: AlarmChange[] = [];
  readonly entries = new Map<string, Staged>();
  /** Alarms the batch added to (or, when negative, removed from) each scope so far. */
  readonly added = new Map<string, number>();
  /** Alarms the batch added to (or, when negative, removed from) all scopes so far. */
  alarms = 0;
  /** Bytes of fields the batch added to (or, when negative, freed from) all alarms so far. */
  fieldsBytes = 0;
  revision: number;
  /** The entries the current write replaced, key then previous value, for `rollback`. */
  private readonly undo: [string, Staged | undefined][] = [];

  constructor(private readonly index: AlarmIndex) {
    this.revision = index.revision;
  }

  current(scope: Scope, id: string, source: string): Alarm | undefined {
    return this.lookup(stageKey(scope, id, source), scope, id, source);
  }

  private lookup(key: string, scope: Scope, id: string, source: string): Alarm | undefined {
    const staged = this.entries.get(key);
    if (staged) return staged.alarm ?? undefined;
    return this.index.get(scope, id, source);
  }

  /** Every alarm of the scope as the batch has it so far. */
  scopeAlarms(scope: Scope): Alarm[] {
    const seen = new Set<string>();
    const out: Alarm[] = [];
    const sk = scopeKey(scope);
    for (const a of this.index.scopeAlarms(scope)) {
      const key = alarmKey(a.id, a.source);
      seen.add(key);
      const now = this.current(scope, a.id, a.source);
      if (now) out.push(now);
    }
    for (const s of this.entries.values()) {
      if (!s.alarm || scopeKey(s.scope) !== sk || seen.has(alarmKey(s.alarm.id, s.alarm.source))) continue;
      out.push(s.alarm);
    }
    return out;
  }

  /** How many alarms the scope holds with the batch's changes so far. */
  size(scope: Scope): number {
    return this.index.scopeSize(scope) + (this.added.get(scopeKey(scope)) ?? 0);
  }

  push(scope: Scope, action: ChangeAction, alarm: Alarm, removed: boolean, at: number): void {
    const key = stageKey(scope, alarm.id, alarm.source);
    const old = this.lookup(key, scope, alarm.id, alarm.source);
    const delta = removed ? (old ? -1 : 0) : old ? 0 : 1;
    if (delta !== 0) this.added.set(scopeKey(scope), (this.added.get(scopeKey(scope)) ?? 0) + delta);
    this.alarms += delta;
    this.fieldsBytes += fieldsBytesDelta(old, removed ? undefined : alarm);
    this.changes.push({ action, alarm, removed, at });
    this.undo.push([key, this.entries.get(key)]);
    this.entries.set(key, { scope, alarm: removed ? null : alarm });
    this.revision = alarm.revision;
  }

  /** Marks where the stage stands before a write of `scope` is planned; `rollback` returns here. */
  mark(scope: Scope): StageMark {
    this.undo.length = 0;
    const sk = scopeKey(scope);
    return {
      changes: this.changes.length,
      revision: this.revision,
      alarms: this.alarms,
      fieldsBytes: this.fieldsBytes,
      scopeKey: sk,
      scopeAdded: this.added.get(sk),
    };
  }

  /** Takes back every change staged since `mark`: the write leaves nothing in the batch. */
  rollback(mark: StageMark): void {
    for (let i = this.undo.length - 1; i >= 0; i -= 1) {
      const [key, previous] = this.undo[i] as [string, Staged | undefined];
      if (previous) this.entries.set(key, previous);
      else this.entries.delete(key);
    }
    this.undo.length = 0;
    this.changes.length = mark.changes;
    this.revision = mark.revision;
    this.alarms = mark.alarms;
    this.fieldsBytes = mark.fieldsBytes;
    if (mark.scopeAdded === undefined) this.added.delete(mark.scopeKey);
    else this.added.set(mark.scopeKey, mark.scopeAdded);
  }
}

/**
 * The ALARM subscriber: turns each write into changes (DESIGN §2 semantics), commits every write
 * of a dispatcher turn in one store transaction (group commit), then updates the index and reports
 * each write's outcome in its payload. A store failure fails the turn's writes, raises Alarm
 * Center's own BackendConnectionRefuse alarm, and the next successful commit clears it.
 * It never throws, so a failing store does not get it evicted from the bus.
 */
export class AlarmSubscriber implements Subscriber<AlarmWrite> {
  readonly id = 'alarm-subscriber';
  readonly type = ALARM;
  readonly subject = ALARM_SUBJECT;
  readonly group = 'alarm-store';
  private readonly store: AlarmStore;
  private readonly index: AlarmIndex;
  private readonly logger: Logger;
  private readonly metrics: AlarmMetrics;
  private readonly clock: () => number;
  private readonly onDurable: ((changes: readonly AlarmChange[]) => void) | undefined;
  private readonly maxAlarmsPerScope: number;
  private readonly maxAlarms: number;
  private readonly maxFieldsBytes: number;
  /** The store's last failure, until a commit succeeds. */
  storeFailure: StoreFailure | undefined;

  constructor(options: AlarmSubscriberOptions) {
    this.store = options.store;
    this.index = options.index;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.clock = options.clock ?? Date.now;
    this.onDurable = options.onDurable;
    this.maxAlarmsPerScope = options.maxAlarmsPerScope ?? 0;
    this.maxAlarms = options.maxAlarms ?? 0;
    this.maxFieldsBytes = options.maxFieldsBytes ?? 0;
    // A failure the store finds without a write (its file deleted) is reported as a commit's would be.
    this.store.onFailure?.((error) => this.onStoreFailure(error));
  }

  onMessage(event: BusEvent<AlarmWrite>): Promise<void> {
    return this.onBatch([event]);
  }

  async onBatch(events: BusEvent<AlarmWrite>[]): Promise<void> {
    const stage = new Stage(this.index);
    const accepted: { write: AlarmWrite; alarms: Alarm[]; revision: number }[] = [];
    for (const event of events) {
      const write = event.payload;
      const refusal = this.refusal(stage, write);
      if (refusal) {
        write.outcome = { ok: false, error: refusal };
        continue;
      }
      // The global limits are checked on the planned changes, so clear-alls, removals and fields
      // replaced by a re-raise count exactly; a write past one is taken back out whole.
      const mark = stage.mark(write.scope);
      const alarms = this.plan(stage, write);
      const over = this.overGlobalLimits(stage, mark);
      if (over) {
        stage.rollback(mark);
        write.outcome = { ok: false, error: over };
        continue;
      }
      accepted.push({ write, alarms, revision: stage.revision });
    }
    if (accepted.length === 0) return;
    let durable: Promise<void>;
    try {
      ({ durable } = await this.commit(stage.changes));
    } catch (err) {
      const answer = this.failed(err);
      for (const a of accepted) a.write.outcome = { ok: false, error: answer };
      return;
    }
    // Visible now, acknowledged once durable: the next batch may commit while this one flushes.
    this.index.apply(stage.changes);
    this.countChanges(stage.changes);
    const acknowledged = durable.then(
      () => {
        if (this.onDurable && stage.changes.length > 0) this.publish(stage.changes);
        // A write that changed nothing committed nothing, so it proves nothing about the store.
        if (this.storeFailure && stage.changes.length > 0) this.onStoreRecovered();
      },
      (err: unknown) => {
        throw this.failed(err);
      },
    );
    acknowledged.catch(() => undefined);
    for (const a of accepted) a.write.outcome = { ok: true, alarms: a.alarms, revision: a.revision, durable: acknowledged };
  }

  /** Commits, using the store's pipelined commit when it has one; resolves with durability. */
  private async commit(changes: readonly AlarmChange[]): Promise<{ durable: Promise<void> }> {
    if (this.store.commitPipelined) return this.store.commitPipelined(changes);
    await this.store.commit(changes);
    return { durable: Promise.resolve() };
  }

  /** Records a store failure and returns the error to answer the failed writes with. */
  private failed(err: unknown): AlarmCenterError {
    if (err instanceof AlarmCenterError) return err;
    const error = err instanceof Error ? err : new Error(String(err));
    this.onStoreFailure(error);
    return new AlarmCenterError(Codes.Unavailable, `store unavailable: ${error.message}`, { cause: error });
  }

  /**
   * Why the write cannot be applied, checked before any of its changes is staged so a write is
   * all or nothing: a clear that must find its alarm, against the state before the write.
   */
  private refusal(stage: Stage, write: AlarmWrite): Error | undefined {
    for (const op of write.ops) {
      const mustExist = (op.kind === 'clear' && op.mustExist) || op.kind === 'ack' || op.kind === 'unack';
      if (!mustExist) continue;
      const current = stage.current(write.scope, op.id, op.source);
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
    return this.overQuota(stage, write);
  }

  /** 429002 when the write's new alarms would take its scope past `maxAlarmsPerScope`. */
  private overQuota(stage: Stage, write: AlarmWrite): Error | undefined {
    const max = this.maxAlarmsPerScope;
    if (max === 0) return undefined;
    const held = stage.size(write.scope);
    // Far from the limit (nearly always), even a write of only new alarms fits: nothing to count.
    if (held + write.ops.length <= max) return undefined;
    const fresh = new Set<string>();
    for (const op of write.ops) {
      if (op.kind === 'raise' && !stage.current(write.scope, op.id, op.source)) fresh.add(alarmKey(op.id, op.source));
    }
    if (held + fresh.size <= max) return undefined;
    const { domain, project } = write.scope;
    this.metrics.refused('maxAlarmsPerScope');
    return new AlarmCenterError(
      Codes.QuotaExceeded,
      `domain ${domain}, project ${project} holds ${held} alarms; ${fresh.size} more would pass the limit of ${max}`,
    );
  }

  /**
   * 429002 when the write staged since `mark` adds alarms past `maxAlarms` or bytes of fields past
   * `maxFieldsBytes` in all scopes. A write that adds nothing (a clear, a smaller re-raise) passes
   * even when the index is over a limit (lowered since the alarms were stored), so it can shrink.
   */
  private overGlobalLimits(stage: Stage, mark: StageMark): Error | undefined {
    const over = (limit: AlarmLimit, detail: string) => {
      this.metrics.refused(limit);
      return new AlarmCenterError(Codes.QuotaExceeded, detail);
    };
    if (this.maxAlarms > 0 && stage.alarms > mark.alarms && this.index.size + stage.alarms > this.maxAlarms) {
      return over('maxAlarms', `alarms: more than ${this.maxAlarms} alarms in all (maxAlarms)`);
    }
    const max = this.maxFieldsBytes;
    if (max > 0 && stage.fieldsBytes > mark.fieldsBytes && this.index.fieldsBytes + stage.fieldsBytes > max) {
      return over('maxFieldsBytes', `fields: more than ${max} bytes of fields in all alarms (maxFieldsBytes)`);
    }
    return undefined;
  }

  /** Stages the write's changes; returns the alarms it leaves (raises and clears, in order). */
  private plan(stage: Stage, write: AlarmWrite): Alarm[] {
    const now = this.clock();
    const out: Alarm[] = [];
    for (const op of write.ops) this.planOp(stage, write.scope, op, now, out);
    return out;
  }

  /** Stages one operation; the alarms it leaves (or finds unchanged) go to `out`. */
  private planOp(stage: Stage, scope: Scope, op: AlarmOp, now: number, out: Alarm[]): void {
    switch (op.kind) {
      case 'clearAll':
        for (const a of stage.scopeAlarms(scope)) {
          stage.push(scope, 'clear-all', makeAlarm({ ...a, revision: stage.revision + 1 }), true, now);
        }
        return;
      case 'clearMatching':
        for (const a of stage.scopeAlarms(scope)) {
          if (a.status === 'ACTIVATED' && selects(op.selector, a)) out.push(this.cleared(stage, scope, a, 'clear', now, now));
        }
        return;
      case 'purge':
        for (const a of stage.scopeAlarms(scope)) {
          if (a.status === 'CLEARED' && (a.clearedAt ?? a.updatedAt) < op.before) {
            stage.push(scope, 'purge', makeAlarm({ ...a, revision: stage.revision + 1 }), true, now);
          }
        }
        return;
      default:
        break;
    }
    const old = stage.current(scope, op.id, op.source);
    if (op.kind === 'raise') {
      const reraise = old?.status === 'ACTIVATED';
      const names = this.index.canonical(scope, op.id);
      // A re-raise is the same activation: its acknowledgement stands.
      const ack = reraise && old.ackedAt !== undefined ? { ackedBy: old.ackedBy, ackedAt: old.ackedAt, ackComment: old.ackComment } : {};
      const alarm = makeAlarm({
        domain: names.domain,
        project: names.project,
        id: names.id,
        source: op.source,
        status: 'ACTIVATED',
        severity: op.severity ?? (reraise ? old.severity : DEFAULT_SEVERITY),
        fieldsJson: JSON.stringify(op.fields),
        count: reraise ? old.count + 1 : 1,
        raisedAt: reraise ? old.raisedAt : now,
        updatedAt: now,
        revision: stage.revision + 1,
        ...ack,
        expiresAt: op.ttlSeconds === undefined ? undefined : now + op.ttlSeconds * 1000,
      });
      stage.push(scope, reraise ? 'reraise' : 'raise', alarm, false, now);
      out.push(alarm);
      return;
    }
    if (!old) return;
    switch (op.kind) {
      case 'clear': {
        if (old.status === 'CLEARED') {
          out.push(old);
          return;
        }
        const hasFields = op.fields !== undefined && Object.keys(op.fields).length > 0;
        out.push(this.cleared(stage, scope, hasFields ? { ...old, fieldsJson: JSON.stringify(op.fields) } : old, 'clear', now, now));
        return;
      }
      case 'expire':
        // Raised again (a new expiry) or cleared since: nothing to expire.
        if (old.status === 'ACTIVATED' && old.expiresAt === op.expiresAt) out.push(this.cleared(stage, scope, old, 'expire', op.expiresAt, now));
        return;
      case 'ack': {
        const alarm = makeAlarm({ ...old, ackedBy: op.by, ackedAt: now, ackComment: op.comment, updatedAt: now, revision: stage.revision + 1 });
        stage.push(scope, 'ack', alarm, false, now);
        out.push(alarm);
        return;
      }
      case 'unack': {
        if (old.ackedAt === undefined) {
          out.push(old);
          return;
        }
        const alarm = makeAlarm({ ...withoutAck(old), updatedAt: now, revision: stage.revision + 1 });
        stage.push(scope, 'unack', alarm, false, now);
        out.push(alarm);
        return;
      }
    }
  }

  /** Stages the clear of an ACTIVATED alarm at `clearedAt`: its acknowledgement and expiry end with it. */
  private cleared(stage: Stage, scope: Scope, old: AlarmState, action: ChangeAction, clearedAt: number, now: number): Alarm {
    const alarm = makeAlarm({
      ...withoutAck(old),
      expiresAt: undefined,
      status: 'CLEARED',
      updatedAt: clearedAt,
      clearedAt,
      revision: stage.revision + 1,
    });
    stage.push(scope, action, alarm, false, now);
    return alarm;
  }

  /** Hands durable changes to the feed; a failing feed must not fail the acknowledged writes. */
  private publish(changes: readonly AlarmChange[]): void {
    try {
      this.onDurable?.(changes);
    } catch (err) {
      this.logger.error('change feed failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private countChanges(changes: readonly AlarmChange[]): void {
    if (changes.length === 0) return;
    const byAction = new Map<ChangeAction, number>();
    for (const c of changes) byAction.set(c.action, (byAction.get(c.action) ?? 0) + 1);
    for (const [action, n] of byAction) this.metrics.changed(action, n);
  }

  private onStoreFailure(error: Error): void {
    const code = (error as { backendCode?: string }).backendCode ?? 'UNKNOWN';
    this.metrics.storeFailed(code);
    this.logger.error('store commit failed', { error: error.message, code });
    const now = this.clock();
    this.storeFailure = { error, at: now };
    const old = this.index.getSystem(AlarmIds.BackendConnectionRefuse, SELF_SOURCE);
    const active = old?.status === 'ACTIVATED';
    this.index.setSystem(makeAlarm({
      domain: '',
      project: '',
      id: AlarmIds.BackendConnectionRefuse,
      source: SELF_SOURCE,
      status: 'ACTIVATED',
      severity: 'critical',
      fieldsJson: JSON.stringify({ detail: error.message }),
      count: active ? old.count + 1 : 1,
      raisedAt: active ? old.raisedAt : now,
      updatedAt: now,
      revision: 0,
    }));
  }

  private onStoreRecovered(): void {
    this.logger.info('store recovered', { error: this.storeFailure?.error.message });
    this.storeFailure = undefined;
    const old = this.index.getSystem(AlarmIds.BackendConnectionRefuse, SELF_SOURCE);
    if (old?.status !== 'ACTIVATED') return;
    const now = this.clock();
    this.index.setSystem(makeAlarm({ ...old, status: 'CLEARED', updatedAt: now, clearedAt: now }));
  }
}
