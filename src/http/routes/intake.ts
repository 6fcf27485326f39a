/**
 * Intake from the Prometheus world and PagerDuty's clients (src/intake/ maps the bodies):
 * Alertmanager's API v2 (Prometheus sends its alerts there; amtool adds and queries them), an
 * Alertmanager webhook receiver, and PagerDuty's Events API v2. Each body's valid alerts are
 * applied in one write, committed before the answer.
 *
 * Errors: the Alertmanager API's own 400s are JSON strings, as Alertmanager answers them (amtool
 * prints them); PagerDuty's are its `invalid event` body; everything else (tokens, limits, a
 * store that is down: 503, which Prometheus and Alertmanager retry) is the usual error body.
 */
import crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { Alarm, Scope } from '../../alarm/model.js';
import type { AlarmService } from '../../alarm/service.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import { parseAlertmanagerWebhook, parsePostableAlerts } from '../../intake/alertmanager.js';
import { gettableAlert } from '../../intake/gettable-alert.js';
import { matches, parseMatchers } from '../../intake/matchers.js';
import type { IntakeBatch, IntakeOp } from '../../intake/op.js';
import { INVALID_EVENT_MESSAGE, parsePagerDutyEvent } from '../../intake/pagerduty.js';
import { statusBody } from '../../intake/status-body.js';
import type { PostableAlertsParser } from '../../intake/parser-pool.js';
import { malformedJson } from '../json-body.js';
import { sendJson } from '../request.js';
import { expressRoute, fastRoute, type Route, type RouteContext } from '../route-table.js';

/** Which intake a counted alert came through. */
type Intake = 'alertmanager_api' | 'alertmanager_webhook' | 'pagerduty';

/** What the intake routes use. */
export interface IntakeRouteDeps {
  alarms: Pick<AlarmService, 'applyOps' | 'list'>;
  clock: () => number;
  /** How long an alert sent without `endsAt` stays active (Alertmanager's resolve_timeout). */
  resolveTimeoutMs: number;
  /** Reads Alertmanager API v2 bodies, off the event loop when it has threads. */
  parser: Pick<PostableAlertsParser, 'parse'>;
  /** The id of PagerDuty alarms whose `payload.class` is not an alarm id. */
  pagerdutyAlarmId: string;
  /** Alarm Center's version and start, for the status amtool reads. */
  version: string;
  startedAt: number;
  registry: Registry;
  logger: Logger;
}

/** The query parameters of Alertmanager's GET /api/v2/alerts. */
const ALERT_QUERY = new Set(['filter', 'active', 'silenced', 'inhibited', 'unprocessed', 'receiver']);
const BOOLEAN_QUERY = ['active', 'silenced', 'inhibited', 'unprocessed'] as const;

/** An Alertmanager API error: a JSON string, as Alertmanager answers them. */
function sendAlertmanagerError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, JSON.stringify(message));
}

const values = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** The matchers and `active` of a GET /api/v2/alerts query, or the message of a 400. */
function readAlertQuery(query: Record<string, unknown>): { ok: true; filter: ReturnType<typeof parseMatchers>; active: boolean } | { ok: false; error: string } {
  for (const key of Object.keys(query)) if (!ALERT_QUERY.has(key)) return { ok: false, error: `query: unknown parameter ${key}` };
  const flags: Partial<Record<(typeof BOOLEAN_QUERY)[number], boolean>> = {};
  for (const key of BOOLEAN_QUERY) {
    const given = values(query[key]);
    if (given.length === 0) continue;
    if (given.length > 1 || (given[0] !== 'true' && given[0] !== 'false')) return { ok: false, error: `query: ${key} must be true or false` };
    flags[key] = given[0] === 'true';
  }
  return { ok: true, filter: parseMatchers(values(query.filter)), active: flags.active ?? true };
}

