/**
 * The routes of heartbeats and active checks: heartbeats registered, beaten, listed and removed
 * per project (a cron job ends with one PUT), and the checks of the config file raising into the
 * project, read-only. Names are the sources of their alarms.
 */
import { z } from 'zod';
import { AlarmInputSchema, MAX_FIELDS_BYTES, MAX_TTL_SECONDS, NAME_PATTERN, SEVERITIES, describeIssues, isoTime } from '../../alarm/model.js';
import { publicUrl } from '../../config-lists.js';
import type { CheckStatus, Checks } from '../../checks/checks.js';
import type { HeartbeatStatus, Heartbeats } from '../../checks/heartbeats.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import { sendJson } from '../request.js';
import { expressRoute, fastRoute, type Route } from '../route-table.js';

/** What the routes use; heartbeats are absent on a store that keeps none. */
export interface CheckRouteDeps {
  heartbeats: Pick<Heartbeats, 'beat' | 'list' | 'remove'> | undefined;
  checks: Pick<Checks, 'list'> | undefined;
}

/** Room left in an alarm's fields for the detail a lapse adds to a heartbeat's own. */
const DETAIL_ROOM = 512;

const HeartbeatBodySchema = z.strictObject({
  timeoutSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional(),
  severity: z.enum(SEVERITIES).optional(),
  fields: AlarmInputSchema.shape.fields
    .unwrap()
    .refine((f) => Buffer.byteLength(JSON.stringify(f)) <= MAX_FIELDS_BYTES - DETAIL_ROOM, `must be at most ${MAX_FIELDS_BYTES - DETAIL_ROOM} bytes as JSON`)
    .optional(),
});

function heartbeatJson({ heartbeat: h, state }: HeartbeatStatus): Record<string, unknown> {
  return {
    name: h.name,
    timeoutSeconds: h.timeoutMs / 1000,
    severity: h.severity,
    fields: JSON.parse(h.fieldsJson) as unknown,
    lastBeat: isoTime(h.lastBeat),
    deadline: isoTime(h.deadline),
    state,
    createdAt: isoTime(h.createdAt),
  };
}

function checkJson(s: CheckStatus): Record<string, unknown> {
  const c = s.config;
  return {
    name: c.name,
    ...(c.http !== undefined ? { http: publicUrl(c.http), expectStatus: c.expectStatus ?? '200-399' } : { tcp: c.tcp }),
    ...(c.bodyContains !== undefined && { bodyContains: c.bodyContains }),
    intervalSeconds: c.intervalSeconds,
    timeoutSeconds: c.timeoutSeconds,
    failureThreshold: c.failureThreshold,
    successThreshold: c.successThreshold,
    severity: c.severity,
    running: s.running,
    raised: s.raised,
    consecutiveFailures: s.consecutiveFailures,
    consecutiveSuccesses: s.consecutiveSuccesses,
    ...(s.last && { lastRunAt: isoTime(s.last.at), lastDurationSeconds: s.last.durationMs / 1000 }),
    ...(s.last?.error !== undefined && { lastError: s.last.error }),
  };
}

/** The heartbeat name of the path, checked. */
function nameOf(params: Readonly<Record<string, string>>): string {
  const name = params.name as string;
  if (!NAME_PATTERN.test(name)) throw new AlarmCenterError(Codes.InvalidParams, 'name: must match [A-Za-z0-9._:-]{1,128}');
  return name;
}

function noQuery(query: Record<string, unknown>): void {
  const [key] = Object.keys(query);
  if (key !== undefined) throw new AlarmCenterError(Codes.InvalidParams, `query: unrecognized key "${key}"`);
}

function keeping<T>(part: T | undefined): T {
  if (!part) throw new AlarmCenterError(Codes.Unavailable, 'this store keeps no heartbeats');
  return part;
}

const scoped = { whileStopping: false, scope: 'path' } as const;

/** The heartbeat and check routes of the route table. */
export function checkRoutes({ heartbeats, checks }: CheckRouteDeps): Route[] {
  const base = '/v4/:project/admin/heartbeats';
  return [
    expressRoute({
      ...scoped,
      method: 'GET',
      template: base,
      access: 'read',
      counted: false,
      body: false,
      async handle({ req, res, scope }) {
        noQuery(req.query);
        const list = await keeping(heartbeats).list(scope);
        sendJson(res, 200, JSON.stringify({ heartbeats: list.map(heartbeatJson) }));
      },
    }),
    // A beat comes on its own, often (a fleet of jobs, each every few seconds): the fast path,
    // and a log line at debug when it is taken, as a probe's.
    fastRoute({
      ...scoped,
      polled: true,
      method: 'PUT',
      template: `${base}/:name`,
      access: 'write',
      counted: true,
      body: true,
      async handle({ res, params, scope, body }) {
        const name = nameOf(params);
        const b = HeartbeatBodySchema.safeParse(body ?? {});
        if (!b.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(b.error, 'body'));
        const beat = await keeping(heartbeats).beat(scope, name, b.data);
        sendJson(res, 200, JSON.stringify({ heartbeat: heartbeatJson(beat) }));
      },
    }),
    expressRoute({
      ...scoped,
      method: 'DELETE',
      template: `${base}/:name`,
      access: 'write',
      counted: true,
      body: false,
      async handle({ res, params, scope }) {
        const removed = await keeping(heartbeats).remove(scope, nameOf(params));
        sendJson(res, 200, JSON.stringify({ heartbeat: heartbeatJson(removed) }));
      },
    }),
    expressRoute({
      ...scoped,
      method: 'GET',
      template: '/v4/:project/admin/checks',
      access: 'read',
      counted: false,
      body: false,
      handle({ req, res, scope }) {
        noQuery(req.query);
        sendJson(res, 200, JSON.stringify({ checks: (checks?.list(scope) ?? []).map(checkJson) }));
      },
    }),
  ];
}
