/** Health routes: service-center's cluster health and Kubernetes-style liveness and readiness probes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { AlarmCenterError, Codes } from '../../errors.js';
import type { Scope } from '../../alarm/model.js';
import type { HealthChecker, HealthReport, NamedResult } from '../../health/checker.js';
import { HealthRegistry } from '../../health/registry.js';
import { sendJson, splitTarget } from '../request.js';
import { expressRoute, fastRoute, type Route, type RouteContext } from '../route-table.js';

/** How this instance describes itself in a healthy service-center health answer. */
export interface InstanceInfo {
  instanceId: string;
  serviceId: string;
  hostName: string;
  endpoints: string[];
  status: 'UP';
  version: string;
  timestamp: string;
}

/** service-center's cluster health of a scope: the healthy answer's JSON text, or 400002. */
export type ClusterHealth = (scope: Scope) => Promise<string>;

export interface HealthRouteDeps {
  /** The cluster health the service-center routes answer (see `clusterHealth`). */
  cluster: ClusterHealth;
  /** Every cluster check's result, for the service-center routes' `?verbose` form. */
  clusterReport: (scope: Scope) => Promise<HealthReport>;
  /** Alarm Center's own readiness checks (store, bus, lifecycle). */
  readiness: Pick<HealthRegistry, 'run' | 'runNamed' | 'names'>;
}

function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter((v) => v !== '');
}

/** A check's lines: `[+]name ok`, or `[-]name failed: …` once per reason it gives (once for its detail without). */
function lines(r: NamedResult): string[] {
  if (r.healthy) return [`[+]${r.name} ok`];
  return (r.reasons ?? [r.detail ?? 'reason withheld']).map((reason) => `[-]${r.name} failed: ${reason}`);
}

/** The per-check list of a report, ending with the verdict line. */
function reportText(probe: string, report: HealthReport): string {
  return `${[...report.results.flatMap(lines), `${probe} check ${report.healthy ? 'passed' : 'failed'}`].join('\n')}\n`;
}

/** Kubernetes-style answer: `ok`, or the per-check list with `?verbose` or on failure. */
function sendProbe(req: Request, res: Response, probe: string, report: HealthReport): void {
  res.set('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8');
  if (report.healthy && req.query.verbose === undefined) {
    res.status(200).send('ok');
    return;
  }
  res.status(report.healthy ? 200 : 503).send(reportText(probe, report));
}

/** Whether a request's query has `verbose` (with a value or not). */
function asksVerbose(req: IncomingMessage): boolean {
  const query = splitTarget(req.url ?? '/').query;
  return query !== undefined && new URLSearchParams(query).has('verbose');
}

/**
 * The cluster checks' list as text, as `/readyz?verbose` lists readiness: one `[-]` line per
 * reason (per alarm) that makes the cluster unhealthy; 200 when healthy, 400 otherwise (the
 * status service-center's health answer has).
 */
function sendClusterReport(res: ServerResponse, report: HealthReport): void {
  const text = reportText('cluster', report);
  res.statusCode = report.healthy ? 200 : 400;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** The liveness checks: only that the process answers; never alarms or the store. */
function livenessRegistry(): HealthRegistry {
  const registry = new HealthRegistry();
  const ping: HealthChecker = { name: 'ping', check: () => ({ healthy: true }) };
  registry.register(ping);
  return registry;
}

/**
 * service-center's cluster health of a scope: the answer naming this instance when healthy,
 * 400002 with the unhealthy alarm's detail otherwise.
 */
export function clusterHealth(options: {
  /** The cluster checkers: every one must pass. */
  checkers: Pick<HealthRegistry, 'verdict'>;
  /** Read at the first healthy answer, once the server listens, so the endpoint has its port. */
  instance: () => InstanceInfo;
}): ClusterHealth {
  const { checkers } = options;
  // The instance does not change once the server listens, so its answer is built once.
  let healthyBody: string | undefined;
  return async (scope) => {
    // The scope is validated already; the embedding API's check would repeat it.
    const result = await checkers.verdict(scope);
    if (!result.healthy) throw new AlarmCenterError(Codes.Unhealthy, result.detail ?? '');
    healthyBody ??= JSON.stringify({ instances: [options.instance()] });
    return healthyBody;
  };
}

const probe = { method: 'GET', access: 'probe', counted: false, body: false } as const;

/**
 * The health routes of the route table: service-center's cluster health
 * (`/v4/:project/registry/health`, `/health`, both on the fast path and not served while
 * stopping; `?verbose` lists the cluster checks' reasons as text) and Kubernetes-style `/livez` and `/readyz` probes with `?verbose`, `?exclude=` and
 * per-check paths, served to the end.
 */
export function healthRoutes(options: HealthRouteDeps): Route[] {
  const liveness = livenessRegistry();
  // service-center's two forms of the cluster health probe answer alike.
  const cluster = {
    ...probe,
    whileStopping: false,
    async handle({ req, res, scope }: RouteContext) {
      if (asksVerbose(req)) sendClusterReport(res, await options.clusterReport(scope));
      else sendJson(res, 200, await options.cluster(scope));
    },
  };
  const routes: Route[] = [
    fastRoute({ ...cluster, template: '/v4/:project/registry/health', scope: 'path' }),
    fastRoute({ ...cluster, template: '/health', scope: 'default' }),
  ];
  const probes: [string, HealthRouteDeps['readiness']][] = [
    ['livez', liveness],
    ['readyz', options.readiness],
  ];
  for (const [name, registry] of probes) {
    routes.push(
      expressRoute({
        ...probe,
        template: `/${name}`,
        whileStopping: true,
        scope: 'none',
        async handle({ req, res }) {
          sendProbe(req, res, name, await registry.run(undefined, queryList(req.query.exclude)));
        },
      }),
      expressRoute({
        ...probe,
        template: `/${name}/:check`,
        whileStopping: true,
        scope: 'none',
        async handle({ req, res, params }) {
          const check = params.check as string;
          const result = await registry.runNamed(check);
          if (!result) throw new AlarmCenterError(Codes.NotFound, `no ${name} check named ${check}; known: ${registry.names().join(', ')}`);
          sendProbe(req, res, name, { healthy: result.healthy, results: [result] });
        },
      }),
    );
  }
  return routes;
}
