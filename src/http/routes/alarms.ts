/** The service-center admin API: list, raise/clear, clear-all, clear-one, bulk clear, ack and unack. */
import type { Request } from 'express';
import { z } from 'zod';
import { AlarmCenterError, Codes } from '../../errors.js';
import { sendJson } from '../request.js';
import { expressRoute, fastRoute, type Route, type RouteContext } from '../route-table.js';
import { ListQuerySchema, selectsAll } from '../../alarm/filter.js';
import {
  AckInputSchema,
  AlarmBatchSchema,
  ClearSelectorSchema,
  AlarmInputSchema,
  MAX_SOURCE_LENGTH,
  describeIssues,
  scopeKey,
  type Scope,
  type ValidAlarmInput,
} from '../../alarm/model.js';
import type { AlarmService } from '../../alarm/service.js';
import { alarmText, alarmsText, countText } from '../../alarm/answers.js';

function invalid(error: z.ZodError, root: string): AlarmCenterError {
  return new AlarmCenterError(Codes.InvalidParams, describeIssues(error, root));
}

/** Reads the POST body: one AlarmInput, or `{"alarms":[…]}` with at most 1,000 of them. */
function parseWrite(body: unknown): ValidAlarmInput[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AlarmCenterError(
      Codes.InvalidParams,
      'body: must be a JSON object (one alarm, or {"alarms":[…]}) sent as application/json',
    );
  }
  if ('alarms' in body) {
    const r = AlarmBatchSchema.safeParse(body);
    if (!r.success) throw invalid(r.error, 'body');
    return r.data.alarms;
  }
  const r = AlarmInputSchema.safeParse(body);
  if (!r.success) throw invalid(r.error, 'body');
  return [r.data];
}

const ClearOneQuerySchema = z.strictObject({ source: z.string().max(MAX_SOURCE_LENGTH).default('') });

/**
 * Unfiltered list answers of recently listed scopes, as bytes, valid while the index version
 * they were built at stands: listing many alarms repeatedly costs one build per change, and
 * memory only for scopes someone lists.
 */
class ListCache {
  private readonly entries = new Map<string, { version: number; body: Buffer }>();

  constructor(private readonly capacity: number) {}

  get(key: string, version: number, build: () => string): Buffer {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) return hit.body;
    const body = Buffer.from(build());
    this.entries.delete(key);
    this.entries.set(key, { version, body });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return body;
  }
}


/**
 * Raise or clear by POST: one AlarmInput or a batch, applied in one write; answers the stored
 * alarms and the revision once durable.
 */
export async function writeAlarms(alarms: Pick<AlarmService, 'apply'>, scope: Scope, body: unknown): Promise<string> {
  const r = await alarms.apply(scope, parseWrite(body));
  return alarmsText(r.alarms, r.revision);
}

/** The alarm a `/alarms/:id?source=` route names; 400001 naming `id` or the query. */
function alarmKeyOf(ctx: RouteContext<Request>): { id: string; source: string } {
  const id = AlarmInputSchema.shape.id.safeParse(ctx.params.id);
  if (!id.success) throw invalid(id.error, 'id');
  const q = ClearOneQuerySchema.safeParse(ctx.req.query);
  if (!q.success) throw invalid(q.error, 'query');
  return { id: id.data, source: q.data.source };
}

const write = { access: 'write', counted: true, whileStopping: false, scope: 'path' } as const;

/** What the alarm routes use: the alarm service, and the version of the alarms it lists. */
export interface AlarmRouteDeps {
  alarms: Pick<AlarmService, 'apply' | 'list' | 'page' | 'clear' | 'clearAll' | 'clearMatching' | 'ack' | 'unack'>;
  /** Changes whenever any listed alarm changes; list answers are cached by it. */
  version(): number;
}

/** The alarm routes of the route table. */
export function alarmRoutes({ alarms, version }: AlarmRouteDeps): Route[] {
  const cache = new ListCache(16);
  const base = '/v4/:project/admin/alarms';
  return [
    expressRoute({
      method: 'GET',
      template: base,
      access: 'read',
      counted: false,
      whileStopping: false,
      scope: 'path',
      body: false,
      handle({ req, res, scope }) {
        const q = ListQuerySchema.safeParse(req.query);
        if (!q.success) throw invalid(q.error, 'query');
        const { selection, page } = q.data;
        if (page) {
          const r = alarms.page(scope, selection, page);
          sendJson(res, 200, alarmsText(r.alarms, r.revision, r));
          return;
        }
        if (!selectsAll(selection)) {
          const r = alarms.list(scope, selection);
          sendJson(res, 200, alarmsText(r.alarms, r.revision));
          return;
        }
        sendJson(res, 200, cache.get(scopeKey(scope), version(), () => {
          const r = alarms.list(scope);
          return alarmsText(r.alarms, r.revision);
        }));
      },
    }),
    fastRoute({
      method: 'POST',
      template: base,
      ...write,
      body: true,
      async handle({ res, scope, body }) {
        sendJson(res, 200, await writeAlarms(alarms, scope, body));
      },
    }),
    expressRoute({
      method: 'DELETE',
      template: base,
      ...write,
      access: 'admin',
      body: false,
      async handle({ res, scope }) {
        await alarms.clearAll(scope);
        res.status(200).end();
      },
    }),
    expressRoute({
      method: 'POST',
      template: `${base}/clear`,
      ...write,
      access: 'admin',
      body: true,
      async handle({ res, scope, body }) {
        const selector = ClearSelectorSchema.safeParse(body ?? {});
        if (!selector.success) throw invalid(selector.error, 'body');
        const r = await alarms.clearMatching(scope, selector.data);
        sendJson(res, 200, countText(r.alarms.length, r.revision));
      },
    }),
    expressRoute({
      method: 'POST',
      template: `${base}/:id/ack`,
      ...write,
      body: true,
      async handle(ctx) {
        const { id, source } = alarmKeyOf(ctx);
        const body = AckInputSchema.safeParse(ctx.body ?? {});
        if (!body.success) throw invalid(body.error, 'body');
        const { by, comment, ttlSeconds } = body.data;
        sendJson(ctx.res, 200, alarmText(await alarms.ack(ctx.scope, id, source, by, comment, ttlSeconds)));
      },
    }),
    expressRoute({
      method: 'POST',
      template: `${base}/:id/unack`,
      ...write,
      body: true,
      async handle(ctx) {
        const { id, source } = alarmKeyOf(ctx);
        const body = ctx.body;
        if (body !== undefined && (typeof body !== 'object' || body === null || Object.keys(body as object).length > 0)) {
          throw new AlarmCenterError(Codes.InvalidParams, 'body: unack takes no body (or an empty object)');
        }
        sendJson(ctx.res, 200, alarmText(await alarms.unack(ctx.scope, id, source)));
      },
    }),
    expressRoute({
      method: 'DELETE',
      template: `${base}/:id`,
      ...write,
      body: false,
      async handle(ctx) {
        const { id, source } = alarmKeyOf(ctx);
        sendJson(ctx.res, 200, alarmText(await alarms.clear(ctx.scope, id, source)));
      },
    }),
  ];
}
