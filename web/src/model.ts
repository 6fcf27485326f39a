/**
 * The alarms the console holds, as the API answers them, and the copy of a project's list kept
 * in step with the watch route: listed once, then every change applied by `(id, source)` in
 * revision order (README, "Watch"). Pure: no DOM, so it runs anywhere.
 */

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is more severe. */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 5, major: 4, minor: 3, warning: 2, indeterminate: 1 };

/** An alarm as the API answers it. */
export interface Alarm {
  id: string;
  status: 'ACTIVATED' | 'CLEARED';
  fields: Record<string, unknown>;
  source: string;
  severity: Severity;
  count: number;
  raisedAt: string;
  updatedAt: string;
  clearedAt?: string;
  revision: number;
  acknowledged: boolean;
  ackedBy?: string;
  ackedAt?: string;
  ackComment?: string;
  ackExpiresAt?: string;
  expiresAt?: string;
}

/** One message of the watch route. */
export interface WatchMessage {
  action: string;
  alarm?: Alarm;
  revision: number;
}

/** The key of an alarm in its project: its id and source. */
export function keyOf(alarm: Pick<Alarm, 'id' | 'source'>): string {
  return `${alarm.id}\u0000${alarm.source}`;
}

const REPLACES = new Set(['RAISE', 'RERAISE', 'CLEAR', 'ACK', 'UNACK', 'EXPIRE']);
const REMOVES = new Set(['CLEAR_ALL', 'PURGE']);

/** What applying one message did. */
export type Applied = 'changed' | 'skipped' | 'resync';

/**
 * A project's alarms: loaded from a list answer, then changed by watch messages. A message at
 * or below the revision already applied is skipped (a replay overlapping the list), as is an
 * action this version does not know.
 */
export class AlarmBook {
  readonly alarms = new Map<string, Alarm>();
  /** The store revision this copy reflects. */
  revision = 0;
  /** Grows with every change of the copy, so views know when to recompute. */
  version = 0;

  /** Takes a list answer as the whole state. */
  reset(alarms: readonly Alarm[], revision: number): void {
    this.alarms.clear();
    for (const a of alarms) this.alarms.set(keyOf(a), a);
    this.revision = revision;
    this.version += 1;
  }

  /** Applies one watch message; `resync` means the copy must be listed again. */
  apply(message: WatchMessage): Applied {
    if (message.action === 'RESYNC') return 'resync';
    if (message.revision <= this.revision) return 'skipped';
    this.revision = message.revision;
    const alarm = message.alarm;
    if (!alarm) return 'skipped';
    if (REPLACES.has(message.action)) this.alarms.set(keyOf(alarm), alarm);
    else if (REMOVES.has(message.action)) this.alarms.delete(keyOf(alarm));
    else return 'skipped';
    this.version += 1;
    return 'changed';
  }

  /** How many alarms are ACTIVATED. */
  activeCount(): number {
    let n = 0;
    for (const a of this.alarms.values()) if (a.status === 'ACTIVATED') n += 1;
    return n;
  }

  /** The most severe ACTIVATED alarm's severity, if any is active. */
  worstActive(): Severity | undefined {
    let worst: Severity | undefined;
    for (const a of this.alarms.values()) {
      if (a.status === 'ACTIVATED' && (!worst || SEVERITY_RANK[a.severity] > SEVERITY_RANK[worst])) worst = a.severity;
    }
    return worst;
  }
}

/** The human message of an alarm: `fields.detail` when it is text. */
export function detailOf(alarm: Alarm): string {
  const d = alarm.fields.detail;
  return typeof d === 'string' ? d : '';
}
