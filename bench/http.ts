/**
 * Part B: Alarm Center's HTTP server against a bare express server and Prometheus Alertmanager.
 * Each comparison starts fresh servers, drives every side with the same connections and duration
 * (taking turns, so only one server is under load at a time), and stops them.
 */
import path from 'node:path';
import { withServers, type ChildServer } from './children.js';
import { compare, getJson, loadInBatches, postJson, type Endpoint, type LoadFigures, type LoadSettings } from './load.js';
import { measurePaging, pagingHeads } from './paging.js';
import { alarmInput, alarmInputs, alerts, sequence } from './payloads.js';
import { bytes, dec, errorRow, int, newSection, skippedRow, verdict, type Row, type Section } from './report.js';
import {
  ALERTMANAGER_BIN,
  alertmanagerInstalled,
  serverBuilt,
  startAlarmCenter,
  startAlertmanager,
  startBareExpress,
} from './servers.js';

/** Sizes of the HTTP measurements. */
export interface HttpSettings {
  load: LoadSettings;
  batchSize: number;
  listAlarms: number;
  healthAlarms: number;
  fewAlarms: number;
}

interface Context {
  settings: HttpSettings;
  section: Section;
  /** A fresh folder for one server's data. */
  dir: (name: string) => string;
  alertmanager: boolean;
}

/** The name and target of a row, known before it is measured (for skip and error rows). */
interface Head {
  what: string;
  target: string;
}

/** One comparison: the rows it produces and how to measure them. */
interface Comparison {
  heads: Head[];
  run: (ctx: Context) => Promise<Row[]>;
}

interface Memory {
  idle: number;
  /** RSS right after the last load request was answered, garbage not yet collected included. */
  loaded: number;
  /** RSS once the server has gone `HOLD_SECONDS` without a request: what it holds. */
  held: number;
  perItem: number;
  heldPerItem: number;
}

const ALARMS = '/v4/default/admin/alarms';
const HEALTH = '/v4/default/registry/health';
const ALERTS = '/api/v2/alerts';
const LOAD_BATCH = 1000;
const LOAD_IN_FLIGHT = 4;
const NOT_BUILT = 'server not built';
const NO_ALERTMANAGER = `Alertmanager not installed (no ${ALERTMANAGER_BIN})`;

/** A load figure as a table cell: rate, p99 latency, and failures when there were any. */
function cellOf(f: LoadFigures, scale = 1, unit = 'req/s'): string {
  const failed = f.failures > 0 ? ` · ${int(f.failures)} failed` : '';
  return `${int(f.reqPerSec * scale)} ${unit} · p99 ${dec(f.p99Ms, 1)} ms${failed}`;
}

function clean(...figures: LoadFigures[]): boolean {
  return figures.every((f) => f.failures === 0);
}

/** A row whose comparison side is Alertmanager, which is not installed. */
function withoutAlertmanager(head: Head, alarmCenter: string): Row {
  return { ...head, alarmCenter, comparison: `skipped: ${NO_ALERTMANAGER}`, verdict: 'skipped' };
}

/** Loads `total` bench alarms into a running Alarm Center, in batches. */
function loadAlarms(server: ChildServer, total: number): Promise<void> {
  return loadInBatches(total, LOAD_BATCH, LOAD_IN_FLIGHT, (first, size) =>
    postJson(`${server.url}${ALARMS}`, { alarms: alarmInputs(first, size) }),
  );
}

/** Loads `total` bench alerts into a running Alertmanager, in batches. */
function loadAlerts(server: ChildServer, total: number): Promise<void> {
  return loadInBatches(total, LOAD_BATCH, LOAD_IN_FLIGHT, (first, size) => postJson(`${server.url}${ALERTS}`, alerts(first, size)));
}

/** Checks that a list answer holds `expected` items, so a measured list has the size it claims. */
async function expectListed(url: string, expected: number, pick: (body: unknown) => unknown[]): Promise<void> {
  const listed = pick(await getJson(url)).length;
  if (listed !== expected) throw new Error(`${url} lists ${listed} items, expected ${expected}`);
}

/**
 * Seconds a loaded server is left without requests before its held RSS is read: long enough for
 * V8's memory reducer (it starts 8 s after allocation slows down) and Go's background scavenger
 * to give garbage back, as they do in a service between bursts.
 */
const HOLD_SECONDS = 20;

/** Idle, loaded and held RSS of a server, read around loading `total` items into it. */
async function rssAround(server: ChildServer, total: number, load: (s: ChildServer, n: number) => Promise<void>): Promise<Memory> {
  const idle = server.rss();
  await load(server, total);
  const loaded = server.rss();
  await new Promise((resolve) => setTimeout(resolve, HOLD_SECONDS * 1000));
  const held = server.rss();
  return { idle, loaded, held, perItem: (loaded - idle) / total, heldPerItem: (held - idle) / total };
}

