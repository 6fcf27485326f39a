/**
 * The JSON texts of the answers about alarms: a list or a write (`{"alarms":[…],"revision":N}`),
 * one alarm (`{"alarm":{…}}`), a bulk clear's count and a history page. The HTTP routes send them
 * and the embedding API parses them, so both answer the same shapes.
 */
import { isoTime, serializeAlarm, type Alarm, type AlarmJson, type ChangeAction } from './model.js';
import type { HistoryEntry } from './store.js';

/** How a change is named on the wire (history entries and watch messages). */
export const WIRE_ACTIONS: Record<ChangeAction, string> = {
  raise: 'RAISE',
  reraise: 'RERAISE',
  clear: 'CLEAR',
  'clear-all': 'CLEAR_ALL',
  ack: 'ACK',
  unack: 'UNACK',
  expire: 'EXPIRE',
  purge: 'PURGE',
};

/** The wire name of a stored action; unknown names (a newer schema's) pass through upper-cased. */
export function wireAction(action: string): string {
  return WIRE_ACTIONS[action as ChangeAction] ?? action.toUpperCase().replace(/-/g, '_');
}

/** How many there are in all, and the cursor of the next page when more remain. */
export interface PageInfo {
  total?: number;
  next?: string;
}

function pageTail(page: PageInfo | undefined): string {
  let tail = '';
  if (page?.total !== undefined) tail += `,"total":${page.total}`;
  if (page?.next !== undefined) tail += `,"next":${JSON.stringify(page.next)}`;
  return tail;
}

/** `{"alarms":[…],"revision":N}`, with `"total"` and `"next"` when given. */
export function alarmsText(alarms: readonly Alarm[], revision: number, page?: PageInfo): string {
  let body = '{"alarms":[';
  for (let i = 0; i < alarms.length; i += 1) {
    if (i > 0) body += ',';
    body += serializeAlarm(alarms[i] as Alarm);
  }
  return `${body}],"revision":${revision}${pageTail(page)}}`;
}

/** `{"alarm":{…}}`. */
export function alarmText(alarm: Alarm): string {
  return `{"alarm":${serializeAlarm(alarm)}}`;
}

/** A bulk clear's answer: how many alarms it cleared, and the revision that includes it. */
export function countText(count: number, revision: number): string {
  return `{"count":${count},"revision":${revision}}`;
}

/** A history entry: `{"revision","action","alarm","at"}`, and `"by"` when the entry has one. */
export function entryText(e: HistoryEntry): string {
  const by = e.by === undefined ? '' : `,"by":${JSON.stringify(e.by)}`;
  return `{"revision":${e.revision},"action":"${wireAction(e.action)}","alarm":${serializeAlarm(e.alarm)},"at":"${isoTime(e.at)}"${by}}`;
}

/** `{"history":[…],"revision":N}`, with `"total"` and `"next"` when given. */
export function historyText(history: readonly HistoryEntry[], revision: number, page?: PageInfo): string {
  let body = '{"history":[';
  for (let i = 0; i < history.length; i += 1) {
    if (i > 0) body += ',';
    body += entryText(history[i] as HistoryEntry);
  }
  return `${body}],"revision":${revision}${pageTail(page)}}`;
}

/**
 * An alarm as the value of its JSON text (`serializeAlarm`): the same keys in the same order,
 * built without writing and parsing the text; `fields` is a copy of the stored one.
 */
export function alarmValue(a: Alarm): AlarmJson {
  const v: AlarmJson = {
    id: a.id,
    status: a.status,
    fields: JSON.parse(a.fieldsJson) as AlarmJson['fields'],
    source: a.source,
    severity: a.severity,
    count: a.count,
    raisedAt: isoTime(a.raisedAt),
    updatedAt: isoTime(a.updatedAt),
  } as AlarmJson;
  if (a.clearedAt !== undefined) v.clearedAt = isoTime(a.clearedAt);
  v.revision = a.revision;
  v.acknowledged = a.ackedAt !== undefined;
  if (a.ackedAt !== undefined) {
    v.ackedBy = a.ackedBy as string;
    v.ackedAt = isoTime(a.ackedAt);
    v.ackComment = a.ackComment as string;
    if (a.ackExpiresAt !== undefined) v.ackExpiresAt = isoTime(a.ackExpiresAt);
  }
  if (a.expiresAt !== undefined) v.expiresAt = isoTime(a.expiresAt);
  return v;
}
