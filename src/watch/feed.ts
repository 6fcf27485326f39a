import type { AlarmChange, Scope } from '../alarm/model.js';
import type { BusService } from '../event/bus-service.js';
import { createEvent } from '../event/event.js';
import { WatchMessage } from './message.js';
import type { CloseReason } from './watcher.js';

/** The bus type of committed alarm changes, one event per commit and scope. */
export const ALARM_CHANGE = 'ALARM_CHANGE';

/** Payload of an ALARM_CHANGE event: one commit's changes of one scope, in revision order. */
export interface ChangeBatch {
  readonly scope: Scope;
  readonly messages: readonly WatchMessage[];
  /**
   * Set on the marker that finishes one watcher (its group): the watcher ends with this reason
   * once it has delivered every change the bus carried before the marker.
   */
  readonly finish?: CloseReason;
}

/** The bus subject of a scope's changes: `domain/project`. */
export function watchSubject(scope: Scope): string {
  return `${scope.domain}/${scope.project}`;
}

/**
 * Turns durable commits into ALARM_CHANGE events on the bus, one per scope of the commit,
 * fired in revision order. Messages are built only for scopes somebody watches. An event the
 * bus refuses (its queue is full, it is stopping) is reported through `onLost`, so the watchers
 * of that subject are told to resync instead of silently missing it.
 */
export class ChangeFeed {
  private published: number;

  constructor(
    private readonly bus: BusService,
    revision: number,
    private readonly onLost: (subject: string, revision: number, error: unknown) => void,
  ) {
    this.published = revision;
  }

  /** The revision of the last change published: every change up to it is durable and in history. */
  get revision(): number {
    return this.published;
  }

  publish(changes: readonly AlarmChange[]): void {
    const last = changes[changes.length - 1];
    if (last) this.published = Math.max(this.published, last.alarm.revision);
    // The write path pays nothing for the feed while nobody watches.
    const bus = this.bus.bus(ALARM_CHANGE);
    if (!bus?.hasSubscribers) return;
    let batches: Map<string, { scope: Scope; messages: WatchMessage[] }> | undefined;
    for (const c of changes) {
      const subject = watchSubject(c.alarm);
      if (!bus.subject(subject)) continue;
      batches ??= new Map();
      let b = batches.get(subject);
      if (!b) {
        b = { scope: { domain: c.alarm.domain, project: c.alarm.project }, messages: [] };
        batches.set(subject, b);
      }
      b.messages.push(WatchMessage.change(c.action, c.alarm, c.at));
    }
    if (!batches) return;
    for (const [subject, batch] of batches) {
      const revision = (batch.messages[batch.messages.length - 1] as WatchMessage).revision;
      this.bus.fire(createEvent(ALARM_CHANGE, subject, '', batch as ChangeBatch)).catch((err: unknown) => {
        this.onLost(subject, revision, err);
      });
    }
  }
}
