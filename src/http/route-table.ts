/**
 * The route table: every HTTP route is one entry, and everything about a route is read from it —
 * express's routes, the fast path, authorization, the write limit, what is served while stopping,
 * WebSocket upgrades and the OpenAPI drift test. Matching is exact: case-sensitive, no trailing
 * or doubled slash, literal segments compared as sent (a percent-encoded or dot segment is not
 * the literal it stands for), and a parameter is one non-empty segment, percent-decoded. A path
 * that is not a route of the table, in exactly that form, is 404002 whatever the credentials.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';
import type { Principal, Requirement, Role } from './auth.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call a route: `open` needs nothing; `probe` needs nothing unless probes are closed,
 * then `read`; a role needs a token of at least that role (and, for a scoped route, of its scope).
 */
export type Access = 'open' | 'probe' | Role;

/** The scope a route acts on: the `:project` of its path, the default project, or none. */
export type ScopeFrom = 'path' | 'default' | 'none';

/** What a route's handler is given: the request, what the pipeline established, and the answer. */
export interface RouteContext<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> {
  readonly req: Req;
  readonly res: Res;
  /** The path's parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The validated scope of a scoped route. */
  readonly scope: Scope;
  /** The parsed JSON body of a route that reads one (its text, for a route that reads it as text). */
  readonly body: unknown;
  readonly principal: Principal | undefined;
}

interface RouteBase {
  method: Method;
  /** express's form: `/v4/:project/admin/alarms`. */
  template: string;
  access: Access;
  /** Counted by the write rate limit. */
  counted: boolean;
  /** Still served while shutting down (probes and metrics tell the truth to the end). */
  whileStopping: boolean;
  scope: ScopeFrom;
  /**
   * Reads a JSON body: parsed, or as its text (`'text'`: the handler parses it, off the event
   * loop; json-body.ts), with the same limits and errors.
   */
  body: boolean | 'text';
  /**
   * Polled by machines, not asked by people (a heartbeat's beat): answered below 400, its log
   * line is at debug, as a probe's is (routes of `probe` access are polled too).
   */
  polled?: true;
  /** Also answers WebSocket upgrades (the handler serves the plain HTTP form). */
  websocket?: boolean;
  /**
   * For clients that cannot send an Authorization header (PagerDuty's): where the body carries
   * the token, taken when the header is absent; the body is then read before authorization.
   */
  bodyToken?: { field: string; of(body: unknown): string | undefined };
}

/** A route the fast path may answer before express: its handler uses only Node's request and answer. */
export interface FastRoute extends RouteBase {
  fast: true;
  handle(ctx: RouteContext): Promise<void> | void;
}

/** A route only express answers. */
export interface ExpressRoute extends RouteBase {
  fast: false;
  handle(ctx: RouteContext<Request, Response>): Promise<void> | void;
}

export type Route = FastRoute | ExpressRoute;

/** A route matched by a request, with its raw (still encoded) parameters. */
export interface RouteMatch {
  route: Route;
  raw: Record<string, string>;
}

/** Most query parameters a request may carry; more is 400001 rather than a silent cut. */
export const MAX_QUERY_PARAMETERS = 1000;

interface Compiled {
  route: Route;
  /** Literal segments as strings, parameters as `{ name }`. */
  segments: (string | { name: string })[];
}

function compile(route: Route): Compiled {
  if (!route.template.startsWith('/')) throw new Error(`route ${route.template}: a template starts with /`);
  // `/` alone is the route of no segment.
  if (route.template === '/') return { route, segments: [] };
  const segments = route.template
    .slice(1)
    .split('/')
    .map((s) => {
      if (s === '') throw new Error(`route ${route.template}: empty segment`);
      if (s.startsWith(':')) return { name: s.slice(1) };
      if (/[^A-Za-z0-9._-]/.test(s)) throw new Error(`route ${route.template}: segment ${s} must be plain`);
      return s;
    });
  return { route, segments };
}

/** The route table of one app; `match` is the only way a request is routed. */
export class RouteTable {
  readonly routes: readonly Route[];
  /** Compiled routes by method and segment count. */
  private readonly byShape = new Map<string, Compiled[]>();

  constructor(routes: readonly Route[]) {
    this.routes = routes;
    const seen = new Set<string>();
    for (const route of routes) {
      const key = `${route.method} ${route.template}`;
      if (seen.has(key)) throw new Error(`route ${key} is in the table twice`);
      seen.add(key);
      const compiled = compile(route);
      const shape = `${route.method} ${compiled.segments.length}`;
      const list = this.byShape.get(shape) ?? [];
      list.push(compiled);
      this.byShape.set(shape, list);
    }
  }

  /**
   * The route a method and path name, or undefined. HEAD is routed as GET, as express does.
   * Literal segments win over parameters at the same place (`/alarms/clear` over `/alarms/:id`)
   * by the table's order, where literals come first.
   */
  match(method: string | undefined, path: string): RouteMatch | undefined {
    if (path.charCodeAt(0) !== 47 /* / */) return undefined;
    const parts = path.length === 1 ? [] : path.slice(1).split('/');
    const candidates = this.byShape.get(`${method === 'HEAD' ? 'GET' : method} ${parts.length}`);
    if (!candidates) return undefined;
    for (const { route, segments } of candidates) {
      const raw = matchSegments(segments, parts);
      if (raw) return { route, raw };
    }
    return undefined;
  }
}

function matchSegments(segments: Compiled['segments'], parts: string[]): Record<string, string> | undefined {
  let raw: Record<string, string> | undefined;
  for (let i = 0; i < segments.length; i += 1) {
    const want = segments[i] as string | { name: string };
    const part = parts[i] as string;
    if (typeof want === 'string') {
      if (part !== want) return undefined;
    } else {
      if (part === '') return undefined;
      raw ??= {};
      raw[want.name] = part;
    }
  }
  return raw ?? {};
}

/** Percent-decodes a route's parameters; 400001 naming the parameter when one is malformed. */
export function decodeParams(raw: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value.indexOf('%') === -1) {
      out[name] = value;
      continue;
    }
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      throw new AlarmCenterError(Codes.InvalidParams, `${name}: malformed percent-encoding`);
    }
  }
  return out;
}

/** Refuses a query of more than MAX_QUERY_PARAMETERS parameters with 400001 naming the limit. */
export function checkQuerySize(query: string | undefined): void {
  if (query === undefined || query.length < MAX_QUERY_PARAMETERS) return;
  let count = 1;
  for (let i = query.indexOf('&'); i !== -1; i = query.indexOf('&', i + 1)) count += 1;
  if (count > MAX_QUERY_PARAMETERS) {
    throw new AlarmCenterError(Codes.InvalidParams, `query: more than ${MAX_QUERY_PARAMETERS} parameters (${count})`);
  }
}

/** The requirement a route's access makes, given whether probes are open. */
export function requirementOfRoute(access: Access, probesOpen: boolean): Requirement {
  if (access === 'probe') return probesOpen ? 'open' : 'read';
  return access;
}

/** `METHOD /path/{param}` of each route, the form the OpenAPI document uses. */
export function specKeys(routes: readonly Route[]): string[] {
  return routes.map((r) => `${r.method} ${r.template.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
}

/** A route only express answers. */
export function expressRoute(route: Omit<ExpressRoute, 'fast'>): ExpressRoute {
  return { ...route, fast: false };
}

/** A route the fast path may answer before express. */
export function fastRoute(route: Omit<FastRoute, 'fast'>): FastRoute {
  return { ...route, fast: true };
}
