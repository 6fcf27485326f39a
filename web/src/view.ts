/**
 * What the console shows, kept in the URL's query so that a link opens the same view: the scope
 * (project, domain), the filters, the order, grouping and the alarm whose details are open.
 * Only values other than the defaults are written. Pure: no DOM.
 */
import { SEVERITIES, SEVERITY_RANK, detailOf, keyOf, type Alarm, type Severity } from './model.js';

export const SORTS = ['severity', 'time', 'source', 'id'] as const;
export type Sort = (typeof SORTS)[number];

export interface ViewState {
  project: string;
  domain: string;
  /** `all` shows both statuses. */
  status: 'ACTIVATED' | 'CLEARED' | 'all';
  severity: Severity | '';
  minSeverity: Severity | '';
  acknowledged: '' | 'true' | 'false';
  /** Text the id contains (any case). */
  id: string;
  /** Text the source contains (any case). */
  source: string;
  sort: Sort;
  descending: boolean;
  /** Grouped by id, with counts. */
  group: boolean;
  /** The alarm whose details are open: its id and source. */
  open?: { id: string; source: string };
}

export const DEFAULT_VIEW: ViewState = {
  project: 'default',
  domain: 'default',
  status: 'ACTIVATED',
  severity: '',
  minSeverity: '',
  acknowledged: '',
  id: '',
  source: '',
  sort: 'severity',
  descending: true,
  group: false,
};

const NAME = /^[A-Za-z0-9._:-]{1,128}$/;

function pick<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

/** The view a query string names; anything unknown or malformed falls back to the default. */
export function readView(search: string): ViewState {
  const q = new URLSearchParams(search);
  const name = (key: string, fallback: string) => {
    const v = q.get(key);
    return v !== null && NAME.test(v) ? v : fallback;
  };
  const openId = q.get('open');
  const view: ViewState = {
    project: name('project', DEFAULT_VIEW.project),
    domain: name('domain', DEFAULT_VIEW.domain),
    status: pick(q.get('status'), ['ACTIVATED', 'CLEARED', 'all'], DEFAULT_VIEW.status),
    severity: pick(q.get('severity'), ['', ...SEVERITIES], ''),
    minSeverity: pick(q.get('minSeverity'), ['', ...SEVERITIES], ''),
    acknowledged: pick(q.get('acknowledged'), ['', 'true', 'false'], ''),
    id: (q.get('id') ?? '').slice(0, 128),
    source: (q.get('source') ?? '').slice(0, 256),
    sort: pick(q.get('sort'), SORTS, DEFAULT_VIEW.sort),
    descending: q.get('order') !== 'asc',
    group: q.get('group') === 'id',
  };
  if (openId !== null && NAME.test(openId)) view.open = { id: openId, source: q.get('openSource') ?? '' };
  return view;
}

/** The query string (with its `?`, or empty) of a view. */
export function writeView(view: ViewState): string {
  const q = new URLSearchParams();
  const put = (key: string, value: string, fallback: string) => {
    if (value !== fallback) q.set(key, value);
  };
  put('project', view.project, DEFAULT_VIEW.project);
  put('domain', view.domain, DEFAULT_VIEW.domain);
  put('status', view.status, DEFAULT_VIEW.status);
  put('severity', view.severity, '');
  put('minSeverity', view.minSeverity, '');
  put('acknowledged', view.acknowledged, '');
  put('id', view.id, '');
  put('source', view.source, '');
  put('sort', view.sort, DEFAULT_VIEW.sort);
  put('order', view.descending ? 'desc' : 'asc', 'desc');
  if (view.group) q.set('group', 'id');
  if (view.open) {
    q.set('open', view.open.id);
    if (view.open.source !== '') q.set('openSource', view.open.source);
  }
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/** Whether any filter narrows the list (beyond the status). */
export function filtersSet(view: ViewState): boolean {
  return view.severity !== '' || view.minSeverity !== '' || view.acknowledged !== '' || view.id !== '' || view.source !== '';
}

/** The filter of a view, as a test of one alarm. */
export function matcher(view: ViewState): (a: Alarm) => boolean {
  const id = view.id.toLowerCase();
  const source = view.source.toLowerCase();
  const min = view.minSeverity === '' ? 0 : SEVERITY_RANK[view.minSeverity];
  const ack = view.acknowledged === '' ? undefined : view.acknowledged === 'true';
  return (a) =>
    (view.status === 'all' || a.status === view.status) &&
    (view.severity === '' || a.severity === view.severity) &&
    SEVERITY_RANK[a.severity] >= min &&
    (ack === undefined || a.acknowledged === ack) &&
    (id === '' || a.id.toLowerCase().includes(id)) &&
    (source === '' || a.source.toLowerCase().includes(source));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order of a view; ties go to the most recently updated, then to the key, so the order is stable. */
export function comparator(view: ViewState): (a: Alarm, b: Alarm) => number {
  const sign = view.descending ? -1 : 1;
  const primary: (a: Alarm, b: Alarm) => number = {
    severity: (a: Alarm, b: Alarm) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity],
    time: (a: Alarm, b: Alarm) => cmp(a.updatedAt, b.updatedAt),
    source: (a: Alarm, b: Alarm) => cmp(a.source, b.source),
    id: (a: Alarm, b: Alarm) => cmp(a.id, b.id),
  }[view.sort];
  return (a, b) => sign * primary(a, b) || cmp(b.updatedAt, a.updatedAt) || cmp(keyOf(a), keyOf(b));
}

/** A row of the table: an alarm, or the head of a group of alarms of one id. */
export type Row =
  | { kind: 'alarm'; key: string; alarm: Alarm; nested: boolean }
  | { kind: 'group'; key: string; id: string; alarms: Alarm[]; worst: Alarm; expanded: boolean };

/** The rows a view shows of some alarms; grouped views list a group's alarms only when it is expanded. */
export function rowsOf(alarms: Iterable<Alarm>, view: ViewState, expanded: ReadonlySet<string>): Row[] {
  const test = matcher(view);
  const order = comparator(view);
  const shown: Alarm[] = [];
  for (const a of alarms) if (test(a)) shown.push(a);
  shown.sort(order);
  if (!view.group) return shown.map((alarm) => ({ kind: 'alarm', key: keyOf(alarm), alarm, nested: false }));
  const groups = new Map<string, Alarm[]>();
  for (const a of shown) {
    const list = groups.get(a.id);
    if (list) list.push(a);
    else groups.set(a.id, [a]);
  }
  const rows: Row[] = [];
  // The groups come in the order of their first (by the view's order, their leading) alarm.
  for (const [id, list] of groups) {
    const open = expanded.has(id);
    rows.push({ kind: 'group', key: `group\u0000${id}`, id, alarms: list, worst: list[0] as Alarm, expanded: open });
    if (open) for (const alarm of list) rows.push({ kind: 'alarm', key: keyOf(alarm), alarm, nested: true });
  }
  return rows;
}

/** The alarm's message on one line, for the table. */
export function summaryOf(alarm: Alarm): string {
  return detailOf(alarm).replace(/\s+/g, ' ');
}
