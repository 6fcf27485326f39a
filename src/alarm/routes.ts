import express, { type IRouter, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AlarmCenter } from '../center.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { sendJson } from '../http/request.js';
import { scopeOf } from '../http/scope.js';
import { ListQuerySchema, selectsAll } from './filter.js';
import {
  AckInputSchema,
  AlarmBatchSchema,
  ClearSelectorSchema,
  AlarmInputSchema,
  MAX_SOURCE_LENGTH,
  describeIssues,
  scopeKey,
  serializeAlarm,
  type Alarm,
  type Scope,
  type ValidAlarmInput,
} from './model.js';
import type { ListResult } from './service.js';

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
    if (!r.success) throw invalid(r.error, '');
    return r.data.alarms;
  }
  const r = AlarmInputSchema.safeParse(body);
  if (!r.success) throw invalid(r.error, '');
  return [r.data];
}

const ClearOneQuerySchema = z.strictObject({ source: z.string().max(MAX_SOURCE_LENGTH).default('') });

/** The JSON text of `{"alarms":[…],"revision":N}`, and of `"total"` and `"next"` when given. */
function alarmsBody(alarms: readonly Alarm[], revision: number, page?: Pick<ListResult, 'total' | 'next'>): string {
  let body = '{"alarms":[';
  for (let i = 0; i < alarms.length; i += 1) {
    if (i > 0) body += ',';
    body += serializeAlarm(alarms[i] as Alarm);
  }
  body += `],"revision":${revision}`;
  if (page?.total !== undefined) body += `,"total":${page.total}`;
  if (page?.next !== undefined) body += `,"next":${JSON.stringify(page.next)}`;
  return `${body}}`;
}

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

/** Answers `{"alarm":{…}}`. */
function sendAlarm(res: Response, alarm: Alarm): void {
  sendJson(res, 200, `{"alarm":${serializeAlarm(alarm)}}`);
}

/** The JSON body parser of every route that reads one (body-parser, as express.json). */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, type: ['application/json', 'application/*+json'] });
}

/**
 * Raise or clear by POST: one AlarmInput or a batch, applied in one write; answers the stored
 * alarms and the revision once durable.
 */
export async function writeAlarms(center: AlarmCenter, scope: Scope, body: unknown): Promise<string> {
  const { alarms, revision } = await center.service.apply(scope, parseWrite(body));
  return alarmsBody(alarms, revision);
}

/** The alarm a `/alarms/:id?source=` route names; 400001 naming `id` or the query. */
function alarmKeyOf(req: Request): { id: string; source: string } {
  const id = AlarmInputSchema.shape.id.safeParse(req.params.id);
  if (!id.success) throw invalid(id.error, 'id');
  const q = ClearOneQuerySchema.safeParse(req.query);
  if (!q.success) throw invalid(q.error, 'query');
  return { id: id.data, source: q.data.source };
}

/**
 * Adds the service-center admin API to `router`: list, raise/clear, clear-all and clear-one.
 * Routes go straight onto the app's router rather than a nested one, which every request
 * would otherwise cross.
 */
export function addAlarmRoutes(router: IRouter, options: { center: AlarmCenter; json: RequestHandler }): void {
  const { center, json } = options;
  // Only the routes that take a body read one; other routes never fail on one.
  const cache = new ListCache(16);

  router.get('/v4/:project/admin/alarms', (req: Request, res: Response) => {
    const scope = scopeOf(req);
    const q = ListQuerySchema.safeParse(req.query);
    if (!q.success) throw invalid(q.error, 'query');
    const { selection, page } = q.data;
    if (page) {
      const r = center.service.page(scope, selection, page);
      sendJson(res, 200, alarmsBody(r.alarms, r.revision, r));
      return;
    }
    if (!selectsAll(selection)) {
      const { alarms, revision } = center.service.list(scope, selection);
      sendJson(res, 200, alarmsBody(alarms, revision));
      return;
    }
    sendJson(res, 200, cache.get(scopeKey(scope), center.index.version, () => {
      const { alarms, revision } = center.service.list(scope);
      return alarmsBody(alarms, revision);
    }));
  });

  router.post('/v4/:project/admin/alarms', json, async (req: Request, res: Response) => {
    sendJson(res, 200, await writeAlarms(center, scopeOf(req), req.body));
  });

  router.delete('/v4/:project/admin/alarms', async (req: Request, res: Response) => {
    const scope = scopeOf(req);
    await center.service.clearAll(scope);
    res.status(200).end();
  });

  router.post('/v4/:project/admin/alarms/clear', json, async (req: Request, res: Response) => {
    const scope = scopeOf(req);
    const selector = ClearSelectorSchema.safeParse(req.body ?? {});
    if (!selector.success) throw invalid(selector.error, 'body');
    const { alarms, revision } = await center.service.clearMatching(scope, selector.data);
    sendJson(res, 200, `{"count":${alarms.length},"revision":${revision}}`);
  });

  router.post('/v4/:project/admin/alarms/:id/ack', json, async (req: Request, res: Response) => {
    const scope = scopeOf(req);
    const { id, source } = alarmKeyOf(req);
    const body = AckInputSchema.safeParse(req.body ?? {});
    if (!body.success) throw invalid(body.error, 'body');
    sendAlarm(res, await center.service.ack(scope, id, source, body.data.by, body.data.comment));
  });

  router.post('/v4/:project/admin/alarms/:id/unack', json, async (req: Request, res: Response) => {
    const scope = scopeOf(req);
    const { id, source } = alarmKeyOf(req);
    if (req.body !== undefined && (typeof req.body !== 'object' || req.body === null || Object.keys(req.body as object).length > 0)) {
      throw new AlarmCenterError(Codes.InvalidParams, 'body: unack takes no body (or an empty object)');
    }
    sendAlarm(res, await center.service.unack(scope, id, source));
  });

  router.delete('/v4/:project/admin/alarms/:id', async (req: Request, res: Response) => {
    const scope = scopeOf(req);
    const { id, source } = alarmKeyOf(req);
    sendAlarm(res, await center.service.clear(scope, id, source));
  });
}
