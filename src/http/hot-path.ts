/**
 * The hot path: the requests a fleet sends most — a raise or clear by `POST
 * /v4/{project}/admin/alarms`, and service-center's cluster health probe — answered without
 * express's router and request decoration, which cost more than the durable commit behind a
 * raise (see the README's benchmarks). Each step is the function express's middleware calls, in
 * the same order: observe, security headers, authorization, write rate limit, shutdown guard,
 * body (the same body-parser instance), route, error answer. Anything the hot path does not
 * take in its plain form — a HEAD, a query string, a trailing slash, another case, a
 * percent-encoded project — goes to express, which answers it as before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Scope } from '../alarm/model.js';
import type { AlarmCenter } from '../center.js';
import { principalOf, refuseWhileStopping, setSecurityHeaders, type AccessOptions, type WriteLimiter } from './access.js';
import type { Principal } from './auth.js';
import type { ErrorResponder } from './error-handler.js';
import type { Observer } from './observe.js';
import { headerOf, sendJson } from './request.js';
import { DEFAULT_DOMAIN, DEFAULT_PROJECT, DOMAIN_HEADER, scopeFromNames } from './scope.js';

/** One route of the hot path; `answer` returns the 200 answer's JSON text or throws a coded error. */
export interface HotRoute {
  method: 'GET' | 'POST';
  /**
   * The route template, as express names it in metrics and logs; the hot path takes the URLs it
   * names with a plain project and nothing after the path (see `hotUrl`).
   */
  template: string;
  /** Whether the route reads a JSON body. */
  body: boolean;
  answer(scope: Scope, body: unknown): Promise<string>;
}

export interface HotPathOptions {
  center: AlarmCenter;
  access: AccessOptions;
  limiter: WriteLimiter;
  observer: Observer;
  json: RequestHandler;
  respond: ErrorResponder;
  routes: readonly HotRoute[];
}

/**
 * The URLs of a template the hot path takes, answering the project they name (the default one
 * for a template without `:project`): the template's own path, with a project of neither `/`,
 * `?`, `%` nor `#`, and no query.
 */
export function hotUrl(pattern: string): (url: string) => string | undefined {
  const at = pattern.indexOf(':project');
  if (at === -1) return (url) => (url === pattern ? DEFAULT_PROJECT : undefined);
  const prefix = pattern.slice(0, at);
  const suffix = pattern.slice(at + ':project'.length);
  return (url) => {
    if (!url.startsWith(prefix) || !url.endsWith(suffix)) return undefined;
    const project = url.slice(prefix.length, url.length - suffix.length);
    return /^[^/?%#]+$/.test(project) ? project : undefined;
  };
}

/** Reads the JSON body with the app's body parser; resolves with `req.body`. */
function readBody(json: RequestHandler, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  return new Promise((resolve, reject) => {
    json(req as Request, res as Response, (err?: unknown) => (err ? reject(err) : resolve((req as Request).body)));
  });
}

/**
 * Returns a request listener's front: it answers a hot route and returns true, or returns false
 * and leaves the request untouched for express.
 */
export function createHotPath(options: HotPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { center, access, limiter, observer, json, respond } = options;
  const routes = options.routes.map((route) => ({ route, match: hotUrl(route.template) }));

  const serve = async (req: IncomingMessage, res: ServerResponse, route: HotRoute, project: string, path: string) => {
    let principal: Principal | undefined;
    try {
      observer.track(req, res, { route: () => route.template, token: () => principal?.name });
      setSecurityHeaders(res);
      principal = principalOf(access, req, path);
      if (limiter.counts(req.method, path)) await limiter.admit(req, res, principal);
      refuseWhileStopping(center, path, res);
      const body = route.body ? await readBody(json, req, res) : undefined;
      const scope = scopeFromNames(headerOf(req, DOMAIN_HEADER) ?? DEFAULT_DOMAIN, project);
      sendJson(res, 200, await route.answer(scope, body));
    } catch (err) {
      if (res.headersSent) req.socket.destroy();
      else respond(req, res, err);
    }
  };

  return (req, res) => {
    const url = req.url ?? '';
    for (const { route, match } of routes) {
      if (req.method !== route.method) continue;
      const project = match(url);
      if (project === undefined) continue;
      // A hot URL has no query, so it is the path. serve answers its own errors; should
      // answering fail too, the connection is all that is left.
      serve(req, res, route, project, url).catch(() => req.socket.destroy());
      return true;
    }
    return false;
  };
}
