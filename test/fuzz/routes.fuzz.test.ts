/**
 * Property-based tests of every route against a real server on port 0. For every generated
 * request: (a) no answer is 5xx; (b) every 4xx carries service-center's error body; (c) the
 * server still answers /livez afterwards; (d) a refused request leaves the stored alarms and
 * the store revision as they were; (e) what a 2xx write answers is what the store's history
 * holds. Each property is bounded by a number of runs and a time limit. A failure prints
 * fast-check's seed and path; FUZZ_SEED=… FUZZ_PATH=… with `mocha -g '<test title>'` replays it.
 */
import http from 'node:http';
import { expect } from 'chai';
import fc from 'fast-check';
import { serializeAlarm, type Scope } from '../../src/alarm/model.js';
import { hashToken } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/root.js';
import {
  DOMAINS,
  PROJECTS,
  TOKENS,
  anyJsonBody,
  headers,
  hugeBody,
  notJsonBytes,
  query,
  refusedBody,
  routeRequest,
  segment,
  unknownMethod,
  unknownPath,
  unknownPathRequest,
} from './arbitraries.js';
import { describeRequest, expectCodedAnswer, send, sendRaw, upgrade, type Answer, type FuzzRequest } from './client.js';

/** What a connection closed without any answer reads as. */
const NO_ANSWER: Answer = { status: 0, headers: {}, text: '', streamed: false };

const SCOPES: Scope[] = DOMAINS.flatMap((domain) => PROJECTS.map((project) => ({ domain, project })));

/** Runs the property at most `numRuns` times and for at most `timeLimitMs`, replaying FUZZ_SEED/FUZZ_PATH when set. */
async function check<T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number, timeLimitMs: number): Promise<void> {
  // An interrupted run keeps going; it must end before the server stops, and its failure must count.
  let last: Promise<void> = Promise.resolve();
  const replay = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {};
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, (value) => (last = predicate(value))),
      { numRuns, plugins: [fc.interruptAfterTimeLimit(timeLimitMs)], ...replay },
    );
  } catch (err) {
    await last.catch(() => undefined);
    throw err;
  }
  await last;
}

