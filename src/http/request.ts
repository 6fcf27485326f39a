/**
 * What routing needs of a raw request, read the way express reads it, and a JSON answer written
 * the way express writes it: for the hot path and express's routes alike.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Splits a request target into its path and query (without the `?`), as express reads them. */
export function splitTarget(url: string): { path: string; query: string | undefined } {
  const at = url.indexOf('?');
  return at === -1 ? { path: url, query: undefined } : { path: url.slice(0, at), query: url.slice(at + 1) };
}

/** The path of a request's URL, without its query (express's `req.path`). */
export function pathOf(req: IncomingMessage): string {
  return splitTarget(req.url ?? '/').path;
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
