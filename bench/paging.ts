/**
 * The list with many alarms loaded: filtered, paged queries (`limit` with a `cursor`) against the
 * unfiltered list, on one Alarm Center server, each measured with autocannon as part B measures
 * the list.
 */
import { withServers } from './children.js';
import { compare, getJson, loadInBatches, postJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { DETAIL } from './payloads.js';
import { dec, int, type Row } from './report.js';
import { startAlarmCenter } from './servers.js';

const ALARMS = '/v4/default/admin/alarms';
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
const IDS = ['BackendConnectionRefuse', 'DiskFull', 'CertificateExpiry', 'QueueBacklog'] as const;
const LOAD_BATCH = 1000;
const LOAD_IN_FLIGHT = 4;
const PAGE = 100;
/** A paged query's p99 must stay below this share of the whole list's. */
const PAGED_P99_SHARE = 0.1;

export interface PagingSettings {
  /** Alarms loaded before measuring: a fifth of each severity. */
  alarms: number;
  load: LoadSettings;
}

/** A row's name and target, known before it is measured (for skip and error rows). */
export interface PagingHead {
  what: string;
  target: string;
}

/** The rows measurePaging produces for `alarms` alarms, in order. */
export function pagingHeads(alarms: number): PagingHead[] {
  const target = `p99 ≤ ${PAGED_P99_SHARE}× the list's`;
  const what = (query: string) => `GET list, ${int(alarms)} alarms: ${query} vs the unfiltered list`;
  return [
    { what: what(`?severity=major&limit=${PAGE} (first page)`), target },
    { what: what(`?severity=major&limit=${PAGE}&cursor= (a page in the middle)`), target },
    { what: what(`?limit=${PAGE}&cursor= (unfiltered, a page in the middle)`), target },
  ];
}

/** The n-th alarm: one of four ids, its own source, severities in turn. */
function alarm(n: number): { id: string; source: string; severity: string; fields: { detail: string } } {
  return { id: IDS[n % IDS.length] as string, source: `svc-${n}`, severity: SEVERITIES[n % SEVERITIES.length] as string, fields: { detail: DETAIL } };
}

interface Page {
  alarms: unknown[];
  total?: number;
  next?: string;
}

async function getPage(url: string): Promise<Page> {
  return (await getJson(url)) as Page;
}

/** Checks a page's size and total, so a measured query answers what it claims. */
function expectPage(what: string, page: Page, size: number, total: number): void {
  if (page.alarms.length !== size || page.total !== total) {
    throw new Error(`${what} answers ${page.alarms.length} alarms of ${String(page.total)}, expected ${size} of ${total}`);
  }
}

function cellOf(f: LoadFigures): string {
  const failed = f.failures > 0 ? ` · ${int(f.failures)} failed` : '';
  return `${int(f.reqPerSec)} req/s · p99 ${dec(f.p99Ms, 1)} ms${failed}`;
}

/**
 * Starts Alarm Center in `dataDir`, loads `settings.alarms` alarms, and measures the unfiltered
 * list and three pages of 100 side by side; answers the rows (ratio: paged p99 ÷ list p99) and
 * the raw figures, and a note on the method.
 */
export async function measurePaging(
  dataDir: string,
  settings: PagingSettings,
): Promise<{ rows: Row[]; figures: Record<string, unknown>; note: string }> {
  const n = settings.alarms;
  return withServers({ ac: () => startAlarmCenter(dataDir) }, async ({ ac }) => {
    await loadInBatches(n, LOAD_BATCH, LOAD_IN_FLIGHT, (first, size) =>
      postJson(`${ac.url}${ALARMS}`, { alarms: Array.from({ length: size }, (_, i) => alarm(first + i)) }),
    );
    const majors = Math.ceil((n - 1) / SEVERITIES.length);
    const first = `${ALARMS}?severity=major&limit=${PAGE}`;
    expectPage('the first page', await getPage(`${ac.url}${first}`), PAGE, majors);
    const half = await getPage(`${ac.url}${ALARMS}?severity=major&limit=${Math.floor(majors / 2)}`);
    if (!half.next) throw new Error('no cursor past the first half of the major alarms');
    const middle = `${ALARMS}?severity=major&limit=${PAGE}&cursor=${half.next}`;
    expectPage('the middle page', await getPage(`${ac.url}${middle}`), PAGE, majors);
    const unfiltered = `${ALARMS}?limit=${PAGE}&cursor=${half.next}`;
    expectPage('the unfiltered middle page', await getPage(`${ac.url}${unfiltered}`), PAGE, n);
    const listed = ((await getJson(`${ac.url}${ALARMS}`)) as Page).alarms.length;
    if (listed !== n) throw new Error(`the list answers ${listed} alarms, expected ${n}`);

    const get = (path: string): Endpoint => ({ url: ac.url, method: 'GET', path });
    const r = await compare(
      { list: get(ALARMS), first: get(first), middle: get(middle), unfiltered: get(unfiltered) },
      settings.load,
    );
    const [firstHead, middleHead, unfilteredHead] = pagingHeads(n) as [PagingHead, PagingHead, PagingHead];
    const row = (head: PagingHead, f: LoadFigures): Row => ({
      ...head,
      alarmCenter: cellOf(f),
      comparison: `${cellOf(r.list)} (whole list)`,
      ratio: f.p99Ms / r.list.p99Ms,
      verdict: f.p99Ms <= PAGED_P99_SHARE * r.list.p99Ms && f.failures === 0 && r.list.failures === 0 ? 'pass' : 'FAIL',
    });
    return {
      rows: [row(firstHead, r.first), row(middleHead, r.middle), row(unfilteredHead, r.unfiltered)],
      figures: { alarms: n, page: PAGE, list: r.list, firstPage: r.first, middlePage: r.middle, unfilteredPage: r.unfiltered },
      note:
        `Paging: ${int(n)} alarms (${IDS.length} ids, one source each, the five severities in turn: ${int(majors)} major) ` +
        `loaded into one server; the unfiltered list and the three pages take turns as the sides of a comparison do. ` +
        `The middle cursor is the \`next\` of a page holding the first half of the major alarms.`,
    };
  });
}
