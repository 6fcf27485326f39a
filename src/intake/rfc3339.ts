/**
 * RFC 3339 date-times as Alertmanager exchanges them, read without `Date.parse` (which accepts
 * other forms and treats years below 100 as 19xx).
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAY_MS = 86_400_000;

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Times read lately: the alerts of one body mostly share theirs (one evaluation, one endsAt). */
const recent = new Map<string, number>();
const RECENT_MAX = 256;

/**
 * The instant of an RFC 3339 date-time, clock milliseconds (fractions below the millisecond are
 * dropped), or undefined when the text is not one.
 */
export function parseRfc3339(text: string): number | undefined {
  const hit = recent.get(text);
  if (hit !== undefined) return hit;
  const ms = readRfc3339(text);
  if (ms === undefined) return undefined;
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(text, ms);
  return ms;
}

function readRfc3339(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number((m[7] ?? '').slice(0, 3).padEnd(3, '0'));
  let offset = 0;
  if (m[8] !== undefined) {
    const offHours = Number(m[9]);
    const offMinutes = Number(m[10]);
    if (offHours > 23 || offMinutes > 59) return undefined;
    offset = (m[8] === '-' ? -1 : 1) * (offHours * 60 + offMinutes) * 60_000;
  }
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset;
}

/** Go's zero time, 0001-01-01T00:00:00Z: what Alertmanager and amtool send for "no time". */
export const ZERO_TIME_MS = daysFromCivil(1, 1, 1) * DAY_MS;

/** Go's zero time as amtool writes it. */
export const ZERO_TIME_TEXT = '0001-01-01T00:00:00.000Z';
