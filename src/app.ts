/**
 * Composition root of the HTTP service: wires the Alarm Center core, the routes, metrics,
 * logging and error handling into an express app, with the hot path (raises and cluster health
 * probes, see http/hot-path.ts) in front of it. Building the app is kept apart from listening
 * (see server.ts), so tests can mount it on port 0.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { AlarmIds, AlarmInputSchema, SELF_SOURCE } from './alarm/model.js';
import type { AlarmService } from './alarm/service.js';
import { AlarmCenterError, Codes } from './errors.js';
import { WriteLimiter, type AccessOptions } from './http/access.js';
import { createErrorHandler, createErrorResponder, notFound, type ErrorResponder } from './http/error-handler.js';
import { createHotPath } from './http/hot-path.js';
import { createObserver } from './http/observe.js';
import { contextOf, createPipeline, type Pipeline } from './http/pipeline.js';
import { RouteTable, expressRoute, type Route } from './http/route-table.js';
import { alarmRoutes, type AlarmRouteDeps } from './http/routes/alarms.js';
import { jsonBody, jsonTextBody } from './http/json-body.js';
import { consoleRoutes } from './http/routes/console.js';
import { clusterHealth, healthRoutes, type HealthRouteDeps, type InstanceInfo } from './http/routes/health.js';
import { intakeRoutes, type IntakeRouteDeps } from './http/routes/intake.js';
import { watchRoutes, type WatchRouteDeps } from './http/routes/watch.js';
import { webhookRoutes, type WebhookRouteDeps } from './http/routes/webhooks.js';
import { checkRoutes, type CheckRouteDeps } from './http/routes/checks.js';
import { webSocketWatch } from './http/routes/watch-socket.js';
import type { HealthRegistry } from './health/registry.js';
import { DEFAULT_DOMAIN, DEFAULT_PROJECT } from './http/scope.js';

/** What the HTTP front uses of the core: each route area gets only its part. */
export interface AppOptions {
  alarms: AlarmRouteDeps['alarms'] & Pick<AlarmService, 'raise'>;
  /** The version of the listed alarms (list answers are cached by it). */
  version(): number;
  history: WatchRouteDeps['history'];
  hub: WatchRouteDeps['hub'];
  /** The cluster checkers of service-center's health probe. */
  cluster: Pick<HealthRegistry, 'verdict' | 'run'>;
  readiness: HealthRouteDeps['readiness'];
  /** Whether Alarm Center is stopping: only the routes served while stopping answer. */
  stopping(): boolean;
  registry: Registry;
  logger: Logger;
  bodyLimitBytes: number;
  instance: () => InstanceInfo;
  /** The text served at `/openapi.yaml`. */
  openapi: string;
  /** Alertmanager's and PagerDuty's intakes. */
  intake: Omit<IntakeRouteDeps, 'registry' | 'logger'>;
  access: AccessOptions;
  /** Durable webhooks' state and dead letters, for their admin routes. */
  webhooks?: WebhookRouteDeps['webhooks'];
  /** Heartbeats and active checks, for their routes. */
  heartbeats?: CheckRouteDeps['heartbeats'];
  checks?: CheckRouteDeps['checks'];
}

/** The HTTP front: express with every route, and the request listener that serves it. */
export interface HttpApp {
  app: express.Express;
  /** The server's request listener: the hot path, then express for everything else. */
  listener: RequestListener;
  /** Every route; express's routes, the hot path and authorization are derived from it. */
  table: RouteTable;
  /** The request pipeline, which WebSocket upgrades run too. */
  pipeline: Pipeline;
  /** The server's `upgrade` listener: WebSocket watches, through the pipeline. */
  upgrade: ReturnType<typeof webSocketWatch>;
  /** The one place errors become answers. */
  respond: ErrorResponder;
  /** Stops the app's timers (the rate limit's window). */
  close(): void;
}

