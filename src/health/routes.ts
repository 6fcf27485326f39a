import type { IRouter, Request, Response } from 'express';
import type { AlarmCenter } from '../center.js';
import { AlarmCenterError, Codes } from '../errors.js';
import type { Scope } from '../alarm/model.js';
import { sendJson } from '../http/request.js';
import { scopeOf } from '../http/scope.js';
import type { HealthChecker, HealthReport, NamedResult } from './checker.js';
import { HealthRegistry } from './registry.js';

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

export interface HealthRouterOptions {
  center: AlarmCenter;
  /** The cluster health the service-center routes answer (see `clusterHealth`). */
  cluster: ClusterHealth;
}

function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter((v) => v !== '');
}

function line(r: NamedResult): string {
  return r.healthy ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.detail ?? 'reason withheld'}`;
}

/** Kubernetes-style answer: `ok`, or the per-check list with `?verbose` or on failure. */
function sendProbe(req: Request, res: Response, probe: string, report: HealthReport): void {
  res.set('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8');
  if (report.healthy && req.query.verbose === undefined) {
    res.status(200).send('ok');
    return;
  }
  const lines = report.results.map(line);
  lines.push(`${probe} check ${report.healthy ? 'passed' : 'failed'}`);
  res.status(report.healthy ? 200 : 503).send(`${lines.join('\n')}\n`);
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
  center: AlarmCenter;
  /** Read at the first healthy answer, once the server listens, so the endpoint has its port. */
  instance: () => InstanceInfo;
}): ClusterHealth {
  const { center } = options;
  // The instance does not change once the server listens, so its answer is built once.
  let healthyBody: string | undefined;
  return async (scope) => {
    // The scope is validated already; the embedding API's check would repeat it.
    const result = await center.cluster.verdict(scope);
    if (!result.healthy) throw new AlarmCenterError(Codes.Unhealthy, result.detail ?? '');
    healthyBody ??= JSON.stringify({ instances: [options.instance()] });
    return healthyBody;
  };
}

/**
 * Adds the health endpoints to `router`: service-center's cluster health (`/v4/:project/registry/health`, `/health`)
 * and Kubernetes-style `/livez` and `/readyz` probes with `?verbose`, `?exclude=` and per-check paths.
 */
export function addHealthRoutes(router: IRouter, options: HealthRouterOptions): void {
  const { center } = options;
  const liveness = livenessRegistry();

  const cluster = async (req: Request, res: Response) => {
    sendJson(res, 200, await options.cluster(scopeOf(req)));
  };
  router.get('/v4/:project/registry/health', cluster);
  router.get('/health', cluster);

  const probes: [string, HealthRegistry][] = [
    ['livez', liveness],
    ['readyz', center.readiness],
  ];
  for (const [probe, registry] of probes) {
    router.get(`/${probe}`, async (req: Request, res: Response) => {
      sendProbe(req, res, probe, await registry.run(undefined, queryList(req.query.exclude)));
    });
    router.get(`/${probe}/:check`, async (req: Request, res: Response) => {
      const name = String(req.params.check);
      const result = await registry.runNamed(name);
      if (!result) throw new AlarmCenterError(Codes.NotFound, `no ${probe} check named ${name}; known: ${registry.names().join(', ')}`);
      sendProbe(req, res, probe, { healthy: result.healthy, results: [result] });
    });
  }
}
