import { AlarmCenterError, Codes } from '../errors.js';
import { BusError } from '../event/bus-error.js';
import type { BusService } from '../event/bus-service.js';
import { createEvent } from '../event/event.js';
import type { AlarmIndex } from './alarm-index.js';
import { historyCursor, listCursor } from './cursor.js';
import type { DueExpiry } from './expirer.js';
import { ALARM, ALARM_SUBJECT, type AlarmOp, type AlarmWrite, type ClearSelector, type WriteOutcome, type WriteResult } from './event.js';
import { selects, type AlarmSelection, type HistoryRequest, type PageRequest } from './filter.js';
import type { Alarm, Scope, ValidAlarmInput } from './model.js';
import type { AlarmStore, HistoryEntry, HistoryPage, HistoryQuery } from './store.js';

export interface AlarmServiceOptions {
  bus: BusService;
  index: AlarmIndex;
  store: AlarmStore;
}

export type { WriteResult } from './event.js';

/**
 * A read's answer: the alarms, and the store revision they reflect. A page also carries how many
 * alarms match in all, and `next`, the cursor of the following page, when more remain.
 */
export interface ListResult {
  alarms: Alarm[];
  revision: number;
  total?: number;
  next?: string;
}

/** A history read's answer, as ListResult is a list's; `revision` is the last one it may show. */
export interface HistoryResult {
  history: HistoryEntry[];
  revision: number;
  total?: number;
  next?: string;
}

/** Entries read at a time when a store without `findHistory` is filtered here. */
const SCAN_PAGE = 1000;

/** A filtered history read over a store's plain `history`, for stores without `findHistory`. */
async function scanHistory(store: AlarmStore, scope: Scope, q: HistoryQuery): Promise<HistoryPage> {
  const entries: HistoryEntry[] = [];
  let total = 0;
  const done = (): HistoryPage => (q.count ? { entries, total } : { entries });
  let since = q.count ? 0 : q.since;
  for (;;) {
    const batch = await store.history(scope, since, SCAN_PAGE);
    for (const e of batch) {
      if (e.revision > q.upTo) return done();
      if (!selects(e.alarm, q.selection)) continue;
      total += 1;
      if (e.revision > q.since && entries.length < q.limit) entries.push(e);
      if (!q.count && entries.length >= q.limit) return done();
    }
    const last = batch[batch.length - 1];
    if (batch.length < SCAN_PAGE || !last) return done();
    since = last.revision;
  }
}

function toOp(input: ValidAlarmInput): AlarmOp {
  if (input.status === 'CLEARED') {
    return { kind: 'clear', id: input.id, source: input.source, fields: input.fields, mustExist: false };
  }
  return { kind: 'raise', id: input.id, source: input.source, severity: input.severity, fields: input.fields, ttlSeconds: input.ttlSeconds };
}

