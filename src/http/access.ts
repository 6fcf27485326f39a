/**
 * The access layer in front of every route: security headers, bearer-token authorization, the
 * write rate limit and the refusal of new requests while shutting down. Each is a plain function
 * of the request, used by the hot path (see hot-path.ts) and, through thin middleware, by express;
 * each refusal is a coded error answered by the error responder.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, type Options as RateLimitOptions } from 'express-rate-limit';
import helmet from 'helmet';
import type { Scope } from '../alarm/model.js';
import type { AlarmCenter } from '../center.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { requirementOf, type Principal, type TokenRegistry } from './auth.js';
import { headerOf } from './request.js';
import { DEFAULT_DOMAIN, DEFAULT_PROJECT, DOMAIN_HEADER, projectOfPath } from './scope.js';

export interface AccessOptions {
  tokens: TokenRegistry;
  /** Probes and /metrics need no token. */
  probesOpen: boolean;
  /** Writes per second per token (or per client address without tokens); 0 is off. */
  writeRateLimit: number;
}

/**
 * The scope a /v4 path names, as far as authorization needs it; malformed names are left to the
 * route, which refuses them with 400001.
 */
export function pathScope(path: string, domainHeader: string | undefined): Scope | undefined {
  // `/health` is the default project's cluster health.
  if (path === '/health') return { domain: domainHeader ?? DEFAULT_DOMAIN, project: DEFAULT_PROJECT };
  let project: string | undefined;
  try {
    project = projectOfPath(path);
  } catch {
    return undefined;
  }
  return project === undefined ? undefined : { domain: domainHeader ?? DEFAULT_DOMAIN, project };
}

/**
 * Security headers for a JSON API (nothing may frame, sniff, cache or embed its answers), as
 * helmet sets them: its middleware runs once against a recording response, and every answer
 * gets the recorded list.
 */
function recordSecurityHeaders(): readonly (readonly [string, string])[] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => void headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  const middleware = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    // No HTML is served, and plain-HTTP deployments must not be pinned to HTTPS by a header.
    strictTransportSecurity: false,
  });
  middleware({ method: 'GET', headers: {} } as Request, recorder as unknown as Response, () => undefined);
  return headers;
}

const SECURITY_HEADERS = recordSecurityHeaders();

/** Sets the security headers on an answer. */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
}

/** The security headers as `Name: value` lines, for answers written straight to a socket. */
export function securityHeaderLines(): string[] {
  return SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}`);
}

export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    setSecurityHeaders(res);
    next();
  };
}

/** The principal of a request, checked against the role its route needs; 401002 or 403001 otherwise. */
export function principalOf(options: AccessOptions, req: IncomingMessage, path: string): Principal | undefined {
  const { tokens, probesOpen } = options;
  if (!tokens.enabled) return undefined;
  const need = requirementOf(req.method ?? 'GET', path, probesOpen);
  return tokens.authorize(headerOf(req, 'authorization'), need, pathScope(path, headerOf(req, DOMAIN_HEADER)));
}

/** Authorizes each request for the role its route needs; the principal goes to `res.locals`. */
export function authorization(options: AccessOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.principal = principalOf(options, req, req.path);
    next();
  };
}

const WRITE_PATH = /^\/v4\/[^/]+\/admin\/alarms(\/|$)/;

/**
 * The write rate limit: a one-second window per token, or per client address (IPv6 by /56) when
 * authentication is off, counted by express-rate-limit's memory store. Past it, 429001 with
 * Retry-After in seconds. Reads are never counted.
 */
export class WriteLimiter {
  private readonly store: MemoryStore | undefined;

  constructor(private readonly limit: number) {
    if (limit <= 0) return;
    this.store = new MemoryStore();
    this.store.init({ windowMs: 1000 } as RateLimitOptions);
  }

  /** Whether the request is a write the limit counts. */
  counts(method: string | undefined, path: string): boolean {
    return this.store !== undefined && (method === 'POST' || method === 'DELETE') && WRITE_PATH.test(path);
  }

  /** Counts one write of the client; rejects with 429001 (and the seconds to wait) past the limit. */
  async admit(req: IncomingMessage, res: ServerResponse, principal: Principal | undefined): Promise<void> {
    if (!this.store) return;
    const key = principal ? `token:${principal.name}` : ipKeyGenerator(req.socket.remoteAddress ?? '');
    const { totalHits, resetTime } = await this.store.increment(key);
    if (totalHits <= this.limit) return;
    const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 1;
    res.setHeader('Retry-After', String(seconds));
    throw new AlarmCenterError(Codes.TooManyRequests, `more than ${this.limit} writes in one second; retry after ${seconds} s`);
  }

  close(): void {
    this.store?.shutdown();
  }
}

export function writeRateLimit(limiter: WriteLimiter): RequestHandler {
  return (req, res, next) => {
    if (!limiter.counts(req.method, req.path)) {
      next();
      return;
    }
    limiter.admit(req, res, res.locals.principal as Principal | undefined).then(() => next(), next);
  };
}

/** Paths that keep answering while shutting down: probes must tell the truth to the end. */
const ALWAYS_SERVED = /^\/(livez|readyz|metrics)(\/|$)/;

/** While shutting down, only probes and /metrics are served; anything else is 503001 on a closing connection. */
export function refuseWhileStopping(center: AlarmCenter, path: string, res: ServerResponse): void {
  if (center.state !== 'stopping' || ALWAYS_SERVED.test(path)) return;
  res.setHeader('Connection', 'close');
  throw new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down');
}

export function shutdownGuard(center: AlarmCenter): RequestHandler {
  return (req, res, next) => {
    refuseWhileStopping(center, req.path, res);
    next();
  };
}
