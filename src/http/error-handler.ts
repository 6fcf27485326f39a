import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'winston';
import { AlarmCenterError, Codes } from '../errors.js';
import { pathOf, sendJson } from './request.js';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

/** Turns body-parser's errors into catalog errors naming the body as the offending field. */
function fromBodyParser(err: BodyParserError): AlarmCenterError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new AlarmCenterError(Codes.TooLarge, `body: larger than the limit of ${err.limit ?? '?'} bytes`);
    case 'entity.parse.failed':
      return new AlarmCenterError(Codes.InvalidParams, `body: malformed JSON: ${err.message}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AlarmCenterError(Codes.InvalidParams, `body: ${err.message}`);
    default:
      if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new AlarmCenterError(Codes.InvalidParams, err.message);
      }
      return undefined;
  }
}

export interface ErrorHandlerOptions {
  logger: Logger;
  /** Called for every 5xx answer with the request and the error (raises the InternalError alarm). */
  onServerError(req: IncomingMessage, error: AlarmCenterError): void;
}

/** Answers one error; the answer must not have started. */
export type ErrorResponder = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/**
 * The one place errors become answers: service-center's body with `errorCode` as a string, the
 * status derived from the code. Only 5xx answers are logged.
 */
export function createErrorResponder(options: ErrorHandlerOptions): ErrorResponder {
  return (req, res, err) => {
    let coded: AlarmCenterError;
    if (err instanceof AlarmCenterError) coded = err;
    else coded = fromBodyParser(err as BodyParserError) ?? new AlarmCenterError(Codes.Internal, (err as Error)?.message ?? String(err), { cause: err });
    if (coded.status >= 500) {
      options.logger.error('request failed', {
        method: req.method,
        path: pathOf(req),
        errorCode: coded.code,
        error: coded.detail,
        stack: err instanceof Error && !(err instanceof AlarmCenterError) ? err.stack : undefined,
      });
      options.onServerError(req, coded);
    }
    if (coded.code === Codes.TooManyRequests && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', '1');
    if (coded.code === Codes.Unavailable) res.setHeader('Retry-After', '5');
    if (coded.code === Codes.Unauthorized) res.setHeader('WWW-Authenticate', 'Bearer realm="alarm-center"');
    sendJson(res, coded.status, JSON.stringify(coded.toBody()));
  };
}

/** The error responder as express's last middleware. */
export function createErrorHandler(respond: ErrorResponder): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    respond(req, res, err);
  };
}

/**
 * Writes an error answer straight to a connection, for what is answered outside express (a
 * refused WebSocket upgrade, a request Node could not parse), with `headers` as `Name: value`
 * lines, then closes it.
 */
export function writeRawError(socket: Duplex, error: AlarmCenterError, headers: readonly string[] = []): void {
  const body = JSON.stringify(error.toBody());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      headers.map((h) => `${h}\r\n`).join('') +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** Answers any request no route took: 404002. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new AlarmCenterError(Codes.NotFound, `no route for ${req.method} ${req.path}`));
};
