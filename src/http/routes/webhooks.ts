/**
 * The durable webhooks' admin routes: each webhook's state, and its dead letters, listed and
 * queued to be sent again. Webhooks are global (the config file's); the list of webhooks is the
 * same under every project, while dead letters are those of the alarms of the path's domain and
 * project, so a token limited to some projects sees and retries only their alarms' changes.
 */
import { z } from 'zod';
import { wireAction } from '../../alarm/answers.js';
import { describeIssues, isoTime } from '../../alarm/model.js';
import type { WebhookFailure } from '../../alarm/store.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import type { WebhookAdmin, WebhookStatus } from '../../notify/webhooks.js';
import { sendJson } from '../request.js';
import { expressRoute, type Route } from '../route-table.js';

/** What the webhook routes use: the dispatcher, absent on a store without webhook state. */
export interface WebhookRouteDeps {
  webhooks: Pick<WebhookAdmin, 'list' | 'failures' | 'retry'> | undefined;
}

/** Most dead letters one answer lists, and most revisions one retry names. */
const MAX_LISTED = 1000;

const FailedQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_LISTED).default(100),
});

const RetryBodySchema = z.strictObject({
  revisions: z.array(z.number().int().min(1)).min(1).max(MAX_LISTED).optional(),
});

function statusJson(s: WebhookStatus): Record<string, unknown> {
  return {
    name: s.name,
    url: s.url,
    format: s.format,
    cursor: s.cursor,
    lag: s.lag,
    delivering: s.delivering,
    ...(s.lastSuccessAt !== undefined && { lastSuccessAt: isoTime(s.lastSuccessAt) }),
    ...(s.lastError !== undefined && { lastError: s.lastError }),
    ...(s.lastErrorAt !== undefined && { lastErrorAt: isoTime(s.lastErrorAt) }),
    deadLetters: s.deadLetters,
  };
}

function failureJson(f: WebhookFailure): Record<string, unknown> {
  const a = f.entry.alarm;
  return {
    revision: f.entry.revision,
    action: wireAction(f.entry.action),
    alarm: { domain: a.domain, project: a.project, id: a.id, source: a.source },
    attempts: f.attempts,
    lastError: f.error,
    failedAt: isoTime(f.failedAt),
    queued: f.queued,
  };
}

function unknownWebhook(name: string): AlarmCenterError {
  return new AlarmCenterError(Codes.NotFound, `name: no webhook named ${JSON.stringify(name)} is configured`);
}

const admin = { access: 'admin', whileStopping: false, scope: 'path' } as const;

/** The webhook routes of the route table. */
export function webhookRoutes({ webhooks }: WebhookRouteDeps): Route[] {
  const base = '/v4/:project/admin/webhooks';
  return [
    expressRoute({
      ...admin,
      method: 'GET',
      template: base,
      counted: false,
      body: false,
      async handle({ req, res }) {
        if (Object.keys(req.query).length > 0) throw new AlarmCenterError(Codes.InvalidParams, `query: unrecognized key "${Object.keys(req.query)[0]}"`);
        const list = (await webhooks?.list()) ?? [];
        sendJson(res, 200, JSON.stringify({ webhooks: list.map(statusJson) }));
      },
    }),
    expressRoute({
      ...admin,
      method: 'GET',
      template: `${base}/:name/failed`,
      counted: false,
      body: false,
      async handle({ req, res, params, scope }) {
        const q = FailedQuerySchema.safeParse(req.query);
        if (!q.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(q.error, 'query'));
        const name = params.name as string;
        const found = await webhooks?.failures(name, scope, q.data.limit);
        if (!found) throw unknownWebhook(name);
        sendJson(res, 200, JSON.stringify({ failures: found.failures.map(failureJson), total: found.total }));
      },
    }),
    expressRoute({
      ...admin,
      method: 'POST',
      template: `${base}/:name/failed`,
      counted: true,
      body: true,
      async handle({ res, params, scope, body }) {
        const b = RetryBodySchema.safeParse(body ?? {});
        if (!b.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(b.error, 'body'));
        const name = params.name as string;
        const queued = await webhooks?.retry(name, scope, b.data.revisions);
        if (queued === undefined) throw unknownWebhook(name);
        sendJson(res, 200, JSON.stringify({ queued }));
      },
    }),
  ];
}