/** `/metrics` and `/openapi.yaml`. */
function metaRoutes(registry: Registry, openapi: string): Route[] {
  const base = { method: 'GET', counted: false, scope: 'none', body: false } as const;
  return [
    expressRoute({
      ...base,
      template: '/metrics',
      access: 'probe',
      whileStopping: true,
      async handle({ res }) {
        res.type(registry.contentType).send(await registry.metrics());
      },
    }),
    expressRoute({
      ...base,
      template: '/openapi.yaml',
      access: 'open',
      whileStopping: false,
      handle({ res }) {
        res.type('application/yaml').send(openapi);
      },
    }),
  ];
}

/** express's query parser: every parameter (the pipeline has refused more than the limit). */
function parseQuery(text: string): querystring.ParsedUrlQuery {
  return querystring.parse(text, '&', '=', { maxKeys: 0 });
}

/** Builds the app and its listener; it does not listen. */
export function createApp(options: AppOptions): HttpApp {
  const { alarms, registry, logger } = options;
  const httpLogger = logger.child({ component: 'http' });
  const observer = createObserver({ registry, logger: httpLogger });
  const limiter = new WriteLimiter(options.access.writeRateLimit);
  const json = jsonBody(options.bodyLimitBytes);
  const cluster = clusterHealth({ checkers: options.cluster, instance: options.instance });
  const table = new RouteTable([
    // Probes first: they are the most frequent requests.
    ...healthRoutes({ cluster, clusterReport: (scope) => options.cluster.run(scope), readiness: options.readiness }),
    ...alarmRoutes({ alarms, version: options.version }),
    ...watchRoutes({ history: options.history, hub: options.hub }),
    ...intakeRoutes({ ...options.intake, registry, logger }),
    ...webhookRoutes({ webhooks: options.webhooks }),
    ...checkRoutes({ heartbeats: options.heartbeats, checks: options.checks }),
    ...metaRoutes(registry, options.openapi),
    ...consoleRoutes({ tokens: options.access.tokens }),
  ]);
  const { stopping } = options;
  const pipeline = createPipeline({ table, access: options.access, limiter, observer, json, jsonText: jsonTextBody(options.bodyLimitBytes), stopping });
  const respond = createErrorResponder({
    logger: httpLogger,
    onServerError(req, error) {
      // As service-center's error handler does: every 5xx answer raises InternalError.
      if (stopping()) return;
      const scope = pipeline.stateOf(req)?.scope ?? { domain: DEFAULT_DOMAIN, project: DEFAULT_PROJECT };
      const input = AlarmInputSchema.safeParse({
        id: AlarmIds.InternalError,
        source: SELF_SOURCE,
        severity: 'major',
        fields: { detail: error.detail || error.message },
      });
      if (!input.success) {
        httpLogger.warn('InternalError alarm not raised', { error: input.error.message });
        return;
      }
      alarms
        .raise(scope, input.data)
        .catch((err: unknown) => httpLogger.warn('InternalError alarm not raised', { error: String(err) }));
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', parseQuery);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use((req: Request, res: Response, next: NextFunction) => {
    let ran;
    try {
      ran = pipeline.run(req, res);
    } catch (err) {
      next(err);
      return;
    }
    if (ran instanceof Promise) ran.then(() => next(), next);
    else next();
  });
  for (const route of table.routes) {
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    app[method](route.template, (req: Request, _res: Response) => {
      const state = pipeline.stateOf(req);
      // The pipeline authorized the route it matched; only that route's handler may answer.
      if (state?.route !== route) throw new AlarmCenterError(Codes.NotFound, `no route for ${req.method} ${req.path}`);
      return route.handle(contextOf<Request, Response>(state));
    });
  }
  app.use(notFound);
  app.use(createErrorHandler(respond));

  const hot = createHotPath({ table, pipeline, respond });
  return {
    app,
    listener(req: IncomingMessage, res: ServerResponse) {
      if (!hot(req, res)) app(req, res);
    },
    table,
    pipeline,
    upgrade: webSocketWatch({ hub: options.hub, logger: logger.child({ component: 'watch' }), pipeline, respond }),
    respond,
    close: () => limiter.close(),
  };
}
