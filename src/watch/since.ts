import { AlarmCenterError, Codes } from '../errors.js';

const REVISION = /^\d{1,15}$/;

function revision(value: string, name: string): number {
  if (!REVISION.test(value)) {
    throw new AlarmCenterError(Codes.InvalidParams, `${name}: must be a revision (a whole number ≥ 0), got ${JSON.stringify(value.slice(0, 40))}`);
  }
  return Number(value);
}

/**
 * The revision a watch resumes after: `Last-Event-ID` (an EventSource reconnecting) wins over
 * the `since` query parameter, which the reconnect repeats from the original URL. Undefined
 * means the live tail. Unknown query parameters are refused.
 */
export function parseSince(query: URLSearchParams, lastEventId: string | undefined): number | undefined {
  for (const key of query.keys()) {
    if (key !== 'since') throw new AlarmCenterError(Codes.InvalidParams, `query.${key}: unknown parameter`);
  }
  const since = query.getAll('since');
  if (since.length > 1) throw new AlarmCenterError(Codes.InvalidParams, 'query.since: given more than once');
  if (lastEventId !== undefined && lastEventId !== '') return revision(lastEventId.trim(), 'last-event-id');
  return since[0] === undefined ? undefined : revision(since[0], 'query.since');
}
