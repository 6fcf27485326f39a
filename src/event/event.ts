/** An event travelling over the bus: routed by `type`, then `subject`, then `group`. */
export interface BusEvent<P = unknown> {
  readonly type: string;
  readonly subject: string;
  /** Empty string broadcasts to every group of the subject. */
  readonly group: string;
  /** Milliseconds since the epoch, set when the event was created. */
  readonly createdAt: number;
  readonly payload: P;
}

/** Builds an event stamped with the current time. */
export function createEvent<P>(type: string, subject: string, group: string, payload: P): BusEvent<P> {
  return { type, subject, group, createdAt: Date.now(), payload };
}
