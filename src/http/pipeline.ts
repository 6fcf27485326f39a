/**
 * The request pipeline: the steps every request goes through, in one ordered list — observe
 * (request id, latency metric, log line), security headers, routing by the route table,
 * authorization, the write limit, the shutdown guard, the body, the scope. express runs it
 * through an adapter middleware, the fast path runs it directly, and WebSocket upgrades run it
 * against a detached answer whose headers and status the raw handshake writes; so a step cannot
 * exist on one path and not on another.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { setSecurityHeaders, type AccessOptions, type WriteLimiter } from './access.js';
import type { Principal } from './auth.js';
import type { Observer } from './observe.js';
import { headerOf, splitTarget } from './request.js';
import {
  checkQuerySize,
  decodeParams,
  requirementOfRoute,
  type Route,
  type RouteContext,
  type RouteMatch,
  type RouteTable,
} from './route-table.js';
import { DEFAULT_DOMAIN, DEFAULT_PROJECT, DOMAIN_HEADER, scopeFromNames } from './scope.js';

/** What the pipeline knows of one request; filled step by step. */
export interface RequestState {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Set for a WebSocket upgrade: only routes that take one match. */
  readonly upgrade: boolean;
  /** The route the caller already matched (the fast path), or none yet. */
  match: RouteMatch | undefined;
  path: string;
  query: string | undefined;
  route: Route | undefined;
  params: Record<string, string>;
  /** The scope as named, before validation: what authorization compares with a token's scopes. */
  named: Scope | undefined;
  scope: Scope | undefined;
  principal: Principal | undefined;
  body: unknown;
}

type Step = (state: RequestState) => void | Promise<void>;

export interface PipelineOptions {
  table: RouteTable;
  access: AccessOptions;
  limiter: WriteLimiter;
  observer: Observer;
  json: RequestHandler;
  /** Reads a JSON body as its text, for the routes that parse it themselves. */
  jsonText: RequestHandler;
  /** Whether the service is shutting down. */
  stopping(): boolean;
}

/** The pipeline of one app. */
export interface Pipeline {
  /**
   * Runs every step for a request: answers its state at once when no step had anything to wait
   * for (most requests: no body), a promise of it otherwise. Throws, or rejects, with the coded
   * error of the step that refused it. `match` is the request's route when the caller matched
   * it already; `upgrade` marks a WebSocket upgrade.
   */
  run(req: IncomingMessage, res: ServerResponse, options?: { upgrade?: boolean; match?: RouteMatch }): RequestState | Promise<RequestState>;
  /** The state of a request the pipeline ran, for its handler and the error answer. */
  stateOf(req: IncomingMessage): RequestState | undefined;
  /** The steps' names in order, for tests and docs. */
  readonly steps: readonly string[];
}

/** Reads the JSON body with the app's body parser; resolves with `req.body`. */
function readBody(json: RequestHandler, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  return new Promise((resolve, reject) => {
    json(req as Request, res as Response, (err?: unknown) => (err ? reject(err) : resolve((req as Request).body)));
  });
}

/**
 * Where a request's state is kept: on the request itself. A WeakMap from requests to their
 * state made V8 keep every request past two young-generation collections (the map lives in the
 * old generation), so the old generation filled with request garbage: health probes ran a third
 * slower, with a full collection every few hundred milliseconds under load.
 */
const STATE = Symbol('alarm-center.request-state');

type StatefulRequest = IncomingMessage & { [STATE]?: RequestState };

