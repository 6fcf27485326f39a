/**
 * Filters and pages of the alarm list and the history (DESIGN §5, §6). Each comes in two input
 * forms, typed values from embedders and query-string text from the HTTP routes, validated here
 * with zod and normalized into one AlarmSelection that the index and the store apply.
 */
import { z } from 'zod';
import { MAX_CURSOR_LENGTH, readHistoryCursor, readListCursor, type ListKey } from './cursor.js';
import {
  ID_PATTERN,
  MAX_SOURCE_LENGTH,
  storedText,
  SEVERITIES,
  STATUSES,
  type Alarm,
  type AlarmStatus,
  type Severity,
} from './model.js';

/** The largest page of a list or history. */
export const MAX_PAGE = 10_000;
/** The page size when a cursor is given without a limit, and the history's default. */
export const DEFAULT_PAGE = 1000;
/** The most ids one filter may name. */
export const MAX_FILTER_IDS = 1000;

/**
 * What a filter selects, normalized: every given criterion must hold. `severities` is the one
 * set both `severity` and `minSeverity` leave; `updatedSince` is in milliseconds since the epoch.
 */
export interface AlarmSelection {
  readonly status?: AlarmStatus;
  readonly ids?: ReadonlySet<string>;
  readonly source?: string;
  readonly severities?: ReadonlySet<Severity>;
  readonly acknowledged?: boolean;
  readonly updatedSince?: number;
}

/** A page of a list: at most `limit` alarms after `after` in (id, source) order. */
export interface PageRequest {
  readonly limit: number;
  readonly after?: ListKey;
}

/** A list request: the selection, and a page when one was asked for (`limit` or `cursor`). */
export interface ListRequest {
  readonly selection: AlarmSelection;
  readonly page?: PageRequest;
}

/** A history request: entries after `since` in revision order; `count` asks for the total. */
export interface HistoryRequest {
  readonly selection: AlarmSelection;
  readonly since: number;
  readonly limit: number;
  readonly count: boolean;
}

/** True when the selection takes every alarm. */
export function selectsAll(s: AlarmSelection): boolean {
  return (
    s.status === undefined &&
    s.ids === undefined &&
    s.source === undefined &&
    s.severities === undefined &&
    s.acknowledged === undefined &&
    s.updatedSince === undefined
  );
}

/** True when the alarm meets every criterion of the selection. */
export function selects(a: Alarm, s: AlarmSelection): boolean {
  return (
    (s.status === undefined || a.status === s.status) &&
    (s.ids === undefined || s.ids.has(a.id)) &&
    (s.source === undefined || a.source === s.source) &&
    (s.severities === undefined || s.severities.has(a.severity)) &&
    (s.acknowledged === undefined || (a.ackedAt !== undefined) === s.acknowledged) &&
    (s.updatedSince === undefined || a.updatedAt >= s.updatedSince)
  );
}

/** The criteria as validated, before normalizing. */
interface Criteria {
  status?: AlarmStatus;
  id?: readonly string[];
  source?: string;
  severity?: Severity;
  minSeverity?: Severity;
  acknowledged?: boolean;
  updatedSince?: number;
}

/** The severities at least as severe as `min` (critical > major > minor > warning > indeterminate). */
function atLeast(min: Severity): Severity[] {
  return SEVERITIES.slice(0, SEVERITIES.indexOf(min) + 1);
}

function selectionOf(c: Criteria): AlarmSelection {
  let severities: Severity[] | undefined;
  if (c.severity !== undefined) severities = [c.severity];
  if (c.minSeverity !== undefined) {
    const allowed = atLeast(c.minSeverity);
    severities = (severities ?? allowed).filter((s) => allowed.includes(s));
  }
  return {
    ...(c.status !== undefined && { status: c.status }),
    ...(c.id !== undefined && { ids: new Set(c.id) }),
    ...(c.source !== undefined && { source: c.source }),
    ...(severities !== undefined && { severities: new Set(severities) }),
    ...(c.acknowledged !== undefined && { acknowledged: c.acknowledged }),
    ...(c.updatedSince !== undefined && { updatedSince: c.updatedSince }),
  };
}

const ID_RULE = 'must match [A-Za-z0-9._:-]{1,128}';
const idSchema = z.string().regex(ID_PATTERN, ID_RULE);
/** A source to select: what a stored source may be (no NUL, valid Unicode). */
const sourceSchema = storedText(MAX_SOURCE_LENGTH);
const isoDateTime = z.iso.datetime({ offset: true });
const INSTANT_RULE = 'must be an ISO 8601 date-time with a time zone (2026-11-22T10:00:00Z) or milliseconds since the epoch';

/** A cursor's text, read by `read`; refused whole when it is not one this route gave. */
function cursorSchema<T>(read: (text: string) => T | undefined) {
  return z.string().transform((text, ctx) => {
    const value = text.length <= MAX_CURSOR_LENGTH ? read(text) : undefined;
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a cursor as given back in next', input: text });
      return z.NEVER;
    }
    return value;
  });
}

