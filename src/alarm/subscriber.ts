import type { Logger } from 'winston';
import { AlarmCenterError, Codes } from '../errors.js';
import type { BusEvent } from '../event/event.js';
import type { Subscriber } from '../event/subscriber.js';
import type { AlarmIndex } from './alarm-index.js';
import { ALARM, ALARM_SUBJECT, type AlarmOp, type AlarmWrite, type WriteResult } from './event.js';
import type { AlarmLimit, AlarmMetrics } from './metrics.js';
import { AlarmIds, makeAlarm, SELF_SOURCE, alarmKey, type Alarm, type AlarmChange, type ChangeAction } from './model.js';
import { Overlay, planWrite, type Growth, type PlanRules } from './planner.js';
import { StoreConflict, type AlarmKey, type AlarmStore, type ExpiryExtension, type StoreFailure } from './store.js';

/**
 * Commits of one batch tried before conflicts with other writers fail its writes. Each conflict
 * brings the replica up to date, so a batch loses only to a commit made in the short time
 * between its catch-up and its own commit; after a few losses in a row it waits a moment, a
 * random few milliseconds, so replicas writing at once do not keep colliding.
 */
const MAX_ATTEMPTS = 50;
/** Changes of other writers read at a time. */
const CATCH_UP_PAGE = 1000;

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
  /** Called with the alarms whose expiry moved without a change (re-sends), as the index holds them now. */
  onExtended?: (alarms: readonly Alarm[]) => void;
  /** Most alarms one domain/project may hold; 0 is no limit. A write past it is refused whole. */
  maxAlarmsPerScope?: number;
  /** Most alarms all scopes together may hold; 0 is no limit. A write past it is refused whole. */
  maxAlarms?: number;
  /**
   * Most bytes of fields (`fieldsBytesOf`) all alarms together may hold; 0 is no limit. A write
   * that would add bytes past it is refused whole.
   */
  maxFieldsBytes?: number;
  /** Alerts whose expiry raises AlertingPipelineDown in the same commit (`watchdogAlerts`; see PlanRules). */
  watchdogAlerts?: readonly string[];
}

/**
 * Whether the operation carries its alarm's expiry over from this replica's index (an expiry, an
 * acknowledgement or its withdrawal), so a move another replica made must be read first.
 */
function keepsExpiry(op: AlarmOp): op is Extract<AlarmOp, { kind: 'expire' | 'ack' | 'unack' }> {
  return op.kind === 'expire' || op.kind === 'ack' || op.kind === 'unack';
}

/** The stored form of an alarm whose expiry a re-send moved. */
function extensionOf(a: Alarm): ExpiryExtension {
  return { domain: a.domain, project: a.project, id: a.id, source: a.source, revision: a.revision, expiresAt: a.expiresAt ?? 0 };
}

