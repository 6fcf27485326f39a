/**
 * The access layer's parts: the security headers every answer carries and the write rate limit.
 * The pipeline (pipeline.ts) applies them, with authorization, to the route each request matched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { ipKeyGenerator, MemoryStore, type Options as RateLimitOptions } from 'express-rate-limit';
import helmet from 'helmet';
import { AlarmCenterError, Codes } from '../errors.js';
import type { Principal, TokenRegistry } from './auth.js';

export interface AccessOptions {
  tokens: TokenRegistry;
  /** Probes and /metrics need no token. */
  probesOpen: boolean;
  /** Writes per second per token (or per client address without tokens); 0 is off. */
  writeRateLimit: number;
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
