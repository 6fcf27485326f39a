/** What routing needs of a raw request, read the way express reads it. */
import type { IncomingMessage } from 'node:http';

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
