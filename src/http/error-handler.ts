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
export interface ErrorResponder {
  (req: IncomingMessage, res: ServerResponse, err: unknown): void;
  /**
   * Answers on a raw connection (a refused WebSocket upgrade), with the headers set on `res` (a
   * detached answer the pipeline wrote to), then closes it; `res` then finishes with the status.
   */
  raw(req: IncomingMessage, res: ServerResponse, socket: Duplex, err: unknown): void;
}

/** How long a last answer may take to flush before its connection is cut. */
const LAST_ANSWER_GRACE_MS = 5000;

/**
 * Cuts a connection whose last answer is being written, should the flush not finish in time:
 * ending only half-closes, and a peer that never reads or closes would hold the socket for good.
 */
export function cutUnlessClosed(socket: Duplex): void {
  const cut = setTimeout(() => socket.destroy(), LAST_ANSWER_GRACE_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

/**
 * The one place errors become answers: service-center's body with `errorCode` as a string, the
 * status derived from the code. Only 5xx answers are logged.
 */
export function createErrorResponder(options: ErrorHandlerOptions): ErrorResponder {
  /** The coded form of an error, logged and reported when it is a 5xx, its headers set on `res`. */
  const prepare = (req: IncomingMessage, res: ServerResponse, err: unknown): AlarmCenterError => {
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
    return coded;
  };
  const respond = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const coded = prepare(req, res, err);
    sendJson(res, coded.status, JSON.stringify(coded.toBody()));
  };
  respond.raw = (req: IncomingMessage, res: ServerResponse, socket: Duplex, err: unknown): void => {
    const coded = prepare(req, res, err);
    const headers = Object.entries(res.getHeaders())
      .filter(([name]) => name !== 'connection' && name !== 'content-type' && name !== 'content-length')
      .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
    writeRawError(socket, coded, headers);
    res.statusCode = coded.status;
    res.emit('finish');
  };
  return respond;
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
  cutUnlessClosed(socket);
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      headers.map((h) => `${h}\r\n`).join('') +
      'Connection: close\r\n\r\n' +
      body,
    () => socket.destroy(),
  );
}

/**
 * Answers any request that reached express's end without a route: the pipeline routes every
 * request first, so this is only reached should express and the route table ever disagree.
 */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new AlarmCenterError(Codes.NotFound, `no route for ${req.method} ${req.path}`));
};
