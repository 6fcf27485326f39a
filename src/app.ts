/**
 * Composition root of the HTTP service: wires the Alarm Center core, the routes, metrics,
 * logging and error handling into an express app. Building the app is kept apart from
 * listening (see server.ts), so tests can mount it on port 0.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { AlarmIds, SELF_SOURCE } from './alarm/model.js';
import { addAlarmRoutes } from './alarm/routes.js';
import type { AlarmCenter } from './center.js';
import { AlarmCenterError, Codes } from './errors.js';
import { addHealthRoutes, type InstanceInfo } from './health/routes.js';
import { authorization, securityHeaders, writeRateLimit, type AccessOptions } from './http/access.js';
import { createErrorHandler, notFound } from './http/error-handler.js';
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

/** Paths that keep answering while shutting down: probes must tell the truth to the end. */
const ALWAYS_SERVED = /^\/(livez|readyz|metrics)(\/|$)/;

/** Builds the express app; it does not listen. */
export function createApp(options: AppOptions): express.Express {
  const { center, registry, logger } = options;
  const httpLogger = logger.child({ component: 'http' });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(createObserver({ registry, logger: httpLogger }));
  app.use(securityHeaders());
  app.use(authorization(options.access));
  app.use(writeRateLimit(options.access));
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (center.state !== 'stopping' || ALWAYS_SERVED.test(req.path)) {
      next();
      return;
    }
    res.set('Connection', 'close');
    next(new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down'));
  });

  // Probes first: they are the most frequent requests and should cross the fewest layers.
  addHealthRoutes(app, { center, instance: options.instance });
  addAlarmRoutes(app, { center, bodyLimitBytes: options.bodyLimitBytes });
  addWatchRoutes(app, { center });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/openapi.yaml', (_req: Request, res: Response) => {
    res.type('application/yaml').send(options.openapi);
  });

  app.use(notFound);
  app.use(
    createErrorHandler({
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
    }),
  );
  return app;
}
