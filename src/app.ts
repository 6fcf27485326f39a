/**
 * Composition root of the HTTP service: wires the Alarm Center core, the routes, metrics,
 * logging and error handling into an express app, with the hot path (raises and cluster health
 * probes, see http/hot-path.ts) in front of it. Building the app is kept apart from listening
 * (see server.ts), so tests can mount it on port 0.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { AlarmIds, SELF_SOURCE } from './alarm/model.js';
import { addAlarmRoutes, jsonBody, writeAlarms } from './alarm/routes.js';
import type { AlarmCenter } from './center.js';
import { addHealthRoutes, clusterHealth, type InstanceInfo } from './health/routes.js';
import { authorization, securityHeaders, shutdownGuard, WriteLimiter, writeRateLimit, type AccessOptions } from './http/access.js';
import { createErrorHandler, createErrorResponder, notFound } from './http/error-handler.js';
import { createHotPath, type HotRoute } from './http/hot-path.js';
import { createObserver } from './http/observe.js';
import { scopeOfPath } from './http/scope.js';
import { addWatchRoutes } from './watch/routes.js';

export interface AppOptions {
  center: AlarmCenter;
  registry: Registry;
  logger: Logger;
  bodyLimitBytes: number;
  instance: () => InstanceInfo;
  /** The text served at `/openapi.yaml`. */
  openapi: string;
  access: AccessOptions;
}

/** The HTTP front: express with every route, and the request listener that serves it. */
export interface HttpApp {
  app: express.Express;
  /** The server's request listener: the hot path, then express for everything else. */
  listener: RequestListener;
  /** The routes the hot path answers before express (express serves them too). */
  hotRoutes: readonly HotRoute[];
  /** Stops the app's timers (the rate limit's window). */
  close(): void;
}


/** Builds the app and its listener; it does not listen. */
export function createApp(options: AppOptions): HttpApp {
  const { center, registry, logger } = options;
  const httpLogger = logger.child({ component: 'http' });
  const observer = createObserver({ registry, logger: httpLogger });
  const limiter = new WriteLimiter(options.access.writeRateLimit);
  const json = jsonBody(options.bodyLimitBytes);
  const respond = createErrorResponder({
    logger: httpLogger,
    onServerError(req, error) {
      // As service-center's error handler does: every 5xx answer raises InternalError.
      if (center.state === 'stopping') return;
      center
        .raise(scopeOfPath(req), {
          id: AlarmIds.InternalError,
          source: SELF_SOURCE,
          severity: 'major',
          fields: { detail: error.detail || error.message },
        })
        .catch((err: unknown) => httpLogger.warn('InternalError alarm not raised', { error: String(err) }));
    },
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(observer.middleware);
  app.use(securityHeaders());
  app.use(authorization(options.access));
  app.use(writeRateLimit(limiter));
  app.use(shutdownGuard(center));

  // Probes first: they are the most frequent requests and should cross the fewest layers.
  const health = clusterHealth({ center, instance: options.instance });
  addHealthRoutes(app, { center, cluster: health });
  addAlarmRoutes(app, { center, json });
  addWatchRoutes(app, { center });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/openapi.yaml', (_req: Request, res: Response) => {
    res.type('application/yaml').send(options.openapi);
  });

  app.use(notFound);
  app.use(createErrorHandler(respond));

  const routes: HotRoute[] = [
    { method: 'POST', template: '/v4/:project/admin/alarms', body: true, answer: (scope, body) => writeAlarms(center, scope, body) },
    { method: 'GET', template: '/v4/:project/registry/health', body: false, answer: health },
    { method: 'GET', template: '/health', body: false, answer: health },
  ];
  const hot = createHotPath({ center, access: options.access, limiter, observer, json, respond, routes });
  return {
    app,
    listener(req: IncomingMessage, res: ServerResponse) {
      if (!hot(req, res)) app(req, res);
    },
    hotRoutes: routes,
    close: () => limiter.close(),
  };
}
