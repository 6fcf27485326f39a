/**
 * The hot path: the requests a fleet sends most — a raise or clear by `POST
 * /v4/{project}/admin/alarms`, and service-center's cluster health probes — answered without
 * express's router and request decoration, which cost more than the durable commit behind a
 * raise (see the README's benchmarks). It takes the routes the route table marks `fast`, runs the
 * same request pipeline express runs (pipeline.ts), then the route's own handler; a request with
 * a query string, and every other route, goes to express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorResponder } from './error-handler.js';
import { contextOf, type Pipeline } from './pipeline.js';
import type { FastRoute, RouteMatch, RouteTable } from './route-table.js';

export interface HotPathOptions {
  table: RouteTable;
  pipeline: Pipeline;
  respond: ErrorResponder;
}

/**
 * Returns a request listener's front: it answers a fast route and returns true, or returns false
 * and leaves the request untouched for express.
 */
export function createHotPath(options: HotPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { table, pipeline, respond } = options;

  const serve = async (req: IncomingMessage, res: ServerResponse, match: RouteMatch, route: FastRoute) => {
    try {
      const state = await pipeline.run(req, res, { match });
      await route.handle(contextOf(state));
    } catch (err) {
      if (res.headersSent) req.socket.destroy();
      else respond(req, res, err);
    }
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (url.indexOf('?') !== -1) return false;
    const match = table.match(req.method, url);
    if (!match?.route.fast) return false;
    // serve answers its own errors; should answering fail too, the connection is all that is left.
    serve(req, res, match, match.route).catch(() => req.socket.destroy());
    return true;
  };
}