/** Maps the bus's refusals onto the error catalog. */
function busRefusal(err: unknown): Error {
  if (err instanceof BusError) {
    if (err.code === 'ERR_BUS_QUEUE_FULL') {
      return new AlarmCenterError(Codes.TooManyRequests, 'the alarm write queue is full; retry later', { cause: err });
    }
    if (err.code === 'ERR_BUS_STOPPED') {
      return new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down', { cause: err });
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Alarm operations. Writes travel over the bus as ALARM events and resolve once the ALARM
 * subscriber committed them; reads are answered from the in-memory index. Inputs are expected
 * already validated (the HTTP routes and the embedding API do it with the model's schemas).
 */
export class AlarmService {
  private readonly bus: BusService;
  private readonly index: AlarmIndex;
  private readonly store: AlarmStore;

  constructor(options: AlarmServiceOptions) {
    this.bus = options.bus;
    this.index = options.index;
    this.store = options.store;
  }

  /** Applies raises and clears atomically: all are committed, or none. */
  async apply(scope: Scope, inputs: readonly ValidAlarmInput[]): Promise<WriteResult> {
    return this.write(scope, inputs.map(toOp));
  }

  /**
   * Applies operations as given, atomically (the intakes of other tools build their own, with
   * expiries and re-sends); answers the alarms they leave, in order, and the revision.
   */
  async applyOps(scope: Scope, ops: readonly AlarmOp[]): Promise<WriteResult> {
    return this.write(scope, [...ops]);
  }

  /** Raises (or re-raises) one alarm. */
  async raise(scope: Scope, input: ValidAlarmInput): Promise<Alarm> {
    const r = await this.write(scope, [toOp({ ...input, status: 'ACTIVATED' })]);
    return r.alarms[0] as Alarm;
  }

  /** Clears one alarm; 404001 when it does not exist. Clearing a CLEARED alarm changes nothing. */
  async clear(scope: Scope, id: string, source = ''): Promise<Alarm> {
    const r = await this.write(scope, [{ kind: 'clear', id, source, mustExist: true }]);
    return r.alarms[0] as Alarm;
  }

  /** Removes every alarm of the scope from the list (each removal is kept in history). */
  async clearAll(scope: Scope): Promise<{ revision: number }> {
    const r = await this.write(scope, [{ kind: 'clearAll' }]);
    return { revision: r.revision };
  }

  /**
   * Acknowledges the current activation of an ACTIVATED alarm, until `ttlSeconds` from now when
   * given (then it is withdrawn by itself); 404001 unknown, 400001 CLEARED.
   */
  async ack(scope: Scope, id: string, source: string, by: string, comment = '', ttlSeconds?: number): Promise<Alarm> {
    const op: AlarmOp = ttlSeconds === undefined ? { kind: 'ack', id, source, by, comment } : { kind: 'ack', id, source, by, comment, ttlSeconds };
    const r = await this.write(scope, [op]);
    return r.alarms[0] as Alarm;
  }

  /** Withdraws an acknowledgement; an unacknowledged alarm is answered unchanged. 404001 unknown. */
  async unack(scope: Scope, id: string, source: string): Promise<Alarm> {
    const r = await this.write(scope, [{ kind: 'unack', id, source }]);
    return r.alarms[0] as Alarm;
  }

  /** Clears every ACTIVATED alarm the selector takes, in one commit; answers the cleared alarms. */
  clearMatching(scope: Scope, selector: ClearSelector): Promise<WriteResult> {
    return this.write(scope, [{ kind: 'clearMatching', selector }]);
  }

  /**
   * Applies deadlines that passed: clears, as EXPIRE, the alarms still ACTIVATED with these
   * expiries, and withdraws the acknowledgements still standing with these deadlines.
   */
  expire(scope: Scope, due: readonly DueExpiry[]): Promise<WriteResult> {
    return this.write(
      scope,
      due.map((d): AlarmOp =>
        'expiresAt' in d
          ? { kind: 'expire', id: d.id, source: d.source, expiresAt: d.expiresAt }
          : { kind: 'unack', id: d.id, source: d.source, ackExpiresAt: d.ackExpiresAt },
      ),
    );
  }

  /** Takes out of the list the CLEARED alarms cleared before `before` (they stay in history). */
  purge(scope: Scope, before: number): Promise<WriteResult> {
    return this.write(scope, [{ kind: 'purge', before }]);
  }

  /** The selected alarms in list order (system alarms first, then by raise). */
  list(scope: Scope, selection: AlarmSelection = {}): ListResult {
    return { alarms: this.index.list(scope, selection), revision: this.index.revision };
  }

  /** A page of the selected alarms in (id, source) order, with `total` and `next`. */
  page(scope: Scope, selection: AlarmSelection, page: PageRequest): ListResult {
    const p = this.index.page(scope, selection, page);
    return { alarms: p.alarms, revision: this.index.revision, total: p.total, ...(p.next && { next: listCursor(p.next) }) };
  }

  history(scope: Scope, since: number, limit: number): Promise<HistoryEntry[]> {
    return this.store.history(scope, since, limit);
  }

  /**
   * The selected history entries after `request.since` up to revision `upTo` (what may be
   * shown), with `next` when more remain and `total` when the request asks for it.
   */
  async findHistory(scope: Scope, request: HistoryRequest, upTo: number): Promise<HistoryResult> {
    const query: HistoryQuery = { ...request, upTo, limit: request.limit + 1 };
    const found = this.store.findHistory ? await this.store.findHistory(scope, query) : await scanHistory(this.store, scope, query);
    const history = found.entries.slice(0, request.limit);
    const last = history[history.length - 1];
    return {
      history,
      revision: upTo,
      ...(request.count && { total: found.total ?? 0 }),
      ...(found.entries.length > request.limit && last && { next: historyCursor(last.revision) }),
    };
  }

  /**
   * Reads the changes other replicas committed to a shared store into this one (its index, its
   * watchers); resolves with the revision reached. Writes queued before it are committed first.
   */
  async sync(): Promise<number> {
    const r = await this.write({ domain: '', project: '' }, [], true);
    return r.revision;
  }

  private async write(scope: Scope, ops: AlarmOp[], sync = false): Promise<WriteResult> {
    // Declared wide: it is set by the reply, which control-flow analysis does not follow.
    let outcome = undefined as WriteOutcome | undefined;
    const payload: AlarmWrite = { scope, ops, reply: (o) => (outcome = o), ...(sync && { sync }) };
    let result;
    try {
      result = await this.bus.fire(createEvent(ALARM, ALARM_SUBJECT, '', payload));
    } catch (err) {
      throw busRefusal(err);
    }
    if (result.status === 'no-subscriber') {
      throw new AlarmCenterError(Codes.Unavailable, 'no alarm subscriber is attached');
    }
    if (!outcome) throw new AlarmCenterError(Codes.Internal, 'the alarm write was not handled');
    if (!outcome.ok) throw outcome.error;
    await outcome.durable;
    return { alarms: outcome.alarms, revision: outcome.revision };
  }
}
