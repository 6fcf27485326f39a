/**
 * The access layer in front of every route: security headers, bearer-token authorization and the
 * write rate limit. Each refusal is a coded error answered by the error handler.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import helmet from 'helmet';
import type { Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { requirementOf, type Principal, type TokenRegistry } from './auth.js';
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

/** Security headers for a JSON API: nothing may frame, sniff, cache or embed its answers. */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    // No HTML is served, and plain-HTTP deployments must not be pinned to HTTPS by a header.
    strictTransportSecurity: false,
  });
}

/**
 * The security headers as a list, for answers written outside express (a refused WebSocket
 * upgrade): helmet's middleware run once against a recording response.
 */
export function securityHeaderLines(): string[] {
  const lines: string[] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => void lines.push(`${name}: ${String(value)}`),
    removeHeader: () => undefined,
  };
  securityHeaders()({ method: 'GET', headers: {} } as Request, recorder as unknown as Response, () => undefined);
  return lines;
}

/** Authorizes each request for the role its route needs; the principal goes to `res.locals`. */
export function authorization(options: AccessOptions): RequestHandler {
  const { tokens, probesOpen } = options;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!tokens.enabled) {
      next();
      return;
    }
    const need = requirementOf(req.method, req.path, probesOpen);
    res.locals.principal = tokens.authorize(req.get('authorization'), need, pathScope(req.path, req.get(DOMAIN_HEADER)));
    next();
  };
}

const WRITE_PATH = /^\/v4\/[^/]+\/admin\/alarms(\/|$)/;

/**
 * The write rate limit: a one-second window per token, or per client address (IPv6 by /56) when
 * authentication is off. Past it, 429001 with Retry-After in seconds.
 */
export function writeRateLimit(options: AccessOptions): RequestHandler {
  if (options.writeRateLimit <= 0) return (_req, _res, next) => next();
  const limiter = rateLimit({
    windowMs: 1000,
    limit: options.writeRateLimit,
    standardHeaders: false,
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const principal = res.locals.principal as Principal | undefined;
      return principal ? `token:${principal.name}` : ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '');
    },
    handler: (req, res, next) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 1;
      res.set('Retry-After', String(seconds));
      next(new AlarmCenterError(Codes.TooManyRequests, `more than ${options.writeRateLimit} writes in one second; retry after ${seconds} s`));
    },
  });
  // Reads never reach the limiter (it is asynchronous, and the probes are the hottest path).
  return (req, res, next) => {
    if ((req.method === 'POST' || req.method === 'DELETE') && WRITE_PATH.test(req.path)) void limiter(req, res, next);
    else next();
  };
}