/** Alertmanager's API v2 and webhook, PagerDuty's Events API v2. */
export function intakeRoutes(deps: IntakeRouteDeps): Route[] {
  const { alarms, clock, resolveTimeoutMs } = deps;
  const log = deps.logger.child({ component: 'intake' });
  const counted = new Counter({
    name: 'alarm_center_intake_alerts_total',
    help: 'Alerts and events received by the intakes, by intake and result: accepted (stored), invalid, or failed (refused by a limit or an unavailable store).',
    labelNames: ['intake', 'result'],
    registers: [deps.registry],
  });
  /** Applies the valid alerts of a body in one write, counting them as stored or failed, and the invalid ones. */
  const apply = async (intake: Intake, scope: Scope, batch: { ops: readonly IntakeOp[]; errors: readonly string[] }) => {
    if (batch.errors.length > 0) counted.inc({ intake, result: 'invalid' }, batch.errors.length);
    if (batch.ops.length === 0) return;
    try {
      await alarms.applyOps(scope, batch.ops);
    } catch (err) {
      counted.inc({ intake, result: 'failed' }, batch.ops.length);
      throw err;
    }
    counted.inc({ intake, result: 'accepted' }, batch.ops.length);
  };

  const write = { access: 'write', counted: true, whileStopping: false, body: true } as const;
  const read = { access: 'read', counted: false, whileStopping: false, body: false } as const;

  /**
   * POST /api/v2/alerts: the valid alerts are applied; 400 names the others, as Alertmanager does.
   * The body comes as its text (none: undefined), read by the parser threads.
   */
  const postAlerts = async ({ res, scope, body }: RouteContext) => {
    const parsed = typeof body === 'string' ? await deps.parser.parse(body, clock(), resolveTimeoutMs) : { ok: true as const, batch: parsePostableAlerts(body, clock(), resolveTimeoutMs) };
    if (!parsed.ok) throw malformedJson(parsed.malformed);
    const { batch } = parsed;
    await apply('alertmanager_api', scope, batch);
    if (batch.errors.length > 0) {
      sendAlertmanagerError(res, 400, batch.errors.join('; '));
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Length', 0);
    res.end();
  };

  /** GET /api/v2/alerts: the scope's ACTIVATED alarms as Alertmanager's gettableAlerts, filtered. */
  const getAlerts = ({ req, res, scope }: RouteContext) => {
    const q = readAlertQuery((req as { query?: Record<string, unknown> }).query ?? {});
    if (!q.ok) return sendAlertmanagerError(res, 400, q.error);
    if (!q.filter.ok) return sendAlertmanagerError(res, 400, q.filter.error);
    const { matchers } = q.filter;
    const listed = q.active ? alarms.list(scope, { status: 'ACTIVATED' }).alarms : [];
    const out = [];
    for (const alarm of listed) {
      const alert = gettableAlert(alarm);
      if (matches(alert.labels, matchers)) out.push(alert);
    }
    sendJson(res, 200, JSON.stringify(out));
  };

  const getStatus = ({ res }: RouteContext) => {
    sendJson(res, 200, JSON.stringify(statusBody({ version: deps.version, startedAt: deps.startedAt })));
  };

  /** Alarm Center has no silences; amtool's `silence query` gets none rather than a 404. */
  const getSilences = ({ res }: RouteContext) => sendJson(res, 200, '[]');

  /** An Alertmanager webhook: firing alerts raise, resolved ones clear. Alertmanager drops a 4xx: log and count it. */
  const postWebhook = async ({ res, scope, body }: RouteContext) => {
    const batch: IntakeBatch = parseAlertmanagerWebhook(body, clock());
    await apply('alertmanager_webhook', scope, batch);
    if (batch.errors.length > 0) {
      const detail = batch.errors.join('; ');
      log.warn('Alertmanager webhook body refused', { domain: scope.domain, project: scope.project, applied: batch.ops.length, detail });
      throw new AlarmCenterError(Codes.InvalidParams, detail);
    }
    sendJson(res, 200, JSON.stringify({ status: 'success', alerts: batch.ops.length }));
  };

  /**
   * A PagerDuty event: trigger raises (a new `dedup_key` when it has none), acknowledge and
   * resolve act on the scope's alarms a trigger of the `dedup_key` raised (whatever id it gave
   * them; never an alarm of another intake that has the key as source); acknowledging or
   * resolving nothing is accepted, as PagerDuty accepts it.
   */
  const postEvent = async ({ res, scope, body }: RouteContext) => {
    const event = parsePagerDutyEvent(body, { newDedupKey: () => crypto.randomBytes(16).toString('hex'), defaultId: deps.pagerdutyAlarmId });
    if (!event.ok) {
      counted.inc({ intake: 'pagerduty', result: 'invalid' });
      sendJson(res, 400, JSON.stringify({ status: 'invalid event', message: INVALID_EVENT_MESSAGE, errors: event.errors }));
      return;
    }
    const { op, dedupKey } = event;
    // The alarms a trigger of this key made: the default id, or the id its payload.class gave.
    const fromTrigger = (a: Alarm) => a.id === deps.pagerdutyAlarmId || a.fields.class === a.id;
    const targets =
      op.kind === 'raise' ? [op] : alarms.list(scope, { source: dedupKey, status: 'ACTIVATED' }).alarms.filter(fromTrigger).map((a) => ({ ...op, id: a.id }));
    if (targets.length > 0) await apply('pagerduty', scope, { ops: targets, errors: [] });
    else counted.inc({ intake: 'pagerduty', result: 'accepted' });
    sendJson(res, 202, JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedupKey }));
  };
  const routingKey = {
    field: 'routing_key',
    of: (body: unknown) => {
      const key = typeof body === 'object' && body !== null ? (body as { routing_key?: unknown }).routing_key : undefined;
      return typeof key === 'string' ? key : undefined;
    },
  };

  return [
    fastRoute({ ...write, body: 'text', method: 'POST', template: '/api/v2/alerts', scope: 'default', handle: postAlerts }),
    fastRoute({ ...write, body: 'text', method: 'POST', template: '/v4/:project/api/v2/alerts', scope: 'path', handle: postAlerts }),
    expressRoute({ ...read, method: 'GET', template: '/api/v2/alerts', scope: 'default', handle: getAlerts }),
    expressRoute({ ...read, method: 'GET', template: '/v4/:project/api/v2/alerts', scope: 'path', handle: getAlerts }),
    expressRoute({ ...read, method: 'GET', template: '/api/v2/status', scope: 'default', handle: getStatus }),
    expressRoute({ ...read, method: 'GET', template: '/v4/:project/api/v2/status', scope: 'path', handle: getStatus }),
    expressRoute({ ...read, method: 'GET', template: '/api/v2/silences', scope: 'default', handle: getSilences }),
    expressRoute({ ...read, method: 'GET', template: '/v4/:project/api/v2/silences', scope: 'path', handle: getSilences }),
    expressRoute({ ...write, method: 'POST', template: '/v4/:project/integrations/alertmanager', scope: 'path', handle: postWebhook }),
    expressRoute({ ...write, method: 'POST', template: '/v4/:project/integrations/pagerduty', scope: 'path', bodyToken: routingKey, handle: postEvent }),
    expressRoute({ ...write, method: 'POST', template: '/v2/enqueue', scope: 'default', bodyToken: routingKey, handle: postEvent }),
  ];
}
