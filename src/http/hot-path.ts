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
import { contextOf, type Pipeline, type RequestState } from './pipeline.js';
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

  /** Answers a failure of the pipeline or the handler; once the head is out, only the connection can go. */
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => {
    try {
      if (res.headersSent) req.socket.destroy();
      else respond(req, res, err);
    } catch {
      req.socket.destroy();
    }
  };

  const handle = (route: FastRoute, state: RequestState) => {
    try {
      const pending = route.handle(contextOf(state));
      if (pending) pending.catch((err: unknown) => fail(state.req, state.res, err));
    } catch (err) {
      fail(state.req, state.res, err);
    }
  };

  /** Runs the pipeline, then the handler; without a promise when no step had to wait. */
  const serve = (req: IncomingMessage, res: ServerResponse, match: RouteMatch, route: FastRoute) => {
    let ran;
    try {
      ran = pipeline.run(req, res, { match });
    } catch (err) {
      fail(req, res, err);
      return;
    }
    if (ran instanceof Promise) ran.then((state) => handle(route, state), (err: unknown) => fail(req, res, err));
    else handle(route, ran);
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (url.indexOf('?') !== -1) return false;
    const match = table.match(req.method, url);
    if (!match?.route.fast) return false;
    serve(req, res, match, match.route);
    return true;
  };
}
