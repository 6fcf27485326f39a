/** Codes of the bus's own errors; callers map them to their own catalog. */
export type BusErrorCode =
  | 'ERR_BUS_QUEUE_FULL'
  | 'ERR_BUS_STOPPED'
  | 'ERR_BUS_UNKNOWN_TYPE'
  | 'ERR_BUS_TYPE_EXISTS'
  | 'ERR_BUS_INVALID_OPTIONS';

/** An error raised by the bus itself (never by a subscriber), with a stable code. */
export class BusError extends Error {
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string) {
    super(message);
    this.name = 'BusError';
    this.code = code;
  }
}
