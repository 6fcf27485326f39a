import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Histogram, type Registry } from 'prom-client';
import type { Logger } from 'winston';
import { pathOf } from './request.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** A caller's request id is echoed when it is a plausible id; otherwise one is made up. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the caller's `x-request-id` when valid, or a new UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : crypto.randomUUID();
}

/**
 * The level of a request's log line: `debug` for a route probes and scrapers poll (the route
 * table's `probe` access) answered 2xx or 3xx, so a kubelet or Prometheus polling every few
 * seconds does not drown the requests of clients; `info` otherwise.
 */
export function requestLogLevel(polled: boolean, status: number): 'debug' | 'info' {
  return status < 400 && polled ? 'debug' : 'info';
}

/** What is known of a request only once it has been routed and authorized. */
export interface Routed {
  /** The route template, or `unmatched`. */
  route(): string;
  /** Whether probes and scrapers poll the route (its access is `probe`). */
  polled(): boolean;
  /** The name of the token the request used, if any. */
  token(): string | undefined;
}

/**
 * Request observability: the `x-request-id` (echoed or made up), a duration histogram by method,
 * route and status code, and one log line per request (method, route, status, duration, request
 * id, and the token's name when one was used) on `finish`, at the level `requestLogLevel` gives;
 * the request pipeline's first step.
 */
export interface Observer {
  track(req: IncomingMessage, res: ServerResponse, routed: Routed): void;
}

export function createObserver(options: { registry: Registry; logger: Logger; prefix?: string }): Observer {
  const duration = new Histogram({
    name: `${options.prefix ?? 'alarm_center_'}http_request_duration_seconds`,
    help: 'Duration of HTTP requests, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [options.registry],
  });
  const logger = options.logger;
  // Children by label values: the label set of a request is looked up, not hashed, each time.
  const children = new Map<string, ReturnType<typeof duration.labels>>();
  const timer = (method: string, route: string, status: number) => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = duration.labels({ method, route, status_code: String(status) });
      children.set(key, child);
    }
    return child;
  };
  const track = (req: IncomingMessage, res: ServerResponse, routed: Routed): void => {
    const start = process.hrtime.bigint();
    const requestId = requestIdOf(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const method = req.method ?? 'GET';
      const route = routed.route();
      timer(method, route, res.statusCode).observe(seconds);
      const level = requestLogLevel(routed.polled(), res.statusCode);
      if (!logger.isLevelEnabled(level)) return;
      logger.log(level, 'request', {
        method,
        route,
        path: pathOf(req),
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e6) / 1000,
        requestId,
        token: routed.token(),
      });
    });
  };
  return { track };
}
