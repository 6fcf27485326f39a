/**
 * The catalog of coded errors. Every error Alarm Center answers with is listed here, with the
 * HTTP status it maps to (service-center's rule: the code divided by 1000) and its fixed
 * message; `openapi.yaml` documents the same codes and a test keeps the two in step.
 */

export const ERROR_CATALOG = {
  '400001': 'Invalid parameter(s)',
  '400002': 'Server is Unhealthy',
  '401002': 'Request unauthorized',
  '403001': 'Forbidden',
  '404001': 'Alarm does not exist',
  '404002': 'Resource not found',
  '408001': 'Request timeout',
  '413001': 'Request entity too large',
  '429001': 'Too many requests',
  '429002': 'Quota exceeded',
  '431001': 'Request header fields too large',
  '500003': 'Internal server error',
  '503001': 'Service unavailable',
} as const;

/** A code of the catalog, always a string of digits as service-center's clients expect. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Named codes, so call sites read as intent rather than numbers. */
export const Codes = {
  InvalidParams: '400001',
  Unhealthy: '400002',
  Unauthorized: '401002',
  Forbidden: '403001',
  AlarmNotFound: '404001',
  NotFound: '404002',
  RequestTimeout: '408001',
  TooLarge: '413001',
  TooManyRequests: '429001',
  QuotaExceeded: '429002',
  HeadersTooLarge: '431001',
  Internal: '500003',
  Unavailable: '503001',
} as const satisfies Record<string, ErrorCode>;

/** The wire form of an error: service-center's body, `detail` left out when empty. */
export interface ErrorBody {
  errorCode: ErrorCode;
  errorMessage: string;
  detail?: string;
}

/** An error that knows its catalog code; thrown by services, turned into a body once, at the edge. */
export class AlarmCenterError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;

  constructor(code: ErrorCode, detail = '', options?: { cause?: unknown }) {
    super(detail ? `${ERROR_CATALOG[code]}: ${detail}` : ERROR_CATALOG[code], options);
    this.name = 'AlarmCenterError';
    this.code = code;
    this.detail = detail;
  }

  /** The HTTP status of the code: 400002 → 400. */
  get status(): number {
    return httpStatusOf(this.code);
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { errorCode: this.code, errorMessage: ERROR_CATALOG[this.code] };
    if (this.detail) body.detail = this.detail;
    return body;
  }
}

/** service-center's rule: the HTTP status is the code divided by 1000. */
export function httpStatusOf(code: ErrorCode): number {
  return Math.floor(Number(code) / 1000);
}
