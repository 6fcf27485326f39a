import type { BusEvent } from './event.js';

/**
 * A receiver of events of one type and subject, in one group.
 *
 * Contract: the bus calls `onMessage` (or `onBatch`, when present) from its single dispatcher,
 * one call at a time per subscriber, in the order events were fired. A call that throws or
 * rejects marks the subscriber unhealthy: the other subscribers still get the event, and the
 * subscriber is removed through an INNER unhealthy-subscriber event. A subscriber that wants to
 * report an outcome without being removed answers through a reply the payload carries (the
 * ALARM subscriber calls each write's `reply`).
 */
export interface Subscriber<P = unknown> {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly group: string;
  /** Labels for the subscriber gauge; defaults are `""` and `"internal"`. */
  readonly domain?: string;
  readonly scheme?: string;
  onMessage(event: BusEvent<P>): void | Promise<void>;
  /** Receives every queued event for this subscriber at once, in firing order (group commit). */
  onBatch?(events: BusEvent<P>[]): void | Promise<void>;
  /** Called once when the subscriber joins a bus. */
  onAccept?(): void;
  /** Called once when the subscriber is removed from the bus. */
  close?(): void;
}