export function createPipeline(options: PipelineOptions): Pipeline {
  const { table, access, limiter, observer, json, jsonText } = options;

  /** Whether the request's token is the one its body carries: a body-token route, tokens on, no Authorization header. */
  const tokenInBody = (s: RequestState): boolean =>
    s.route?.bodyToken !== undefined && access.tokens.enabled && headerOf(s.req, 'authorization') === undefined;

  const steps: [string, Step][] = [
    [
      'observe',
      (s) =>
        observer.track(s.req, s.res, {
          route: () => s.route?.template ?? 'unmatched',
          polled: () => s.route?.access === 'probe' || s.route?.polled === true,
          token: () => s.principal?.name,
        }),
    ],
    ['security-headers', (s) => setSecurityHeaders(s.res)],
    [
      'route',
      (s) => {
        const found = s.match ?? table.match(s.req.method, s.path);
        if (!found || (s.upgrade && !found.route.websocket)) {
          const what = s.upgrade ? 'WebSocket route' : 'route';
          throw new AlarmCenterError(Codes.NotFound, `no ${what} for ${s.req.method ?? ''} ${s.path}`);
        }
        s.route = found.route;
        checkQuerySize(s.query);
        s.params = decodeParams(found.raw);
        const domain = headerOf(s.req, DOMAIN_HEADER) ?? DEFAULT_DOMAIN;
        if (found.route.scope === 'path') s.named = { domain, project: s.params.project as string };
        else if (found.route.scope === 'default') s.named = { domain, project: DEFAULT_PROJECT };
      },
    ],
    [
      'authorize',
      (s) => {
        const route = s.route as Route;
        if (!access.tokens.enabled) return;
        const header = headerOf(s.req, 'authorization');
        // Authorized once the body is read, from the token it carries.
        if (route.bodyToken && header === undefined) return;
        const need = requirementOfRoute(route.access, access.probesOpen);
        s.principal = access.tokens.authorize(header, need, s.named);
      },
    ],
    // A token carried in the body is known only once the body is read: its write is counted then, against it.
    ['write-limit', (s) => (s.route?.counted && !tokenInBody(s) ? limiter.admit(s.req, s.res, s.principal) : undefined)],
    [
      'shutdown-guard',
      (s) => {
        if (s.route?.whileStopping || !options.stopping()) return;
        s.res.setHeader('Connection', 'close');
        throw new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down');
      },
    ],
    [
      'body',
      // Only a route that reads a body waits for it: the others pass without a turn of the event loop.
      (s) =>
        s.route?.body
          ? readBody(s.route.body === 'text' ? jsonText : json, s.req, s.res).then((body) => {
              s.body = body;
            })
          : undefined,
    ],
    [
      'authorize-body',
      (s) => {
        if (!tokenInBody(s)) return;
        const route = s.route as Route;
        const from = route.bodyToken as NonNullable<Route['bodyToken']>;
        s.principal = access.tokens.authorizeToken(from.of(s.body), requirementOfRoute(route.access, access.probesOpen), s.named, from.field);
        return route.counted ? limiter.admit(s.req, s.res, s.principal) : undefined;
      },
    ],
    [
      'scope',
      (s) => {
        if (s.named) s.scope = scopeFromNames(s.named.domain, s.named.project);
      },
    ],
  ];

  /** The steps from `from` on, once `pending` settled. */
  const finish = async (state: RequestState, pending: Promise<void>, from: number): Promise<RequestState> => {
    await pending;
    for (let i = from; i < steps.length; i += 1) {
      const next = (steps[i] as [string, Step])[1](state);
      if (next) await next;
    }
    return state;
  };

  return {
    steps: steps.map(([name]) => name),
    stateOf: (req) => (req as StatefulRequest)[STATE],
    run(req, res, options = {}) {
      const { path, query } = splitTarget(req.url ?? '/');
      const state: RequestState = {
        req,
        res,
        upgrade: options.upgrade ?? false,
        match: options.match,
        path,
        query,
        route: undefined,
        params: {},
        named: undefined,
        scope: undefined,
        principal: undefined,
        body: undefined,
      };
      (req as StatefulRequest)[STATE] = state;
      for (let i = 0; i < steps.length; i += 1) {
        const pending = (steps[i] as [string, Step])[1](state);
        // Only the steps with work to wait for cost a promise and a turn of the event loop.
        if (pending) return finish(state, pending, i + 1);
      }
      return state;
    },
  };
}

/** The context a route's handler is given, from the pipeline's state of its request. */
export function contextOf<Req extends IncomingMessage, Res extends ServerResponse>(state: RequestState): RouteContext<Req, Res> {
  return {
    req: state.req as Req,
    res: state.res as Res,
    params: state.params,
    // Unscoped routes never read it.
    scope: state.scope as Scope,
    body: state.body,
    principal: state.principal,
  };
}