/** A row comparing Alarm Center with another server; it passes when `ok`. */
function ratioRow(head: Head, alarmCenter: string, comparison: string, ratio: number, ok: boolean): Row {
  return { ...head, alarmCenter, comparison, ratio, verdict: verdict(ok) };
}

/** Raises one new alarm per request (the bare express server answers the same route). */
function raiseEndpoint(server: ChildServer, next: () => number): Endpoint {
  return { url: server.url, method: 'POST', path: ALARMS, body: () => JSON.stringify(alarmInput(next())) };
}

/** Raises `size` new alarms per request. */
function alarmBatchEndpoint(server: ChildServer, next: (n: number) => number, size: number): Endpoint {
  return { url: server.url, method: 'POST', path: ALARMS, body: () => JSON.stringify({ alarms: alarmInputs(next(size), size) }) };
}

/** Posts `size` new alerts per request to Alertmanager. */
function alertBatchEndpoint(server: ChildServer, next: (n: number) => number, size: number): Endpoint {
  return { url: server.url, method: 'POST', path: ALERTS, body: () => JSON.stringify(alerts(next(size), size)) };
}

function getEndpoint(server: ChildServer, path: string, expected?: readonly number[]): Endpoint {
  return { url: server.url, method: 'GET', path, expected };
}

/** Starts Alarm Center with `n` alarms loaded. */
async function loadedAlarmCenter(ctx: Context, name: string, n: number): Promise<ChildServer> {
  const server = await startAlarmCenter(ctx.dir(name));
  await loadAlarms(server, n);
  return server;
}

/** Starts Alertmanager with `n` alerts loaded. */
async function loadedAlertmanager(ctx: Context, name: string, n: number): Promise<ChildServer> {
  const server = await startAlertmanager(ctx.dir(name), ctx.settings.load.connections);
  await loadAlerts(server, n);
  return server;
}

const SINGLE: Head = { what: 'single raise (new alarm per request): Alarm Center vs bare express POST', target: 'ratio ≥ 0.75' };

const singleRaise: Comparison = {
  heads: [SINGLE],
  async run(ctx) {
    const next = sequence();
    const starts = { ac: () => startAlarmCenter(ctx.dir('single-raise')), ex: startBareExpress };
    const r = await withServers(starts, (s) =>
      compare({ ac: raiseEndpoint(s.ac, next), ex: raiseEndpoint(s.ex, next) }, ctx.settings.load),
    );
    ctx.section.figures.singleRaise = { alarmCenter: r.ac, bareExpress: r.ex };
    const ratio = r.ac.reqPerSec / r.ex.reqPerSec;
    return [ratioRow(SINGLE, cellOf(r.ac), cellOf(r.ex), ratio, ratio >= 0.75 && clean(r.ac, r.ex))];
  },
};

const BATCH: Head = { what: 'batch of 100 new alarms per request: alarms/s vs Alertmanager POST /api/v2/alerts', target: 'ratio ≥ 2' };

const batchRaise: Comparison = {
  heads: [BATCH],
  async run(ctx) {
    const size = ctx.settings.batchSize;
    const next = sequence();
    const startAc = (): Promise<ChildServer> => startAlarmCenter(ctx.dir('batch'));
    if (!ctx.alertmanager) {
      const r = await withServers({ ac: startAc }, (s) => compare({ ac: alarmBatchEndpoint(s.ac, next, size) }, ctx.settings.load));
      ctx.section.figures.batch = { size, alarmCenter: r.ac };
      return [withoutAlertmanager(BATCH, cellOf(r.ac, size, 'alarms/s'))];
    }
    const starts = { ac: startAc, am: () => startAlertmanager(ctx.dir('am-batch'), ctx.settings.load.connections) };
    const r = await withServers(starts, (s) =>
      compare({ ac: alarmBatchEndpoint(s.ac, next, size), am: alertBatchEndpoint(s.am, next, size) }, ctx.settings.load),
    );
    ctx.section.figures.batch = { size, alarmCenter: r.ac, alertmanager: r.am };
    const ratio = r.ac.reqPerSec / r.am.reqPerSec;
    return [ratioRow(BATCH, cellOf(r.ac, size, 'alarms/s'), cellOf(r.am, size, 'alerts/s'), ratio, ratio >= 2 && clean(r.ac, r.am))];
  },
};

const LIST: Head = {
  what: 'GET list with 10,000 alarms loaded vs Alertmanager GET /api/v2/alerts with 10,000 alerts',
  target: 'ratio ≥ 10',
};