/** The scope a request names, when the path and header make a valid one (for the history check). */
function scopeOfRequest(req: FuzzRequest): Scope {
  const project = decodeURIComponent(/^\/v4\/([^/?]+)\//.exec(req.path)?.[1] ?? 'default');
  const domain = (req.headers['x-domain-name'] ?? 'default').replace(/^[ \t]+|[ \t]+$/g, '');
  return { domain, project };
}

describe('HTTP routes under random input', function () {
  this.timeout(60_000);
  let server: RunningServer;
  let agent: http.Agent;

  /** Seeds each scope with an active alarm, an unhealthy one and a cleared one, unless it holds some. */
  async function seed(): Promise<void> {
    for (const scope of SCOPES) {
      if (server.parts.index.scopeSize(scope) > 0) continue;
      await server.center.apply(scope, [
        { id: 'A', source: 's1', severity: 'major', fields: { detail: 'seeded' } },
        { id: 'BackendConnectionRefuse', fields: { detail: 'dial tcp: connection refused' } },
        { id: 'A', source: 's2', status: 'CLEARED' },
      ]);
    }
  }

  /** What a refused request must leave untouched: the store revision and every seeded scope's list. */
  function stored(): { revision: number; lists: string[][] } {
    return {
      revision: server.parts.index.revision,
      lists: SCOPES.map((s) => server.center.list(s).alarms.map((a) => JSON.stringify(a))),
    };
  }

  /** Property (e): every alarm a 2xx write answered is, as answered, in the store's history. */
  async function expectInHistory(req: FuzzRequest, answer: Answer, since: number): Promise<void> {
    const parsed = JSON.parse(answer.text) as { alarms?: { revision: number }[]; alarm?: { revision: number } };
    const answered = (parsed.alarms ?? (parsed.alarm ? [parsed.alarm] : [])).filter((a) => a.revision > since);
    if (answered.length === 0) return;
    const history = await server.parts.store.history(scopeOfRequest(req), since, 10_000);
    const byRevision = new Map(history.map((e) => [e.revision, JSON.parse(serializeAlarm(e.alarm)) as unknown]));
    for (const alarm of answered) {
      expect(byRevision.get(alarm.revision), `stored alarm of revision ${alarm.revision} after ${describeRequest(req)}`).to.deep.equal(alarm);
    }
  }

  /** Sends one request and checks properties (a), (b), (d) and (e); returns the answer. */
  async function exchange(req: FuzzRequest, transport: (req: FuzzRequest) => Promise<Answer> = (r) => send(server.port, agent, r)): Promise<Answer> {
    await seed();
    const before = stored();
    const answer = await transport(req);
    const what = describeRequest(req);
    expectCodedAnswer(answer, what);
    if (answer.status >= 400) {
      expect(stored(), `stored alarms after the ${answer.status} answer to ${what}`).to.deep.equal(before);
    } else if (answer.status < 300 && (req.method === 'POST' || req.method === 'DELETE') && /^application\/json/.test(String(answer.headers['content-type']))) {
      await expectInHistory(req, answer, before.revision);
    }
    return answer;
  }

  /** Property (c): the process still answers its liveness probe. */
  async function expectAlive(): Promise<void> {
    const answer = await send(server.port, agent, { method: 'GET', path: '/livez', headers: {} });
    expect([answer.status, answer.text]).to.deep.equal([200, 'ok']);
  }

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  });

  afterEach(async () => {
    agent.destroy();
    await server.close();
  });

  it('answers every route, whatever the method, path segments, query and headers, with 2xx or a coded 4xx', async () => {
    await check(routeRequest, async (req) => void (await exchange(req)), 2500, 4000);
    await expectAlive();
  });

  it('answers every route with 2xx or a coded 4xx when tokens are required, whatever the Authorization header', async () => {
    await server.close();
    server = await startServer({
      port: 0,
      dataDir: ':memory:',
      tokens: [
        { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
        { name: 'writer', role: 'write', sha256: hashToken(TOKENS.write), scopes: ['default/p', 'tenant/*'] },
        { name: 'admin', role: 'admin', sha256: hashToken(TOKENS.admin) },
      ],
    });
    await check(routeRequest, async (req) => void (await exchange(req)), 1500, 2000);
    await expectAlive();
  });

  it('refuses AlarmInputs with one field made invalid, alone or in a batch, with 400001 naming the field', async () => {
    const arbitrary = fc.record({ project: fc.constantFrom(...PROJECTS), domain: fc.constantFrom(...DOMAINS), refused: refusedBody });
    await check(
      arbitrary,
      async ({ project, domain, refused }) => {
        const req = {
          method: 'POST',
          path: `/v4/${project}/admin/alarms`,
          headers: { 'content-type': 'application/json', 'x-domain-name': domain },
          body: Buffer.from(JSON.stringify(refused.body)),
        };
        const answer = await exchange(req);
        const error = expectCodedAnswer(answer, describeRequest(req));
        expect(error?.errorCode, `answer to ${describeRequest(req)}: ${answer.text.slice(0, 300)}`).to.equal('400001');
        for (const name of refused.names) expect(error?.detail, 'the detail names the offending field').to.include(name);
      },
      1000,
      2000,
    );
    await expectAlive();
  });

  it('answers arbitrary JSON bodies with 2xx or a coded 4xx, and a 2xx answer shows what the store holds', async () => {
    const arbitrary = fc.record({ project: fc.constantFrom(...PROJECTS), domain: fc.constantFrom(...DOMAINS), body: anyJsonBody });
    await check(
      arbitrary,
      async ({ project, domain, body }) => {
        const req = {
          method: 'POST',
          path: `/v4/${project}/admin/alarms`,
          headers: { 'content-type': 'application/json', 'x-domain-name': domain },
          body: Buffer.from(JSON.stringify(body)),
        };
        await exchange(req);
      },
      1200,
      2000,
    );
    await expectAlive();
  });

  it('refuses bytes that are not JSON, sent as application/json, with 400001', async () => {
    const arbitrary = fc.record({ project: fc.constantFrom(...PROJECTS), bytes: notJsonBytes });
    await check(
      arbitrary,
      async ({ project, bytes }) => {
        const req = { method: 'POST', path: `/v4/${project}/admin/alarms`, headers: { 'content-type': 'application/json' }, body: bytes };
        const answer = await exchange(req);
        let json = true;
        try {
          JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
        } catch {
          json = false;
        }
        if (!json) expect(expectCodedAnswer(answer, describeRequest(req))?.errorCode).to.equal('400001');
      },
      600,
      1500,
    );
    await expectAlive();
  });

  it('refuses bodies past the size limit with 413001', async () => {
    const arbitrary = fc.record({ project: fc.constantFrom(...PROJECTS), body: hugeBody });
    await check(
      arbitrary,
      async ({ project, body }) => {
        const req = { method: 'POST', path: `/v4/${project}/admin/alarms`, headers: { 'content-type': 'application/json' }, body };
        const answer = await exchange(req);
        expect(expectCodedAnswer(answer, describeRequest(req))?.errorCode).to.equal('413001');
      },
      8,
      1500,
    );
    await expectAlive();
  });

  it('answers random paths, with any known method, with 2xx or a coded 4xx', async () => {
    await check(unknownPathRequest, async (req) => void (await exchange(req)), 1000, 1500);
    await expectAlive();
  });

  it('answers watch requests asking for an event stream with a stream or a coded 4xx', async () => {
    const arbitrary = fc.record({ project: segment, query, headers });
    await check(
      arbitrary,
      async ({ project, query: q, headers: h }) => {
        const req = { method: 'GET', path: `/v4/${project}/admin/alarms/watch${q}`, headers: { ...h, accept: 'text/event-stream' } };
        const answer = await exchange(req);
        if (answer.status < 300) expect(answer.headers['content-type']).to.match(/^text\/event-stream/);
      },
      600,
      1500,
    );
    await expectAlive();
  });

  it('answers WebSocket upgrades with random paths, query strings and headers with 101 or a coded 4xx', async () => {
    const watchPath = fc.tuple(segment, query).map(([project, q]) => `/v4/${project}/admin/alarms/watch${q}`);
    const arbitrary = fc.record({
      path: fc.oneof({ weight: 3, arbitrary: watchPath }, { weight: 1, arbitrary: unknownPath }),
      domain: fc.option(fc.constantFrom(...DOMAINS, '', 'bad domain', 'x'.repeat(129))),
    });
    await check(
      arbitrary,
      async ({ path, domain }) => {
        const h: Record<string, string> = domain === null ? {} : { 'x-domain-name': domain };
        await exchange({ method: 'GET', path, headers: h }, (req) => upgrade(server.port, req.path, req.headers));
      },
      200,
      1500,
    );
    await expectAlive();
  });

  it("answers requests Node's HTTP parser refuses (unknown methods, raw bytes, broken lines, huge heads) with a coded 4xx", async () => {
    const request = (line: string, head = '') => Buffer.from(`${line}\r\nHost: localhost\r\n${head}Connection: close\r\n\r\n`, 'latin1');
    const arbitrary = fc.oneof(
      fc.tuple(unknownMethod, fc.constantFrom('/v4/p/admin/alarms', '/livez', '/')).map(([m, p]) => request(`${m} ${p} HTTP/1.1`)),
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
        .filter((s) => [...s].some((c) => c.charCodeAt(0) > 0x7f))
        .map((s) => Buffer.concat([Buffer.from('GET /v4/'), Buffer.from(s), request('/admin/alarms HTTP/1.1')])),
      fc.constantFrom('HTTP/9.9', 'HTTP/1', 'HTTP/1.1 x', 'FTP/1.1', '').map((v) => request(`GET /livez ${v}`)),
      fc.constantFrom('NoColon', 'Bad Name: x', ': empty', ' folded: x', 'x-domain-name: a\rb').map((h) => request('GET /v4/p/admin/alarms HTTP/1.1', `${h}\r\n`)),
      fc.integer({ min: 17 * 1024, max: 40 * 1024 }).map((n) => request(`GET /v4/p/admin/alarms?source=${'s'.repeat(n)} HTTP/1.1`)),
      fc.integer({ min: 17 * 1024, max: 40 * 1024 }).map((n) => request('GET /v4/p/admin/alarms HTTP/1.1', `x-domain-name: ${'d'.repeat(n)}\r\n`)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.from('\r\n\r\n')])),
    );
    await check(
      arbitrary,
      async (bytes) => {
        const req = { method: 'RAW', path: JSON.stringify(bytes.subarray(0, 120).toString('latin1')), headers: {} };
        const answer = await exchange(req, async () => (await sendRaw(server.port, bytes))[0] ?? NO_ANSWER);
        expect(answer.status, `answer to ${req.path}`).to.be.within(400, 499);
      },
      200,
      1500,
    );
    await expectAlive();
  });

  it('answers a request before refusing the malformed one its unframed body makes', async () => {
    const arbitrary = fc.record({
      line: fc.constantFrom('DELETE /v4/p/admin/alarms', 'DELETE /v4/q/admin/alarms/A?source=s1', 'POST /v4/p/admin/alarms', 'GET /v4/p/admin/alarms', 'GET /livez'),
      body: anyJsonBody.map((v) => JSON.stringify(v)),
    });
    await check(
      arbitrary,
      async ({ line, body }) => {
        // No Content-Length: the body (JSON text, never a method) is a second request, and a malformed one.
        const bytes = Buffer.from(`${line} HTTP/1.1\r\nHost: localhost\r\n\r\n${body}\r\n\r\n`);
        const req = { method: 'RAW', path: JSON.stringify(bytes.subarray(0, 120).toString('latin1')), headers: {} };
        let answers: Answer[] = [];
        await exchange(req, async () => {
          answers = await sendRaw(server.port, bytes);
          return answers[0] ?? NO_ANSWER;
        });
        expect(answers.map((a) => a.status), `answers to ${req.path}`).to.have.length(2).and.to.have.property('1', 400);
        expect(expectCodedAnswer(answers[1] as Answer, req.path)?.errorCode).to.equal('400001');
      },
      200,
      1500,
    );
    await expectAlive();
  });
});
