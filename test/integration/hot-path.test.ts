/**
 * The hot path answers raises and cluster health probes before express; express serves the
 * same routes for every request the hot path leaves to it. Two servers get the same requests,
 * one in the plain form the hot path takes, the other with a query the routes ignore (which the hot path
 * leaves to express): every answer must be the same, headers included.
 */
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { Config } from '../../src/config.js';
import { hashToken } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/server.js';

interface Case {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const LIMIT = 4096;

function post(name: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = JSON_TYPE, path = '/v4/p1/admin/alarms'): Case {
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
  post('a gzipped body', new Uint8Array(gzipSync(JSON.stringify({ id: 'Zipped' }))), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
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

/** Sends a case; `expressForm` adds a query the routes ignore, which the hot path leaves to express. */
async function send(server: RunningServer, c: Case, expressForm: boolean): Promise<Answer> {
  const res = await fetch(`${server.url}${c.path}${expressForm ? '?via=express' : ''}`, { method: c.method, headers: c.headers, body: c.body });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'date' && name !== 'x-request-id') headers[name] = value;
  });
  if (c.headers?.['x-request-id']) expect(res.headers.get('x-request-id')).to.equal(c.headers['x-request-id']);
  else expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  return { status: res.status, headers, body: await res.text() };
}

/** The answer with its timestamps and port (the only parts two servers may differ in) blanked. */
function comparable(a: Answer): Answer {
  const body = a.body
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"timestamp":"\d+"/g, '"timestamp":"<t>"')
    .replace(/rest:\/\/127\.0\.0\.1:\d+/g, 'rest://127.0.0.1:<port>');
  return { ...a, body };
}

/** Counts the requests that reach express. */
function countExpress(server: RunningServer): { count: number } {
  const counter = { count: 0 };
  type Handle = (req: unknown, res: unknown, next: unknown) => void;
  const app = server.app.app as unknown as { handle: Handle };
  const handle = app.handle.bind(app);
  app.handle = (req, res, next) => {
    counter.count += 1;
    handle(req, res, next);
  };
  return counter;
}

describe('hot path', function () {
  let hot: RunningServer;
  let fallback: RunningServer;

  async function start(settings: Partial<Config> = {}): Promise<void> {
    hot = await startServer({ port: 0, dataDir: ':memory:', bodyLimitBytes: LIMIT, ...settings });
    fallback = await startServer({ port: 0, dataDir: ':memory:', bodyLimitBytes: LIMIT, ...settings });
  }

  afterEach(async function () {
    await Promise.all([hot?.close(), fallback?.close()]);
  });

  /** Sends every case to both servers in turn and expects the same answers, the hot ones never reaching express. */
  async function expectSameAnswers(cases: Case[]): Promise<Answer[]> {
    const viaExpress = { hot: countExpress(hot), fallback: countExpress(fallback) };
    const answers: Answer[] = [];
    for (const c of cases) {
      const a = await send(hot, c, false);
      const b = await send(fallback, c, true);
      expect(comparable(a), c.name).to.deep.equal(comparable(b));
      answers.push(a);
    }
    expect(viaExpress.hot.count, 'requests the hot server passed to express').to.equal(0);
    expect(viaExpress.fallback.count, 'requests the other server passed to express').to.equal(cases.length);
    return answers;
  }

  it('answers raises, clears, bad bodies and probes as express does', async function () {
    await start();
    const answers = await expectSameAnswers(CASES);
    const statusOf = (name: string) => answers[CASES.findIndex((c) => c.name === name)]?.status;
    // The cases cover what they are named for.
    expect(statusOf('a raise')).to.equal(200);
    expect(statusOf('a gzipped body')).to.equal(200);
    expect(statusOf('malformed JSON')).to.equal(400);
    expect(statusOf('a body over the limit')).to.equal(413);
    expect(answers[CASES.findIndex((c) => c.name === 'a clear of an unknown alarm')]?.body).to.match(/^{"alarms":\[\]/);
    expect(statusOf('an unhealthy probe')).to.equal(400);
    expect(statusOf('a healthy probe')).to.equal(200);
    const stored = (s: RunningServer) => s.center.list({ domain: 'default', project: 'p1' }).alarms.map((x) => `${x.id}/${x.source}/${x.status}/${x.count}`);
    expect(stored(hot)).to.deep.equal(stored(fallback)).and.to.have.length(5);
  });

  it('refuses by token, role and write rate as express does', async function () {
    const tokens = [
      { name: 'reader', role: 'read' as const, sha256: hashToken('r-1') },
      { name: 'writer', role: 'write' as const, sha256: hashToken('w-1') },
      { name: 'p9-only', role: 'write' as const, sha256: hashToken('s-1'), scopes: ['default/p9'] },
    ];
    await start({ tokens, writeRateLimit: 2, probesOpen: false });
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
    const answers = await expectSameAnswers(cases);
    expect(answers.map((a) => a.status)).to.deep.equal([401, 401, 401, 403, 403, 200, 200, 429, 401, 200]);
    expect(answers[7]?.headers['retry-after']).to.match(/^[12]$/);
  });
});
