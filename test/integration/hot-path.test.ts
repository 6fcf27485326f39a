/**
 * The hot path answers raises and cluster health probes before express; express serves the
 * same routes for every request the hot path leaves to it. A pair of servers with the same
 * settings gets the same requests, one answering through its own listener (the hot path first),
 * the other through express alone: every answer must be the same, headers included, and so must
 * what each request leaves behind — its log entries and the change of every metric series. Fixed
 * cases come first, then requests generated from the route table, then tests of the comparison
 * itself: a step with only a side effect on one path must make it fail.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { Counter, type Histogram } from 'prom-client';
import type { Config } from '../../src/config.js';
import { hashToken } from '../../src/http/auth.js';
import type { RequestState } from '../../src/http/pipeline.js';
import { TOKENS } from '../fuzz/arbitraries.js';
import { compare, describeDiffRequest, expectNoDifference, startPair, type DiffRequest, type Observation, type Pair, type Twin } from '../helpers/differential.js';
import { tableRequest } from '../helpers/table-requests.js';

interface Case extends DiffRequest {
  name: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const LIMIT = 4096;
const P = { domain: 'default', project: 'p' };

function post(name: string, body: string | Uint8Array, headers: Record<string, string> = JSON_TYPE, path = '/v4/p1/admin/alarms'): Case {
  return { name, method: 'POST', path, headers, body };
}

const CASES: Case[] = [
  post('a raise', JSON.stringify({ id: 'BackendConnectionRefuse', source: 's1', fields: { detail: 'etcd down' } })),
  post('a batch', JSON.stringify({ alarms: [{ id: 'A', source: 'x' }, { id: 'B', severity: 'minor' }, { id: 'A', source: 'y' }] })),
  post('a re-raise', JSON.stringify({ id: 'A', source: 'x', severity: 'critical' })),
  post('a clear', JSON.stringify({ id: 'A', source: 'y', status: 'CLEARED' })),
  post('a clear of an unknown alarm', JSON.stringify({ id: 'Nope', status: 'CLEARED' })),
  post('malformed JSON', '{"id":'),
  post('a JSON string', '"abc"'),
  post('a JSON array', '[1]'),
  post('an unknown key', JSON.stringify({ id: 'A', colour: 'red' })),
  post('an id over 128 characters', JSON.stringify({ id: 'x'.repeat(129) })),
  post('a body over the limit', JSON.stringify({ id: 'A', fields: { detail: 'x'.repeat(LIMIT) } })),
  post('a text body', 'id=A', { 'content-type': 'text/plain' }),
  post('no content type', JSON.stringify({ id: 'A' }), {}),
  post('an empty body', ''),
  post('a latin-1 body', JSON.stringify({ id: 'A' }), { 'content-type': 'application/json; charset=latin1' }),
  post('a gzipped body', gzipSync(JSON.stringify({ id: 'Zipped' })), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
  post('a bad domain', JSON.stringify({ id: 'A' }), { ...JSON_TYPE, 'x-domain-name': 'a b' }),
  post('a bad domain and malformed JSON', '{"id":', { ...JSON_TYPE, 'x-domain-name': 'a b' }),
  post('another domain', JSON.stringify({ id: 'A' }), { ...JSON_TYPE, 'x-domain-name': 'tenant-b' }),
  post('a project name too long', JSON.stringify({ id: 'A' }), JSON_TYPE, `/v4/${'p'.repeat(200)}/admin/alarms`),
  { name: 'an unhealthy probe', method: 'GET', path: '/v4/p1/registry/health' },
  { name: 'a healthy probe', method: 'GET', path: '/v4/p2/registry/health' },
  { name: 'the default project probe', method: 'GET', path: '/health' },
  { name: 'a probe of a bad domain', method: 'GET', path: '/health', headers: { 'x-domain-name': '-' } },
  { name: 'a probe with a request id', method: 'GET', path: '/health', headers: { 'x-request-id': 'probe-1' } },
];

/** Tokens of each role, the writer limited to some scopes, as the generated requests present them. */
const GENERATED_TOKENS: Partial<Config> = {
  tokens: [
    { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
    { name: 'writer', role: 'write', sha256: hashToken(TOKENS.write), scopes: ['default/p', 'tenant/*'] },
    { name: 'admin', role: 'admin', sha256: hashToken(TOKENS.admin) },
  ],
};

/**
 * Adds a step to the pipeline runs the hot path makes (it passes the route it matched; the
 * express adapter does not): a side effect that exists on one path only.
 */
function addHotPathStep(twin: Twin, effect: (state: RequestState) => void): void {
  const pipeline = twin.server.app.pipeline;
  const run = pipeline.run.bind(pipeline);
  pipeline.run = async (req: IncomingMessage, res: ServerResponse, options?: Parameters<typeof run>[2]) => {
    const state = await run(req, res, options);
    if (options?.match) effect(state);
    return state;
  };
}

/** The request entries a request logged. */
const requestLines = (o: Observation) => o.logs.filter((l) => JSON.parse(l).message === 'request');

describe('hot path', function () {
  let pair: Pair;

  afterEach(async function () {
    await pair?.close();
  });

  /** Sends every case to both servers and expects no difference, the hot ones never reaching express on the hot server. */
  async function expectSameEffects(cases: Case[]): Promise<Observation[]> {
    const observed: Observation[] = [];
    for (const c of cases) {
      const { hot, express, differences } = await compare(pair, c);
      expectNoDifference(differences, c.name);
      expect([hot.viaExpress, express.viaExpress], `${c.name}: reached express on the hot server, on the other`).to.deep.equal([false, true]);
      expect(requestLines(hot), `${c.name}: request log entries`).to.have.length(1);
      observed.push(hot);
    }
    return observed;
  }

  describe('compared with express on fixed requests', function () {
    it('answers raises, clears, bad bodies and probes as express does, with the same logs and metrics', async function () {
      pair = await startPair({ bodyLimitBytes: LIMIT });
      const observed = await expectSameEffects(CASES);
      const of = (name: string) => observed[CASES.findIndex((c) => c.name === name)] as Observation;
      // The cases cover what they are named for.
      expect(of('a raise').status).to.equal(200);
      expect(of('a raise').metrics).to.include({ 'alarm_center_alarm_changes_total{action="raise"}': 1 });
      expect(of('a gzipped body').status).to.equal(200);
      expect(of('malformed JSON').status).to.equal(400);
      expect(of('a body over the limit').status).to.equal(413);
      expect(of('a clear of an unknown alarm').body).to.match(/^{"alarms":\[\]/);
      expect(of('an unhealthy probe').status).to.equal(400);
      expect(of('a healthy probe').status).to.equal(200);
      expect(of('a healthy probe').metrics).to.deep.equal({
        'alarm_center_http_request_duration_seconds_count{method="GET",route="/v4/:project/registry/health",status_code="200"}': 1,
      });
      const stored = (t: Twin) => t.server.center.list({ domain: 'default', project: 'p1' }).alarms.map((x) => `${x.id}/${x.source}/${x.status}/${x.count}`);
      expect(stored(pair.hot)).to.deep.equal(stored(pair.express)).and.to.have.length(5);
    });

    it('refuses by token, role and write rate as express does, with the same logs and metrics', async function () {
      const tokens = [
        { name: 'reader', role: 'read' as const, sha256: hashToken('r-1') },
        { name: 'writer', role: 'write' as const, sha256: hashToken('w-1') },
        { name: 'p9-only', role: 'write' as const, sha256: hashToken('s-1'), scopes: ['default/p9'] },
      ];
      pair = await startPair({ bodyLimitBytes: LIMIT, tokens, writeRateLimit: 2, probesOpen: false });
      const raise = JSON.stringify({ id: 'A' });
      const as = (token: string) => ({ ...JSON_TYPE, authorization: `Bearer ${token}` });
      const cases: Case[] = [
        post('no token', raise, JSON_TYPE),
        post('a malformed authorization', raise, { ...JSON_TYPE, authorization: 'Basic abc' }),
        post('an unknown token', raise, as('nope')),
        post('a read token', raise, as('r-1')),
        post('another project than the token may use', raise, as('s-1')),
        post('a write token', raise, as('w-1')),
        post('a second write', raise, as('w-1')),
        post('a third write in the second', raise, as('w-1')),
        { name: 'a probe without a token', method: 'GET', path: '/health' },
        { name: 'a probe with a read token', method: 'GET', path: '/health', headers: { authorization: 'Bearer r-1' } },
      ];
      const observed = await expectSameEffects(cases);
      expect(observed.map((o) => o.status)).to.deep.equal([401, 401, 401, 403, 403, 200, 200, 429, 401, 200]);
      expect(observed[7]?.headers['retry-after']).to.match(/^[12]$/);
      expect(requestLines(observed[5] as Observation)[0]).to.include('"token":"writer"');
    });
  });

  describe('compared with express on requests generated from the route table', function () {
    this.timeout(120_000);
    const RUNS = 300;

    /** Raises the same alarms on both servers: BackendConnectionRefuse makes default/p unhealthy. */
    async function seed(): Promise<void> {
      for (const twin of [pair.hot, pair.express]) {
        await twin.server.center.apply(P, [{ id: 'A', source: 's1', severity: 'major' }, { id: 'BackendConnectionRefuse', fields: { detail: 'refused' } }]);
        await twin.server.center.apply({ domain: 'tenant', project: 'q' }, [{ id: 'A', source: 's2' }]);
      }
    }

    /** What the generated requests reached: how many the hot path answered, by route, and with which statuses. */
    interface Reach {
      hot: Map<string, number>;
      statuses: Set<number>;
    }

    /** The property: no difference for any request; tallies what the hot path answered. */
    const sameEffects = (reach: Reach) => async (req: DiffRequest) => {
      const { hot, differences } = await compare(pair, req);
      expectNoDifference(differences, describeDiffRequest(req));
      if (hot.viaExpress) return;
      const route = pair.hot.server.app.table.match(req.method, req.path)?.route.template ?? '?';
      reach.hot.set(route, (reach.hot.get(route) ?? 0) + 1);
      reach.statuses.add(hot.status);
    };

    /** Runs the property, replaying FUZZ_SEED/FUZZ_PATH when set; then checks the requests reached every fast route. */
    async function checkGenerated(settings: Partial<Config>): Promise<void> {
      pair = await startPair({ bodyLimitBytes: LIMIT, ...settings });
      await seed();
      const reach: Reach = { hot: new Map(), statuses: new Set() };
      const replay = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {};
      const table = pair.hot.server.app.table;
      await fc.assert(fc.asyncProperty(tableRequest(table.routes, LIMIT), sameEffects(reach)), { numRuns: RUNS, ...replay });
      if (replay.seed !== undefined) return;
      const fast = table.routes.filter((r) => r.fast).map((r) => r.template);
      expect([...reach.hot.keys()].sort(), 'routes the hot path answered').to.deep.equal([...fast].sort());
      const answered = [...reach.hot.values()].reduce((a, b) => a + b, 0);
      expect(answered, 'requests the hot path answered').to.be.at.least(RUNS / 4);
      expect([...reach.statuses].some((s) => s < 300) && [...reach.statuses].some((s) => s >= 400), `statuses ${[...reach.statuses]}`).to.equal(true);
    }

    it('answers, logs and counts as express does, with authentication off', async function () {
      await checkGenerated({});
    });

    it('answers, logs and counts as express does, with tokens required, probes included', async function () {
      await checkGenerated({ ...GENERATED_TOKENS, probesOpen: false });
    });

    it('fails when the hot path has a step that only logs', async function () {
      pair = await startPair({ bodyLimitBytes: LIMIT });
      await seed();
      const http = pair.hot.logger.child({ component: 'http' });
      addHotPathStep(pair.hot, (s) => http.info('request admitted', { route: s.route?.template }));
      const reach: Reach = { hot: new Map(), statuses: new Set() };
      const result = await fc.check(fc.asyncProperty(tableRequest(pair.hot.server.app.table.routes, LIMIT), sameEffects(reach)), { numRuns: 50, seed: 1 });
      expect(result.failed, 'the property failed').to.equal(true);
      expect(String(result.errorInstance)).to.include('log entry only on the hot path').and.to.include('request admitted');
    });
  });

  describe('the comparison', function () {
    const RAISE = post('a raise', JSON.stringify({ id: 'A' }), JSON_TYPE, '/v4/p/admin/alarms');
    const PROBE: Case = { name: 'a probe', method: 'GET', path: '/health' };
    const LIVEZ: Case = { name: 'a liveness probe', method: 'GET', path: '/livez' };

    beforeEach(async function () {
      pair = await startPair({ bodyLimitBytes: LIMIT });
    });

    it('reports a counter only the hot path increments', async function () {
      const extraSteps = (t: Twin) => new Counter({ name: 'alarm_center_extra_steps_total', help: 'Steps of a test.', registers: [t.server.registry] });
      const counter = extraSteps(pair.hot);
      extraSteps(pair.express);
      addHotPathStep(pair.hot, () => counter.inc());

      expect((await compare(pair, RAISE)).differences).to.deep.equal([
        'metric alarm_center_extra_steps_total{}: changed by 1 on the hot path, by 0 through express',
      ]);
      expect((await compare(pair, LIVEZ)).differences, 'a route only express answers').to.deep.equal([]);
    });

    it('reports a log line only the hot path writes', async function () {
      const http = pair.hot.logger.child({ component: 'http' });
      addHotPathStep(pair.hot, (s) => http.info('request admitted', { route: s.route?.template }));

      expect((await compare(pair, PROBE)).differences).to.deep.equal([
        'log entry only on the hot path: {"component":"http","level":"info","message":"request admitted","route":"/health"}',
      ]);
    });

    it('reports a duration the hot path measures twice, by its count alone', async function () {
      const histogram = pair.hot.server.registry.getSingleMetric('alarm_center_http_request_duration_seconds') as Histogram;
      addHotPathStep(pair.hot, () => histogram.observe({ method: 'GET', route: '/health', status_code: '200' }, 0.001));

      expect((await compare(pair, PROBE)).differences).to.deep.equal([
        'metric alarm_center_http_request_duration_seconds_count{method="GET",route="/health",status_code="200"}: changed by 2 on the hot path, by 1 through express',
      ]);
    });

    it('reports an answer header only the hot path sets', async function () {
      addHotPathStep(pair.hot, (s) => s.res.setHeader('x-extra', '1'));

      expect((await compare(pair, RAISE)).differences).to.deep.equal(['header only on the hot path: x-extra: 1']);
    });
  });
});
