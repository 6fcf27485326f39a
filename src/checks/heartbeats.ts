/**
 * Heartbeats (dead-man switches): a job beats by PUT; when no beat arrives within its timeout,
 * HeartbeatMissing is raised with the heartbeat's name as source, and the next beat clears it.
 *
 * - Stored: settings, last beat and deadline live in the store (shared by replicas), so a restart
 *   judges each heartbeat from its stored beat; a grace of one timeout from start-up keeps a
 *   restart alone (or a long stop) from raising every heartbeat at once.
 * - Judged by polling the store every `tickMs` for heartbeats due, only where the jobs lease is
 *   held, so a beat taken by any replica counts, and one raise per lapse is written whichever
 *   replica judges.
 * - A raise and a beat racing each other: the judge raises, then marks the lapse raised only if
 *   the stored beat is still the one it judged (else it clears what it raised); a beat resets the
 *   mark and clears the alarm when it was marked or is ACTIVATED. The judge raises only an alarm
 *   not ACTIVATED already, after catching up with the store when it takes the lease over, so a
 *   takeover neither loses nor repeats a raise.
 * - Raises and clears go through the alarm service like any write (history, watchers, webhooks).
 */
import type { Logger } from 'winston';
import { isoTime, type Alarm, type Scope, type Severity, type ValidAlarmInput } from '../alarm/model.js';
import type { HeartbeatKey, HeartbeatSettings, HeartbeatStore, Lease, StoredHeartbeat } from '../alarm/store.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { noopCheckMetrics, type CheckMetrics } from './metrics.js';
import { secondsText } from './probe.js';

/** The id of the alarm a lapsed heartbeat raises. */
export const HEARTBEAT_MISSING = 'HeartbeatMissing';

/** What heartbeats write and read of the alarms. */
export interface HeartbeatAlarms {
  apply(scope: Scope, inputs: readonly ValidAlarmInput[]): Promise<unknown>;
  /** Catches up with the changes other replicas committed; absent when no other replica writes. */
  sync?(): Promise<number>;
}

export interface HeartbeatsOptions {
  store: HeartbeatStore;
  alarms: HeartbeatAlarms;
  index: { get(scope: Scope, id: string, source: string): Alarm | undefined };
  logger: Logger;
  metrics?: CheckMetrics;
  /** With replicas, the jobs lease: heartbeats are judged only while it is held. */
  lease?: Lease;
  clock?: () => number;
  /** How often the store is asked for heartbeats due (default 250 ms). */
  tickMs?: number;
  /** Most heartbeats judged per tick (default 1,000). */
  batch?: number;
}

/** A beat's or a registration's settings as a client gives them; those left out are kept. */
export interface HeartbeatInput {
  timeoutSeconds?: number;
  severity?: Severity;
  fields?: Record<string, unknown>;
}

/** `ok`: its deadline is ahead; `late`: passed, not raised yet (grace, or judged soon); `missing`: HeartbeatMissing raised. */
export type HeartbeatState = 'ok' | 'late' | 'missing';

/** A heartbeat as answered: stored, with its state now. */
export interface HeartbeatStatus {
  heartbeat: StoredHeartbeat;
  state: HeartbeatState;
}

/** The detail of a lapsed heartbeat's alarm: when it last beat. */
export function missingDetail(h: Pick<StoredHeartbeat, 'lastBeat' | 'timeoutMs'>): string {
  return `no beat since ${isoTime(h.lastBeat)} (timeout ${secondsText(h.timeoutMs)})`;
}

const keyOf = (scope: Scope, name: string): HeartbeatKey => ({ domain: scope.domain, project: scope.project, name });

/** Registers, beats, lists and removes heartbeats, and judges them while leading. */
export class Heartbeats {
  private readonly o: HeartbeatsOptions;
  private readonly clock: () => number;
  private readonly metrics: CheckMetrics;
  /** When this process started judging: the grace runs one timeout from here. */
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private passing: Promise<void> | undefined;
  /** Caught up with the store since the lease was last taken. */
  private caughtUp = false;
  private closed = false;

  constructor(options: HeartbeatsOptions) {
    this.o = options;
    this.clock = options.clock ?? Date.now;
    this.metrics = options.metrics ?? noopCheckMetrics;
    this.startedAt = this.clock();
    options.lease?.onChange((held) => {
      this.caughtUp = false;
      if (held) this.schedule(0);
    });
  }

  private get leading(): boolean {
    return this.o.lease?.held ?? true;
  }

  /** Starts judging (while leading). */
  start(): void {
    this.schedule(0);
  }

