/**
 * What routing needs of a raw request, read the way express reads it, and a JSON answer written
 * the way express writes it: for the hot path and express's routes alike.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The path of a request's URL, without its query (express's `req.path`). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** A header of a request (express's `req.get`): repeated headers joined by a comma. */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Answers a JSON text with `status`, as express's `res.json` does. */
export function sendJson(res: ServerResponse, status: number, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(body);
}