const listLoaded: Comparison = {
  heads: [LIST],
  async run(ctx) {
    const n = ctx.settings.listAlarms;
    const acList = async (s: ChildServer): Promise<Endpoint> => {
      await expectListed(`${s.url}${ALARMS}`, n, (b) => (b as { alarms: unknown[] }).alarms);
      return getEndpoint(s, ALARMS);
    };
    const amList = async (s: ChildServer): Promise<Endpoint> => {
      await expectListed(`${s.url}${ALERTS}`, n, (b) => b as unknown[]);
      return getEndpoint(s, ALERTS);
    };
    const startAc = (): Promise<ChildServer> => loadedAlarmCenter(ctx, 'list', n);
    if (!ctx.alertmanager) {
      const r = await withServers({ ac: startAc }, async (s) => compare({ ac: await acList(s.ac) }, ctx.settings.load));
      ctx.section.figures.list = { items: n, alarmCenter: r.ac };
      return [withoutAlertmanager(LIST, cellOf(r.ac))];
    }
    const starts = { ac: startAc, am: () => loadedAlertmanager(ctx, 'am-list', n) };
    const r = await withServers(starts, async (s) => compare({ ac: await acList(s.ac), am: await amList(s.am) }, ctx.settings.load));
    ctx.section.figures.list = { items: n, alarmCenter: r.ac, alertmanager: r.am };
    const ratio = r.ac.reqPerSec / r.am.reqPerSec;
    return [ratioRow(LIST, cellOf(r.ac), cellOf(r.am), ratio, ratio >= 10 && clean(r.ac, r.am))];
  },
};

const HEALTH_VS_EXPRESS: Head = {
  what: 'health probe with 100,000 alarms loaded vs bare express GET (10-alarm list)',
  target: 'ratio ≥ 0.85',
};
const HEALTH_VS_FEW: Head = { what: 'health probe: 100,000 vs 10 alarms loaded', target: 'same within noise (0.85–1.15)' };

const healthProbe: Comparison = {
  heads: [HEALTH_VS_EXPRESS, HEALTH_VS_FEW],
  async run(ctx) {
    const { healthAlarms: n, fewAlarms: few, load } = ctx.settings;
    const starts = {
      big: () => loadedAlarmCenter(ctx, 'health-big', n),
      few: () => loadedAlarmCenter(ctx, 'health-few', few),
      ex: startBareExpress,
    };
    const r = await withServers(starts, (s) =>
      compare({ big: getEndpoint(s.big, HEALTH, [400]), few: getEndpoint(s.few, HEALTH, [400]), ex: getEndpoint(s.ex, ALARMS) }, load),
    );
    ctx.section.figures.health = { alarms: n, alarmCenter: r.big, fewAlarms: { alarms: few, ...r.few }, bareExpress: r.ex };
    const bigCell = `${cellOf(r.big)} (${int(n)} alarms)`;
    const vsExpress = r.big.reqPerSec / r.ex.reqPerSec;
    const vsFew = r.big.reqPerSec / r.few.reqPerSec;
    return [
      ratioRow(HEALTH_VS_EXPRESS, bigCell, cellOf(r.ex), vsExpress, vsExpress >= 0.85 && clean(r.big, r.ex)),
      ratioRow(HEALTH_VS_FEW, bigCell, `${cellOf(r.few)} (${int(few)} alarms)`, vsFew, Math.abs(1 - vsFew) <= 0.15 && clean(r.big, r.few)),
    ];
  },
};

const RSS_IDLE: Head = { what: 'server RSS idle (after start) vs Alertmanager idle', target: '—' };
const RSS_LOADED: Head = {
  what: 'server RSS per alarm above idle right after loading 100,000, vs Alertmanager per alert',
  target: '—',
};
const RSS_PER_ALARM: Head = {
  what: `server RSS per alarm above idle held with 100,000 loaded (${HOLD_SECONDS} s after the load), vs Alertmanager per alert`,
  target: '≤ 1 KiB per alarm',
};

const memory: Comparison = {
  heads: [RSS_IDLE, RSS_LOADED, RSS_PER_ALARM],
  async run(ctx) {
    const n = ctx.settings.healthAlarms;
    const ac = await withServers({ ac: () => startAlarmCenter(ctx.dir('memory')) }, (s) => rssAround(s.ac, n, loadAlarms));
    const startAm = (): Promise<ChildServer> => startAlertmanager(ctx.dir('am-memory'), ctx.settings.load.connections);
    const am = ctx.alertmanager ? await withServers({ am: startAm }, (s) => rssAround(s.am, n, loadAlerts)) : undefined;
    ctx.section.figures.memory = { items: n, holdSeconds: HOLD_SECONDS, alarmCenter: ac, alertmanager: am };
    const loaded = (m: Memory, unit: string) => `${int(m.perItem)} B/${unit} (${bytes(m.idle)} → ${bytes(m.loaded)})`;
    const held = (m: Memory, unit: string) => `${int(m.heldPerItem)} B/${unit} (${bytes(m.idle)} → ${bytes(m.held)})`;
    const small = ac.heldPerItem <= 1024;
    if (!am) {
      return [
        withoutAlertmanager(RSS_IDLE, bytes(ac.idle)),
        { ...withoutAlertmanager(RSS_LOADED, loaded(ac, 'alarm')), verdict: 'info' },
        { ...withoutAlertmanager(RSS_PER_ALARM, held(ac, 'alarm')), verdict: verdict(small) },
      ];
    }
    return [
      { ...RSS_IDLE, alarmCenter: bytes(ac.idle), comparison: bytes(am.idle), ratio: ac.idle / am.idle, verdict: 'info' },
      { ...RSS_LOADED, alarmCenter: loaded(ac, 'alarm'), comparison: loaded(am, 'alert'), ratio: ac.perItem / am.perItem, verdict: 'info' },
      ratioRow(RSS_PER_ALARM, held(ac, 'alarm'), held(am, 'alert'), ac.heldPerItem / am.heldPerItem, small),
    ];
  },
};