  /** Stops judging; a pass under way finishes first. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.passing;
  }

  /** Beats (or registers) the heartbeat; 400001 when it is unknown and no timeout is given. */
  async beat(scope: Scope, name: string, input: HeartbeatInput): Promise<HeartbeatStatus> {
    const settings: Partial<HeartbeatSettings> = {
      ...(input.timeoutSeconds !== undefined && { timeoutMs: input.timeoutSeconds * 1000 }),
      ...(input.severity !== undefined && { severity: input.severity }),
      ...(input.fields !== undefined && { fieldsJson: JSON.stringify(input.fields) }),
    };
    const beat = await this.o.store.beatHeartbeat(keyOf(scope, name), this.clock(), settings);
    if (!beat) {
      throw new AlarmCenterError(Codes.InvalidParams, `body.timeoutSeconds: is required to register heartbeat ${JSON.stringify(name)}, which does not exist yet`);
    }
    await this.clearLapse(scope, name, beat.wasRaised);
    return this.statusOf(beat.heartbeat);
  }

  /** The heartbeats of the scope, by name. */
  async list(scope: Scope): Promise<HeartbeatStatus[]> {
    return (await this.o.store.heartbeats(scope)).map((h) => this.statusOf(h));
  }

  /** Removes the heartbeat and clears its alarm; 404002 when it does not exist. */
  async remove(scope: Scope, name: string): Promise<HeartbeatStatus> {
    const removed = await this.o.store.deleteHeartbeat(keyOf(scope, name));
    if (!removed) throw new AlarmCenterError(Codes.NotFound, `name: no heartbeat named ${JSON.stringify(name)} in project ${scope.project}`);
    await this.clearLapse(scope, name, removed.raised);
    return this.statusOf(removed);
  }

  /** Clears the heartbeat's alarm when its lapse was marked raised or the alarm is ACTIVATED here. */
  private async clearLapse(scope: Scope, name: string, marked: boolean): Promise<void> {
    if (!marked && !this.active(scope, name)) return;
    // Marked by a judge elsewhere: its raise may not have reached this replica yet.
    if (!this.active(scope, name)) await this.o.alarms.sync?.();
    if (!this.active(scope, name)) return;
    await this.o.alarms.apply(scope, [{ id: HEARTBEAT_MISSING, status: 'CLEARED', source: name, fields: {} }]);
  }

  private active(scope: Scope, name: string): boolean {
    return this.o.index.get(scope, HEARTBEAT_MISSING, name)?.status === 'ACTIVATED';
  }

  private statusOf(h: StoredHeartbeat): HeartbeatStatus {
    const state: HeartbeatState = h.raised ? 'missing' : this.clock() >= h.deadline ? 'late' : 'ok';
    return { heartbeat: h, state };
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.passing) return;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.timer = setTimeout(() => {
      this.passing = this.pass().finally(() => {
        this.passing = undefined;
        this.schedule(this.o.tickMs ?? 250);
      });
    }, delayMs);
    this.timer.unref?.();
  }

  /** One judgement: every heartbeat due raised, scope by scope. A failure is retried next tick. */
  private async pass(): Promise<void> {
    if (!this.leading || this.closed) return;
    try {
      if (!this.caughtUp) {
        await this.o.alarms.sync?.();
        this.caughtUp = true;
      }
      const due = await this.o.store.dueHeartbeats(this.clock(), this.startedAt, this.o.batch ?? 1000);
      const byScope = new Map<string, StoredHeartbeat[]>();
      for (const h of due) {
        const key = `${h.domain}\u0000${h.project}`;
        byScope.set(key, [...(byScope.get(key) ?? []), h]);
      }
      for (const group of byScope.values()) await this.raise(group);
    } catch (err) {
      if (this.closed) return;
      this.metrics.writeFailed('heartbeats');
      this.o.logger.warn('heartbeats not judged; retrying', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Raises the lapses of one scope in one write, marks them, and clears those beaten meanwhile. */
  private async raise(lapsed: readonly StoredHeartbeat[]): Promise<void> {
    const first = lapsed[0];
    if (!first) return;
    const scope = { domain: first.domain, project: first.project };
    const raises = lapsed.filter((h) => !this.active(scope, h.name)).map((h) => raiseInput(h));
    if (raises.length > 0) await this.o.alarms.apply(scope, raises);
    const beaten: ValidAlarmInput[] = [];
    for (const h of lapsed) {
      if (!(await this.o.store.markHeartbeatRaised(h, h.lastBeat))) beaten.push({ id: HEARTBEAT_MISSING, status: 'CLEARED', source: h.name, fields: {} });
    }
    if (beaten.length > 0) await this.o.alarms.apply(scope, beaten);
    if (raises.length > 0) this.o.logger.info('heartbeats missing', { domain: scope.domain, project: scope.project, heartbeats: raises.map((r) => r.source) });
  }
}

/** The raise of a lapsed heartbeat: its fields, with the detail naming its last beat. */
function raiseInput(h: StoredHeartbeat): ValidAlarmInput {
  const fields = JSON.parse(h.fieldsJson) as Record<string, unknown>;
  return { id: HEARTBEAT_MISSING, status: 'ACTIVATED', source: h.name, severity: h.severity, fields: { ...fields, detail: missingDetail(h) } };
}
