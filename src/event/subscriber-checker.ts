import type { Logger } from 'winston';
import { createEvent, type BusEvent } from './event.js';
import type { Subscriber } from './subscriber.js';

/** The bus's own event type; it carries unhealthy-subscriber reports. */
export const INNER = 'INNER';
export const CHECKER_SUBJECT = '__SubscriberHealthCheck__';
export const CHECKER_GROUP = '__HealthChecker__';

/** Payload of the INNER event that asks for a failed subscriber's removal. */
export interface UnhealthyPayload {
  subscriber: Subscriber;
  error: unknown;
}

/** Builds the INNER event reporting `subscriber` as unhealthy. */
export function createUnhealthyEvent(subscriber: Subscriber, error: unknown): BusEvent<UnhealthyPayload> {
  return createEvent(INNER, CHECKER_SUBJECT, CHECKER_GROUP, { subscriber, error });
}

/**
 * Removes subscribers reported unhealthy. It never removes an INNER subscriber: that would let
 * the checker evict itself, and no one would be left to clean up.
 */
export class SubscriberChecker implements Subscriber<UnhealthyPayload> {
  readonly id = 'subscriber-checker';
  readonly type = INNER;
  readonly subject = CHECKER_SUBJECT;
  readonly group = CHECKER_GROUP;
  private readonly remove: (s: Subscriber) => void;
  private readonly logger: Logger;

  constructor(remove: (s: Subscriber) => void, logger: Logger) {
    this.remove = remove;
    this.logger = logger;
  }

  onMessage(event: BusEvent<UnhealthyPayload>): void {
    const { subscriber, error } = event.payload;
    const fields = {
      type: subscriber.type,
      subject: subscriber.subject,
      group: subscriber.group,
      subscriber: subscriber.id,
      error: error instanceof Error ? error.message : String(error),
    };
    if (subscriber.type === INNER) {
      this.logger.error('inner subscriber failed and is kept', fields);
      return;
    }
    this.logger.warn('unhealthy subscriber removed', fields);
    this.remove(subscriber);
  }
}