// Typed values, as embedders pass them.

const typedFilterShape = {
  id: z.union([idSchema, z.array(idSchema).min(1).max(MAX_FILTER_IDS)]).transform((v) => (typeof v === 'string' ? [v] : v)).optional(),
  source: sourceSchema.optional(),
  severity: z.enum(SEVERITIES).optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
  acknowledged: z.boolean().optional(),
  updatedSince: z
    .union([z.number().int().min(0), z.date(), isoDateTime])
    .transform((v) => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : v.getTime()))
    .optional(),
  limit: z.number().int().min(1).max(MAX_PAGE).optional(),
};

/**
 * A list's filters and page as an embedder passes them: `id` one id or several; `updatedSince`
 * milliseconds, a Date or an ISO 8601 date-time; `limit` and/or `cursor` ask for a page.
 */
export const AlarmFilterSchema = z
  .strictObject({ status: z.enum(STATUSES).optional(), ...typedFilterShape, cursor: cursorSchema(readListCursor).optional() })
  .transform(toListRequest);

export type AlarmFilter = z.input<typeof AlarmFilterSchema>;

/** A history's filters and page as an embedder passes them; `since` and `cursor` exclude each other. */
export const HistoryFilterSchema = z
  .strictObject({
    ...typedFilterShape,
    since: z.number().int().min(0).optional(),
    cursor: cursorSchema(readHistoryCursor).optional(),
  })
  .superRefine(refuseSinceWithCursor)
  .transform(toHistoryRequest);

export type HistoryFilter = z.input<typeof HistoryFilterSchema>;

// Query-string text, as the HTTP routes receive it (a repeated key arrives as an array).

const digits = () => z.string().regex(/^\d{1,15}$/, 'must be a whole number ≥ 0').transform(Number);

/** `id=a&id=b` and `id=a,b` alike. */
const idsQuery = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  const ids = (typeof v === 'string' ? [v] : v).flatMap((s) => s.split(','));
  const bad = ids.find((id) => !ID_PATTERN.test(id));
  if (bad !== undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad.slice(0, 40))} ${ID_RULE}`, input: v });
    return z.NEVER;
  }
  if (ids.length > MAX_FILTER_IDS) {
    ctx.addIssue({ code: 'custom', message: `names at most ${MAX_FILTER_IDS} ids`, input: v });
    return z.NEVER;
  }
  return ids;
});

const instantQuery = z.string().transform((v, ctx) => {
  if (/^\d{1,15}$/.test(v)) return Number(v);
  if (isoDateTime.safeParse(v).success) return Date.parse(v);
  ctx.addIssue({ code: 'custom', message: INSTANT_RULE, input: v });
  return z.NEVER;
});

const queryFilterShape = {
  id: idsQuery.optional(),
  source: sourceSchema.optional(),
  severity: z.enum(SEVERITIES).optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
  acknowledged: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  updatedSince: instantQuery.optional(),
  limit: digits()
    .pipe(z.number().min(1, 'must be at least 1').max(MAX_PAGE, `must be at most ${MAX_PAGE}`))
    .optional(),
};

/** The query of `GET …/alarms`: the filters, `status`, and `limit`/`cursor` for a page. */
export const ListQuerySchema = z
  .strictObject({ status: z.enum(STATUSES).optional(), ...queryFilterShape, cursor: cursorSchema(readListCursor).optional() })
  .transform(toListRequest);

/** The query of `GET …/alarms/history`: the filters, and `since` or `cursor`, and `limit`. */
export const HistoryQuerySchema = z
  .strictObject({ ...queryFilterShape, since: digits().optional(), cursor: cursorSchema(readHistoryCursor).optional() })
  .superRefine(refuseSinceWithCursor)
  .transform(toHistoryRequest);

function refuseSinceWithCursor(q: { since?: number; cursor?: number }, ctx: z.RefinementCtx): void {
  if (q.since !== undefined && q.cursor !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'give since or cursor, not both', input: q.cursor });
  }
}

function toListRequest(q: Criteria & { limit?: number; cursor?: ListKey }): ListRequest {
  const { limit, cursor, ...criteria } = q;
  const selection = selectionOf(criteria);
  if (limit === undefined && cursor === undefined) return { selection };
  return { selection, page: { limit: limit ?? DEFAULT_PAGE, ...(cursor && { after: cursor }) } };
}

function toHistoryRequest(q: Criteria & { limit?: number; cursor?: number; since?: number }): HistoryRequest {
  const { limit, cursor, since, ...criteria } = q;
  return {
    selection: selectionOf(criteria),
    since: cursor ?? since ?? 0,
    limit: limit ?? DEFAULT_PAGE,
    count: limit !== undefined || cursor !== undefined,
  };
}