const PAGING_ALARMS = 100_000;

/** Filtered, paged list queries next to the unfiltered list. */
const paging: Comparison = {
  heads: pagingHeads(PAGING_ALARMS),
  async run(ctx) {
    const r = await measurePaging(ctx.dir('paging'), { alarms: PAGING_ALARMS, load: ctx.settings.load });
    ctx.section.figures.paging = r.figures;
    ctx.section.notes.push(r.note);
    return r.rows;
  },
};

const COMPARISONS: readonly Comparison[] = [singleRaise, batchRaise, listLoaded, paging, healthProbe, memory];

/** Runs one comparison; an error becomes error rows so the other comparisons still run. */
async function attempt(comparison: Comparison, ctx: Context): Promise<Row[]> {
  try {
    return await comparison.run(ctx);
  } catch (err) {
    ctx.section.notes.push(`error in "${comparison.heads[0]?.what}": ${err instanceof Error ? err.message : String(err)}`);
    return comparison.heads.map((h) => errorRow(h.what, h.target, err));
  }
}

function methodNotes(settings: HttpSettings, alertmanager: boolean): string[] {
  const { connections, seconds, warmupSeconds, rounds } = settings.load;
  const amNote =
    `Alertmanager runs without clustering, with one receiver that has no integrations, and --web.get-concurrency=` +
    `${connections} (its default, max(GOMAXPROCS, 8), answers the excess concurrent GETs with 503).`;
  return [
    `HTTP: autocannon in the bench process, ${connections} connections per side, ${seconds} s measured per side after a ` +
      `${warmupSeconds} s warm-up; the sides of a comparison take turns in ${rounds} rounds (one server under load at a ` +
      `time), all on 127.0.0.1. Latencies are autocannon's per-request times; "failed" counts connection errors, ` +
      `timeouts and unexpected non-2xx answers (the health probe's 400 unhealthy is expected).`,
    `Alarm Center runs as \`npm start\` runs it: durability full, log level info (one JSON line per request on ` +
      `stdout, drained by the bench), metrics on; only the write rate limit and the alarm quota are off ` +
      `(\`--write-rate-limit 0 --max-alarms-per-scope 0\`): their defaults, 10,000 writes/s per client and ` +
      `1,000,000 alarms per project, are less than the one bench client sends in a measurement.`,
    ...(alertmanager ? [amNote] : []),
    `RSS is VmRSS of the server process right after start, right after the last load request was answered ` +
      `(${int(settings.healthAlarms)} items shaped like the single raise, in batches of ${int(LOAD_BATCH)}, ` +
      `${LOAD_IN_FLIGHT} in flight; garbage not yet collected counts), and after ${HOLD_SECONDS} s without ` +
      `requests (held: what the garbage collector of each side has given back by then, as between bursts).`,
  ];
}

/** Runs part B in `workDir` and returns its rows; every row is skipped when the server is not built. */
export async function runHttp(workDir: string, settings: HttpSettings, progress: (what: string) => void): Promise<Section> {
  const section = newSection();
  if (!serverBuilt()) {
    for (const c of COMPARISONS) section.rows.push(...c.heads.map((h) => skippedRow(h.what, h.target, NOT_BUILT)));
    return section;
  }
  let dirs = 0;
  const ctx: Context = {
    settings,
    section,
    dir: (name) => path.join(workDir, `${String(++dirs).padStart(2, '0')}-${name}`),
    alertmanager: alertmanagerInstalled(),
  };
  if (!ctx.alertmanager) section.notes.push(`Alertmanager comparisons skipped: ${NO_ALERTMANAGER}.`);
  for (const c of COMPARISONS) {
    progress(c.heads[0]?.what ?? '');
    section.rows.push(...(await attempt(c, ctx)));
  }
  section.notes.push(...methodNotes(settings, ctx.alertmanager));
  return section;
}