/**
 * The ALARM subscriber: plans each write (planner.ts) over the changes of the writes before it in
 * the batch, checks the quotas, commits every accepted write of a dispatcher turn in one store
 * transaction (group commit), then updates the index and replies each write's outcome. A store
 * failure fails the turn's writes, raises Alarm Center's own BackendConnectionRefuse alarm, and
 * the next successful commit clears it. It never throws, so a failing store does not get it
 * evicted from the bus.
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
  private readonly onExtended: ((alarms: readonly Alarm[]) => void) | undefined;
  private readonly maxAlarmsPerScope: number;
  private readonly maxAlarms: number;
  private readonly maxFieldsBytes: number;
  private readonly rules: PlanRules;
  /** The store's last failure, until a commit succeeds. */
  storeFailure: StoreFailure | undefined;

  constructor(options: AlarmSubscriberOptions) {
    this.store = options.store;
    this.index = options.index;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.clock = options.clock ?? Date.now;
    this.onDurable = options.onDurable;
    this.onExtended = options.onExtended;
    this.maxAlarmsPerScope = options.maxAlarmsPerScope ?? 0;
    this.maxAlarms = options.maxAlarms ?? 0;
    this.maxFieldsBytes = options.maxFieldsBytes ?? 0;
    this.rules = options.watchdogAlerts?.length ? { watchdogIds: new Set(options.watchdogAlerts) } : {};
    // A failure the store finds without a write (its file deleted) is reported as a commit's would be.
    this.store.onFailure?.((error) => this.onStoreFailure(error));
  }

  onMessage(event: BusEvent<AlarmWrite>): Promise<void> {
    return this.onBatch([event]);
  }

  async onBatch(events: BusEvent<AlarmWrite>[]): Promise<void> {
    const writes = events.map((e) => e.payload);
    // A shared store: read what other replicas committed first when asked to, then whenever a
    // commit finds that another writer committed first, and plan the batch again.
    let behind = this.store.changesAfter !== undefined && writes.some((w) => w.sync);
    // Another replica may have moved an expiry this one is about to act on or carry over: read it first.
    let expiring = this.store.expiryExtensions !== undefined && writes.some((w) => w.ops.some(keepsExpiry));
    for (let attempt = 1; ; attempt += 1) {
      if (behind || expiring) {
        try {
          if (behind) await this.catchUp();
          if (expiring) await this.readExtensions(writes);
          expiring = false;
        } catch (err) {
          const answer = this.failed(err);
          for (const w of writes) w.reply({ ok: false, error: answer });
          return;
        }
      }
      const turn = await this.commitTurn(writes, attempt < MAX_ATTEMPTS);
      if (turn !== 'conflict') return;
      this.metrics.conflicted();
      behind = true;
      if (attempt >= 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 20)));
    }
  }

  /**
   * Plans and commits one turn's writes and replies to each, or answers `conflict` (replying to
   * none) when `mayRetry` and another writer committed first.
   */
  private async commitTurn(writes: readonly AlarmWrite[], mayRetry: boolean): Promise<'done' | 'conflict'> {
    const batch = new Overlay(this.index);
    const accepted: { write: AlarmWrite; result: WriteResult }[] = [];
    const refused: { write: AlarmWrite; error: Error }[] = [];
    for (const write of writes) {
      if (write.sync) {
        accepted.push({ write, result: { alarms: [], revision: this.index.revision } });
        continue;
      }
      const plan = planWrite(batch, write, this.clock(), this.rules);
      if (!plan.ok) {
        refused.push({ write, error: plan.error });
        continue;
      }
      // The global limits are checked on the planned changes, so clear-alls, removals and fields
      // replaced by a re-raise count exactly; a refused write's changes never join the batch.
      const over = this.overQuota(batch, write) ?? this.overGlobalLimits(batch, plan.planned.growth);
      if (over) {
        refused.push({ write, error: over });
        continue;
      }
      batch.absorb(plan.planned);
      accepted.push({ write, result: plan.result });
    }
    const { changes } = batch;
    const extensions = [...batch.extensions.values()];
    let durable: Promise<void> = Promise.resolve();
    // A write that changes nothing still commits (nothing): its answer waits for what it saw to be durable.
    if (accepted.some((a) => !a.write.sync)) {
      try {
        ({ durable } = await this.commit(changes, extensions.map(extensionOf)));
      } catch (err) {
        if (err instanceof StoreConflict && mayRetry) return 'conflict';
        // Losing every race is no failure of the store: the writes are refused, the store stays healthy.
        const answer =
          err instanceof StoreConflict
            ? new AlarmCenterError(Codes.Unavailable, `other replicas committed first ${MAX_ATTEMPTS} times in a row; retry`, { cause: err })
            : this.failed(err);
        for (const r of refused) r.write.reply({ ok: false, error: r.error });
        for (const a of accepted) a.write.reply({ ok: false, error: answer });
        return 'done';
      }
    }
    for (const r of refused) r.write.reply({ ok: false, error: r.error });
    if (accepted.length === 0) return 'done';
    // Visible now, acknowledged once durable: the next batch may commit while this one flushes.
    this.index.apply(changes);
    this.extended(extensions);
    this.countChanges(changes);
    const acknowledged = durable.then(
      () => {
        if (this.onDurable && changes.length > 0) this.publish(changes);
        // A write that changed nothing committed nothing, so it proves nothing about the store.
        if (this.storeFailure && changes.length > 0) this.onStoreRecovered();
      },
      (err: unknown) => {
        throw this.failed(err);
      },
    );
    acknowledged.catch(() => undefined);
    for (const a of accepted) a.write.reply({ ok: true, ...a.result, durable: acknowledged });
    return 'done';
  }

  /**
   * Applies the changes other writers committed to a shared store after the index's revision:
   * to the index, then to the feed and the expirer, as this replica's own durable changes are.
   */
  private async catchUp(): Promise<void> {
    const read = this.store.changesAfter;
    if (!read) return;
    for (;;) {
      const changes = await read.call(this.store, this.index.revision, CATCH_UP_PAGE);
      if (changes.length === 0) return;
      this.index.apply(changes);
      this.publish(changes);
      if (this.storeFailure) this.onStoreRecovered();
      if (changes.length < CATCH_UP_PAGE) return;
    }
  }

  /** Commits, using the store's pipelined commit when it has one; resolves with durability. */
  private async commit(changes: readonly AlarmChange[], extensions: readonly ExpiryExtension[]): Promise<{ durable: Promise<void> }> {
    if (this.store.commitPipelined) return this.store.commitPipelined(changes, extensions);
    await this.store.commit(changes, extensions);
    return { durable: Promise.resolve() };
  }

  /** Applies expiry extensions to the index, and tells of those that still applied. */
  private extended(extensions: Iterable<Alarm>): void {
    const applied = this.index.extend(extensions);
    if (applied.length > 0) this.onExtended?.(applied);
  }

  /**
   * Applies the stored extensions of the alarms the writes would expire, acknowledge or withdraw the
   * acknowledgement of (a shared store: another replica's), so their changes keep the moved expiry.
   */
  private async readExtensions(writes: readonly AlarmWrite[]): Promise<void> {
    const keys: AlarmKey[] = [];
    for (const w of writes) for (const op of w.ops) if (keepsExpiry(op)) keys.push({ ...w.scope, id: op.id, source: op.source });
    const found = await this.store.expiryExtensions?.(keys);
    if (!found?.length) return;
    this.extended(found.map((e) => {
      const current = this.index.get(e, e.id, e.source);
      return current ? makeAlarm({ ...current, revision: e.revision, expiresAt: e.expiresAt }) : undefined;
    }).filter((a): a is Alarm => a !== undefined));
  }

  /** Records a store failure and returns the error to answer the failed writes with. */
  private failed(err: unknown): AlarmCenterError {
    if (err instanceof AlarmCenterError) return err;
    const error = err instanceof Error ? err : new Error(String(err));
    this.onStoreFailure(error);
    return new AlarmCenterError(Codes.Unavailable, `store unavailable: ${error.message}`, { cause: error });
  }

  /** 429002 when the write's new alarms would take its scope, as `batch` leaves it, past `maxAlarmsPerScope`. */
  private overQuota(batch: Overlay, write: AlarmWrite): Error | undefined {
    const max = this.maxAlarmsPerScope;
    if (max === 0) return undefined;
    const held = this.index.scopeSize(write.scope) + batch.addedTo(write.scope);
    // Far from the limit (nearly always), even a write of only new alarms fits: nothing to count.
    if (held + write.ops.length <= max) return undefined;
    const fresh = new Set<string>();
    for (const op of write.ops) {
      if (op.kind === 'raise' && !batch.get(write.scope, op.id, op.source)) fresh.add(alarmKey(op.id, op.source));
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
   * 429002 when a write growing the alarms by `growth` over `batch` takes them past `maxAlarms`,
   * or their fields past `maxFieldsBytes`, in all scopes. A write that adds nothing (a clear, a
   * smaller re-raise) passes even when the index is over a limit (lowered since the alarms were
   * stored), so it can shrink.
   */
  private overGlobalLimits(batch: Overlay, growth: Growth): Error | undefined {
    const over = (limit: AlarmLimit, detail: string) => {
      this.metrics.refused(limit);
      return new AlarmCenterError(Codes.QuotaExceeded, detail);
    };
    if (this.maxAlarms > 0 && growth.alarms > 0 && this.index.size + batch.growth.alarms + growth.alarms > this.maxAlarms) {
      return over('maxAlarms', `alarms: more than ${this.maxAlarms} alarms in all (maxAlarms)`);
    }
    const max = this.maxFieldsBytes;
    if (max > 0 && growth.fieldsBytes > 0 && this.index.fieldsBytes + batch.growth.fieldsBytes + growth.fieldsBytes > max) {
      return over('maxFieldsBytes', `fields: more than ${max} bytes of fields in all alarms (maxFieldsBytes)`);
    }
    return undefined;
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
