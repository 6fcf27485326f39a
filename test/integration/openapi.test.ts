import fs from 'node:fs';
import { get as httpGet } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { HistoryQuerySchema, ListQuerySchema } from '../../src/alarm/filter.js';
import type { Config } from '../../src/config.js';
import { ERROR_CATALOG, httpStatusOf, type ErrorCode } from '../../src/errors.js';
import { ROLES, hashToken, type TokenSpec } from '../../src/http/auth.js';
import { requirementOfRoute, specKeys } from '../../src/http/route-table.js';
import { startServer, type RunningServer } from '../../src/root.js';
import {
  HTTP_METHODS,
  SpecSchemas,
  collectRefs,
  deref,
  essence,
  expressRoutes,
  isObj,
  loadSpec,
  operations,
  resolvePointer,
  specRoutes,
  type Obj,
} from '../helpers/openapi.js';
import { WsClient } from '../helpers/watch.js';

const README_FILE = new URL('../../README.md', import.meta.url);
const CODE = /(?<![\d.])[1-5][0-9]{5}(?![\d.])/g;
const { text, doc } = loadSpec();

function objAt(node: unknown, key: string): Obj {
  const value = isObj(node) ? node[key] : undefined;
  return isObj(value) ? value : {};
}

function valueOf(example: unknown): unknown {
  return isObj(example) ? example.value : undefined;
}

function codesIn(text: unknown): string[] {
  return typeof text === 'string' ? [...text.matchAll(CODE)].map((m) => m[0]) : [];
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Every documented response of every operation, references followed. */
function allResponses(doc: Obj): { where: string; status: string; response: Obj }[] {
  return operations(doc).flatMap(({ path, method, op }) =>
    Object.entries(objAt(op, 'responses')).map(([status, r]) => {
      const response = deref(doc, r);
      return { where: `${method.toUpperCase()} ${path} ${status}`, status, response: isObj(response) ? response : {} };
    }),
  );
}

/** The names of the query parameters an operation declares, its path item's included. */
function queryParameters(doc: Obj, method: string, path: string): string[] {
  const found = operations(doc).find((o) => o.method === method && o.path === path);
  const declared = [...((found?.pathItem.parameters as unknown[]) ?? []), ...((found?.op.parameters as unknown[]) ?? [])];
  return declared
    .map((p) => deref(doc, p))
    .filter((p): p is Obj => isObj(p) && p.in === 'query')
    .map((p) => String(p.name));
}

/** Every media type of every request body and response, with where it is. */
function allMediaTypes(doc: Obj): { where: string; media: Obj }[] {
  const out: { where: string; media: Obj }[] = [];
  for (const { path, method, op } of operations(doc)) {
    const body = deref(doc, op.requestBody);
    for (const [type, media] of Object.entries(objAt(body, 'content'))) {
      if (isObj(media)) out.push({ where: `${method.toUpperCase()} ${path} request ${type}`, media });
    }
  }
  for (const { where, response } of allResponses(doc)) {
    for (const [type, media] of Object.entries(objAt(response, 'content'))) {
      if (isObj(media)) out.push({ where: `${where} ${type}`, media });
    }
  }
  return out;
}

interface EventStream {
  status: number;
  type: string;
  /** The frames read, each split into its lines. */
  frames: string[][];
}

/**
 * Reads a Server-Sent Events stream until `enough` holds for the frames read, then hangs up.
 * (node:http rather than fetch: fetch leaves a spare connection open that holds the server's stop.)
 */
function readEvents(url: string, enough: (frames: string[][]) => boolean): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const frames = text
          .split('\n\n')
          .slice(0, -1)
          .map((f) => f.split('\n'));
        if (!enough(frames)) return;
        req.destroy();
        resolve({ status: res.statusCode ?? 0, type: essence(res.headers['content-type']), frames });
      });
      res.on('end', () => reject(new Error(`the stream ended early: ${text}`)));
    });
    req.on('error', reject);
  });
}

/** The parsed `data:` of the frames that have one. */
function dataOf(frames: string[][]): unknown[] {
  return frames.flatMap((f) => f.filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as unknown));
}

/**
 * What an operation's `security` (or the document's) asks for: whether it may be called without a
 * token (an empty requirement, or none at all), and the least role its bearer requirement names.
 */
function securityOf(op: Obj): { optional: boolean; role: string | undefined } {
  const declared = op.security ?? doc.security;
  const requirements = (Array.isArray(declared) ? (declared as unknown[]) : []).filter(isObj);
  const roles = requirements.flatMap((r) => (Array.isArray(r.bearer) ? (r.bearer as unknown[]).map(String) : []));
  return { optional: requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0), role: roles[0] };
}

/** Asserts that the headers a documented response requires are sent and match, and that a sent x-request-id is documented. */
function expectDocumentedHeaders(schemas: SpecSchemas, where: string, response: Obj, res: request.Response): void {
  const documented = Object.entries(objAt(response, 'headers')).map(([name, h]) => ({ name: name.toLowerCase(), header: deref(doc, h) }));
  for (const { name, header } of documented) {
    if (!isObj(header) || header.required !== true) continue;
    const value: unknown = res.headers[name];
    expect(value, `${where} sends ${name}`).to.be.a('string');
    if (objAt(header, 'schema').type === 'string') expect(schemas.errors(header.schema, value), `${where} ${name}`).to.deep.equal([]);
  }
  if (res.headers['x-request-id'] !== undefined) {
    expect(documented.map((d) => d.name), `${where} documents x-request-id`).to.include('x-request-id');
  }
}

/** Asserts that a real answer is documented for its operation: status, required headers, content type and body schema. */
function expectDocumented(schemas: SpecSchemas, method: string, path: string, res: request.Response): void {
  const response = schemas.response(method, path, res.status);
  expect(response, `${method} ${path} documents status ${res.status}`).to.be.an('object');
  expectDocumentedHeaders(schemas, `${method} ${path} ${res.status}`, response as Obj, res);
  const content = objAt(response, 'content');
  const type = essence(res.headers['content-type']);
  if (Object.keys(content).length === 0) {
    expect(res.text ?? '', `${method} ${path} ${res.status} documents no body`).to.equal('');
    return;
  }
  const media = content[type];
  expect(media, `${method} ${path} ${res.status} documents ${type}`).to.be.an('object');
  const body: unknown = type === 'application/json' ? res.body : res.text;
  expect(schemas.errors(objAt(content, type).schema, body), `${method} ${path} ${res.status} body`).to.deep.equal([]);
}


/** An ACTIVATED alarm in the wire form, for schema checks. */
const ACTIVE_ALARM = {
  id: 'A',
  status: 'ACTIVATED',
  fields: {},
  source: '',
  severity: 'indeterminate',
  count: 1,
  raisedAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:00:00.000Z',
  revision: 3,
  acknowledged: false,
};
describe('openapi.yaml', function () {

  describe('document', function () {
    it('declares OpenAPI 3.1 with a title, a version and paths', function () {
      expect(doc.openapi).to.be.a('string').and.match(/^3\.1\.\d+$/);
      expect(objAt(doc, 'info').title).to.be.a('string').and.not.equal('');
      expect(objAt(doc, 'info').version).to.be.a('string').and.not.equal('');
      expect(Object.keys(objAt(doc, 'paths'))).to.have.length.greaterThan(0);
      for (const path of Object.keys(objAt(doc, 'paths'))) expect(path).to.match(/^\//);
    });

    it('resolves every $ref inside the document', function () {
      const refs = collectRefs(doc);
      expect(refs).to.have.length.greaterThan(0);
      for (const { at, ref } of refs) {
        expect(ref, `$ref at ${at}`).to.be.a('string').and.match(/^#\//);
        expect(resolvePointer(doc, ref as string), `$ref ${String(ref)} at ${at}`).to.not.equal(undefined);
      }
    });

    it('declares every path parameter of every path template, and no other', function () {
      for (const { path, pathItem, op } of operations(doc)) {
        const declared = [...((pathItem.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])]
          .map((p) => deref(doc, p))
          .filter((p): p is Obj => isObj(p) && p.in === 'path');
        const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        expect(sorted(declared.map((p) => String(p.name))), `path parameters of ${path}`).to.deep.equal(sorted(inTemplate as string[]));
        for (const p of declared) expect(p.required, `${path} parameter ${String(p.name)} is required`).to.equal(true);
      }
    });

    it('declares every parameter with a name, a location and a schema', function () {
      for (const { path, method, pathItem, op } of operations(doc)) {
        const seen = new Set<string>();
        for (const raw of [...((pathItem.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])]) {
          const p = deref(doc, raw);
          const where = `${method.toUpperCase()} ${path}`;
          expect(p, `a parameter of ${where}`).to.satisfy(isObj);
          const param = p as Obj;
          expect(param.name, `a parameter of ${where}`).to.be.a('string').and.not.equal('');
          expect(['path', 'query', 'header', 'cookie'], `location of ${String(param.name)} in ${where}`).to.include(param.in);
          expect(param.schema, `schema of ${String(param.name)} in ${where}`).to.satisfy(isObj);
          seen.add(`${String(param.in)} ${String(param.name)}`);
        }
        if (/\{project\}/.test(path) || path === '/health') expect(seen, `scope of ${path}`).to.include('header x-domain-name');
      }
    });

    it('gives every operation a unique operationId, a declared tag and described responses with a 2xx', function () {
      const tags = new Set(((doc.tags as unknown[]) ?? []).filter(isObj).map((t) => t.name));
      const ids = new Set<string>();
      for (const { path, method, op } of operations(doc)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, `operationId of ${where}`).to.be.a('string');
        expect(ids.has(op.operationId as string), `operationId ${String(op.operationId)} is unique`).to.equal(false);
        ids.add(op.operationId as string);
        for (const tag of (op.tags as unknown[]) ?? []) expect(tags.has(tag), `tag ${String(tag)} of ${where} is declared`).to.equal(true);
        const statuses = Object.keys(objAt(op, 'responses'));
        expect(statuses.some((s) => /^2\d\d$/.test(s)), `${where} documents a 2xx`).to.equal(true);
      }
      for (const { where, response } of allResponses(doc)) expect(response.description, where).to.be.a('string').and.not.equal('');
    });

    it('compiles every component schema as JSON Schema 2020-12', function () {
      const schemas = new SpecSchemas(doc);
      const names = Object.keys(objAt(doc.components, 'schemas'));
      expect(names).to.include.members([
        'AlarmInput',
        'AlarmBatch',
        'Alarm',
        'AlarmList',
        'AlarmListPage',
        'Cursor',
        'ClearOneResponse',
        'HealthyResponse',
        'Error',
        'HistoryPage',
        'HistoryEntry',
        'WatchMessage',
        'AckInput',
        'ClearSelector',
        'ClearMatchingResponse',
      ]);
      for (const name of names) expect(() => schemas.component(name), name).to.not.throw();
    });

    it('gives only examples that match their schemas', function () {
      const schemas = new SpecSchemas(doc);
      let checked = 0;
      for (const { where, media } of allMediaTypes(doc)) {
        const examples = [
          ...('example' in media ? [media.example] : []),
          ...Object.values(objAt(media, 'examples')).map((e) => valueOf(deref(doc, e))),
        ];
        for (const example of examples) {
          expect(schemas.errors(media.schema, example), `example of ${where}`).to.deep.equal([]);
          checked += 1;
        }
      }
      expect(checked).to.be.greaterThan(0);
    });

    it('keeps AlarmInput strict and errorCode a string of six digits', function () {
      const schemas = new SpecSchemas(doc);
      expect(schemas.component('AlarmInput')({ id: 'BackendConnectionRefuse' })).to.equal(true);
      expect(schemas.component('AlarmInput')({ id: 'A', bogus: 1 })).to.equal(false);
      expect(schemas.component('AlarmInput')({ id: 'has space' })).to.equal(false);
      expect(schemas.component('AlarmBatch')({ alarms: [] })).to.equal(false);
      expect(schemas.component('Error')({ errorCode: '400001', errorMessage: 'Invalid parameter(s)' })).to.equal(true);
      expect(schemas.component('Error')({ errorCode: 400001, errorMessage: 'Invalid parameter(s)' })).to.equal(false);
    });

    it('requires an alarm in every WatchMessage but RESYNC, and none in RESYNC', function () {
      const schemas = new SpecSchemas(doc);
      const alarm = ACTIVE_ALARM;
      const message = schemas.component('WatchMessage');
      expect(message({ action: 'RAISE', alarm, revision: 3 })).to.equal(true);
      expect(message({ action: 'RAISE', revision: 3 })).to.equal(false);
      expect(message({ action: 'RESYNC', revision: 3 })).to.equal(true);
      expect(message({ action: 'RESYNC', alarm, revision: 3 })).to.equal(false);
      expect(message({ action: 'EXPLODE', alarm, revision: 3 })).to.equal(false);
      for (const action of ['ACK', 'UNACK', 'EXPIRE', 'PURGE']) expect(message({ action, alarm, revision: 3 }), action).to.equal(true);
    });

    it('requires acknowledged in an Alarm, with the acknowledgement exactly when it is true, and neither on a CLEARED one', function () {
      const schemas = new SpecSchemas(doc);
      const alarm = schemas.component('Alarm');
      const active = ACTIVE_ALARM;
      const ack = { ackedBy: 'ops', ackedAt: '2026-11-22T10:01:00.000Z', ackComment: '' };
      const cleared = { ...active, status: 'CLEARED', clearedAt: '2026-11-22T10:02:00.000Z' };
      expect(alarm(active)).to.equal(true);
      expect(alarm({ ...active, acknowledged: undefined })).to.equal(false);
      expect(alarm({ ...active, acknowledged: true, ...ack })).to.equal(true);
      expect(alarm({ ...active, acknowledged: true })).to.equal(false);
      expect(alarm({ ...active, ...ack })).to.equal(false);
      expect(alarm({ ...active, expiresAt: '2026-11-22T10:00:30.000Z' })).to.equal(true);
      expect(alarm(cleared)).to.equal(true);
      expect(alarm({ ...cleared, acknowledged: true, ...ack })).to.equal(false);
      expect(alarm({ ...cleared, expiresAt: '2026-11-22T10:00:30.000Z' })).to.equal(false);
    });

    it('bounds ttlSeconds, and keeps AckInput strict and ClearSelector non-empty', function () {
      const schemas = new SpecSchemas(doc);
      const input = schemas.component('AlarmInput');
      expect(input({ id: 'A', ttlSeconds: 1 })).to.equal(true);
      expect(input({ id: 'A', ttlSeconds: 366 * 24 * 3600 })).to.equal(true);
      for (const ttlSeconds of [0, 1.5, '30', 366 * 24 * 3600 + 1]) expect(input({ id: 'A', ttlSeconds }), String(ttlSeconds)).to.equal(false);
      const ackInput = schemas.component('AckInput');
      expect(ackInput({ by: 'ops', comment: 'on it' })).to.equal(true);
      for (const body of [{}, { by: '' }, { by: 'x'.repeat(257) }, { by: 'ops', comment: 'x'.repeat(1025) }, { by: 'ops', extra: 1 }]) {
        expect(ackInput(body), JSON.stringify(body).slice(0, 40)).to.equal(false);
      }
      const selector = schemas.component('ClearSelector');
      for (const body of [{ ids: ['A'] }, { source: '' }, { severity: 'major' }, { ids: ['A'], source: 's', severity: 'minor' }]) {
        expect(selector(body), JSON.stringify(body)).to.equal(true);
      }
      for (const body of [{}, { ids: [] }, { ids: ['bad id'] }, { severity: 'huge' }, { all: true }]) {
        expect(selector(body), JSON.stringify(body)).to.equal(false);
      }
    });

    it('answers total and next only as a page does: next never without total in a list, cursors URL-safe', function () {
      const schemas = new SpecSchemas(doc);
      const listPage = schemas.component('AlarmListPage');
      expect(listPage({ alarms: [], revision: 3 }), 'the whole list').to.equal(true);
      expect(listPage({ alarms: [], revision: 3, total: 0 }), 'the last page').to.equal(true);
      expect(listPage({ alarms: [], revision: 3, total: 9, next: 'TGFB' }), 'a page with more after it').to.equal(true);
      expect(listPage({ alarms: [], revision: 3, next: 'TGFB' }), 'next without total').to.equal(false);
      expect(listPage({ alarms: [], revision: 3, total: -1 }), 'a negative total').to.equal(false);
      const historyPage = schemas.component('HistoryPage');
      expect(historyPage({ history: [], revision: 3, next: 'SDM' }), 'next without a limit').to.equal(true);
      const cursor = schemas.component('Cursor');
      for (const bad of ['', 'a b', 'a+b/c=', 'x'.repeat(2049)]) expect(cursor(bad), JSON.stringify(bad.slice(0, 10))).to.equal(false);
    });
  });

  describe('security', function () {
    /** A concrete path of a template, for the route table's matching. */
    const sample = (path: string) => path.replace('{project}', 'p').replace('{id}', 'A').replace('{check}', 'store');
    let running: RunningServer;
    /** The requirement the route table makes of a request. */
    const requirementOf = (method: string, path: string, probesOpen: boolean) => {
      const found = running.app.table.match(method, path);
      return found ? requirementOfRoute(found.route.access, probesOpen) : 'no route';
    };

    before(async function () {
      running = await startServer({ port: 0, dataDir: ':memory:' });
    });

    after(async function () {
      await running.close();
    });

    it('declares a bearer scheme and names only its roles in requirements', function () {
      expect(objAt(objAt(doc.components, 'securitySchemes'), 'bearer')).to.include({ type: 'http', scheme: 'bearer' });
      for (const { path, method, op } of operations(doc)) {
        const declared = op.security ?? doc.security;
        expect(declared, `security of ${method.toUpperCase()} ${path}`).to.be.an('array');
        for (const requirement of declared as unknown[]) {
          expect(requirement, `a requirement of ${method.toUpperCase()} ${path}`).to.satisfy(isObj);
          for (const [scheme, roles] of Object.entries(requirement as Obj)) {
            expect(scheme).to.equal('bearer');
            expect(roles).to.be.an('array').with.lengthOf(1);
            expect(ROLES).to.include((roles as unknown[])[0]);
          }
        }
      }
    });

    it('asks every operation for the role the access layer asks for, probes open or closed', function () {
      for (const { path, method, op } of operations(doc)) {
        const where = `${method.toUpperCase()} ${path}`;
        const { optional, role } = securityOf(op);
        expect(requirementOf(method.toUpperCase(), sample(path), true), `${where}, probes open`).to.equal(optional ? 'open' : role);
        expect(requirementOf(method.toUpperCase(), sample(path), false), `${where}, probes closed`).to.equal(role ?? 'open');
      }
    });

  });

  describe('routes', function () {
    let running: RunningServer;
    let served: string[];

    before(async function () {
      running = await startServer({ port: 0, dataDir: ':memory:' });
      served = expressRoutes(running.app.app);
    });

    after(async function () {
      await running.close();
    });

    it('finds the routes of the nested routers', function () {
      expect(served).to.include.members(['DELETE /v4/{project}/admin/alarms/{id}', 'GET /readyz/{check}', 'GET /openapi.yaml']);
    });

    it('documents 401 where a token may be asked for, 403 where a role or scope can fall short, 431 everywhere', function () {
      const scoped = new Set(specKeys(running.app.table.routes.filter((r) => r.scope !== 'none')));
      for (const { path, method, op } of operations(doc)) {
        const where = `${method.toUpperCase()} ${path}`;
        const { role } = securityOf(op);
        const statuses = Object.keys(objAt(op, 'responses'));
        // Scopes restrict the routes acting on a project (their own or the default one), and read is the least role there is.
        const forbiddable = role !== undefined && (scoped.has(where) || role !== 'read');
        expect(statuses.includes('401'), `${where} documents 401`).to.equal(role !== undefined);
        expect(statuses.includes('403'), `${where} documents 403`).to.equal(forbiddable);
        expect(statuses, `${where} documents 431`).to.include('431');
      }
    });

    it('documents every route the app serves', function () {
      const documented = new Set(specRoutes(doc));
      expect(sorted(served.filter((r) => !documented.has(r))), 'served but not documented').to.deep.equal([]);
    });

    it('serves in express every route the hot path answers first, so the others fall back to it', function () {
      const hot = specKeys(running.app.table.routes.filter((r) => r.fast));
      expect(hot).to.have.length.above(0);
      expect(served).to.include.members(hot);
    });

    it("derives express's routes from the route table, in its order", function () {
      expect(served).to.deep.equal(specKeys(running.app.table.routes));
    });

    it('documents no route the app does not serve', function () {
      const routes = new Set(served);
      expect(sorted(specRoutes(doc).filter((r) => !routes.has(r))), 'documented but not served').to.deep.equal([]);
    });

    it('declares exactly the query parameters the list and the history take', function () {
      expect(sorted(queryParameters(doc, 'get', '/v4/{project}/admin/alarms')), 'list').to.deep.equal(sorted(Object.keys(ListQuerySchema.in.shape)));
      expect(sorted(queryParameters(doc, 'get', '/v4/{project}/admin/alarms/history')), 'history').to.deep.equal(
        sorted(Object.keys(HistoryQuerySchema.in.shape)),
      );
    });

    it('documents only methods an OpenAPI path item can hold', function () {
      for (const [path, item] of Object.entries(objAt(doc, 'paths'))) {
        const extra = Object.keys(isObj(item) ? item : {}).filter(
          (k) => !(HTTP_METHODS as readonly string[]).includes(k) && !['parameters', 'summary', 'description', 'servers'].includes(k),
        );
        expect(extra, `keys of ${path}`).to.deep.equal([]);
      }
    });
  });

  describe('error codes', function () {
    const catalog = Object.keys(ERROR_CATALOG) as ErrorCode[];
    const listed = objAt(doc, 'x-error-codes');

    it('documents every code of the catalog with its status and message', function () {
      for (const code of catalog) {
        const entry = objAt(listed, code);
        expect(entry, `x-error-codes.${code}`).to.not.deep.equal({});
        expect(entry.status, `status of ${code}`).to.equal(httpStatusOf(code));
        expect(entry.message, `message of ${code}`).to.equal(ERROR_CATALOG[code]);
        expect(entry.description, `description of ${code}`).to.be.a('string').and.not.equal('');
      }
    });

    it('mentions no code the catalog lacks', function () {
      expect(Object.keys(listed).filter((c) => !(c in ERROR_CATALOG)), 'x-error-codes').to.deep.equal([]);
      expect([...new Set(codesIn(text))].filter((c) => !(c in ERROR_CATALOG)), 'codes anywhere in the document').to.deep.equal([]);
    });

    it('names in every JSON error response the codes of its status, and only those', function () {
      for (const { where, status, response } of allResponses(doc)) {
        const codes = codesIn(response.description);
        for (const code of codes) expect(String(httpStatusOf(code as ErrorCode)), `${code} in ${where}`).to.equal(status);
        const json = objAt(objAt(response, 'content'), 'application/json');
        if (Number(status) >= 400 && Object.keys(json).length > 0) {
          expect(codes, `codes named by ${where}`).to.have.length.greaterThan(0);
          // The intake's own 400s are Alertmanager's or PagerDuty's bodies, offered beside the Error body.
          const schema = json.schema as { $ref?: string; oneOf?: unknown[] };
          const choices = schema.oneOf ?? [schema];
          expect(choices, `schema of ${where}`).to.deep.include({ $ref: '#/components/schemas/Error' });
        }
      }
    });

    it('names every code Alarm Center answers in some response, and no reserved one', function () {
      const named = new Set(allResponses(doc).flatMap(({ response }) => codesIn(response.description)));
      for (const code of catalog) {
        const reserved = objAt(listed, code).reserved === true;
        expect(named.has(code), `${code} is ${reserved ? 'reserved, so named by no response' : 'named by a response'}`).to.equal(!reserved);
      }
    });
  });

  describe('answers of a real server', function () {
    let running: RunningServer;
    let schemas: SpecSchemas;
    const ALARMS = '/v4/{project}/admin/alarms';
    const ONE = '/v4/{project}/admin/alarms/{id}';
    const HEALTH = '/v4/{project}/registry/health';
    const HISTORY = '/v4/{project}/admin/alarms/history';
    const WATCH = '/v4/{project}/admin/alarms/watch';
    const ACK = '/v4/{project}/admin/alarms/{id}/ack';
    const UNACK = '/v4/{project}/admin/alarms/{id}/unack';
    const BULK_CLEAR = '/v4/{project}/admin/alarms/clear';

    before(function () {
      schemas = new SpecSchemas(doc);
    });

    beforeEach(async function () {
      running = await startServer({ port: 0, dataDir: ':memory:' });
    });

    afterEach(async function () {
      await running.close();
    });

    const http = () => request(running.url);
    const write = (body: unknown) => http().post('/v4/p1/admin/alarms').send(body as object);

    describe('POST /v4/{project}/admin/alarms', function () {
      it('answers a single raise with an AlarmList', async function () {
        const res = await write({ id: 'BackendConnectionRefuse', source: 's1', fields: { detail: 'refused' } });
        expect(res.status).to.equal(200);
        expect(res.body.alarms).to.have.length(1);
        expectDocumented(schemas, 'post', ALARMS, res);
      });

      it('answers a batch with the alarms in input order', async function () {
        const res = await write({ alarms: [{ id: 'A', severity: 'minor' }, { id: 'B' }, { id: 'A', status: 'CLEARED' }] });
        expect(res.status).to.equal(200);
        expect(res.body.alarms.map((a: { id: string; status: string }) => `${a.id} ${a.status}`)).to.deep.equal([
          'A ACTIVATED',
          'B ACTIVATED',
          'A CLEARED',
        ]);
        expectDocumented(schemas, 'post', ALARMS, res);
      });

      it('answers a raise with ttlSeconds with its expiresAt', async function () {
        const res = await write({ id: 'Heartbeat', source: 's1', ttlSeconds: 90 });
        expect(res.status).to.equal(200);
        expect(Date.parse(res.body.alarms[0].expiresAt) - Date.parse(res.body.alarms[0].updatedAt)).to.equal(90_000);
        expectDocumented(schemas, 'post', ALARMS, res);
      });

      it('answers 400001 naming an unknown key', async function () {
        const res = await write({ id: 'A', bogus: 1 });
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ errorCode: '400001' });
        expect(res.body.detail).to.include('bogus');
        expectDocumented(schemas, 'post', ALARMS, res);
      });

      it('answers 413001 for a body over the limit', async function () {
        const res = await write({ id: 'A', fields: { detail: 'x'.repeat(1024 * 1024 + 1) } });
        expect(res.status).to.equal(413);
        expect(res.body).to.include({ errorCode: '413001' });
        expectDocumented(schemas, 'post', ALARMS, res);
      });
    });

    describe('GET /v4/{project}/admin/alarms', function () {
      it('answers an AlarmList holding ACTIVATED and CLEARED alarms', async function () {
        await write({ alarms: [{ id: 'A' }, { id: 'B', source: 'b' }, { id: 'B', source: 'b', status: 'CLEARED' }] });
        const res = await http().get('/v4/p1/admin/alarms');
        expect(res.status).to.equal(200);
        expect(res.body.alarms.map((a: { status: string }) => a.status)).to.deep.equal(['ACTIVATED', 'CLEARED']);
        expectDocumented(schemas, 'get', ALARMS, res);
      });

      it('answers a filtered page with total and next, then the last page without next', async function () {
        await write({
          alarms: [
            { id: 'D', source: 's1', severity: 'major' },
            { id: 'A', source: 's1', severity: 'critical' },
            { id: 'B', source: 's2', severity: 'minor' },
            { id: 'C', source: 's1', severity: 'major', ttlSeconds: 60 },
          ],
        });
        await http().post('/v4/p1/admin/alarms/A/ack').query({ source: 's1' }).send({ by: 'ops' }).expect(200);
        await write({ id: 'D', source: 's1', status: 'CLEARED' });
        const first = await http().get('/v4/p1/admin/alarms').query({ minSeverity: 'major', id: ['A,C', 'D'], limit: 1 });
        expect(first.status).to.equal(200);
        expect(Object.keys(first.body)).to.deep.equal(['alarms', 'revision', 'total', 'next']);
        expect(first.body.alarms.map((a: { id: string }) => a.id)).to.deep.equal(['A']);
        expect(first.body.total).to.equal(3);
        expectDocumented(schemas, 'get', ALARMS, first);

        // The cursor only says where to go on: the filters may change from one page to the next.
        const last = await http().get('/v4/p1/admin/alarms').query({ minSeverity: 'major', id: 'A,C', limit: 5, cursor: first.body.next as string });
        expect(last.status).to.equal(200);
        expect(last.body.alarms.map((a: { id: string }) => a.id)).to.deep.equal(['C']);
        expect(last.body).to.include({ total: 2 }).and.not.have.property('next');
        expectDocumented(schemas, 'get', ALARMS, last);
      });

      it('answers 400001 naming the cursor for a malformed cursor, and for a cursor of the history', async function () {
        await write({ alarms: [{ id: 'A' }, { id: 'B' }] });
        const historyNext = (await http().get('/v4/p1/admin/alarms/history').query({ limit: 1 })).body.next as string;
        for (const cursor of ['not a cursor', historyNext]) {
          const res = await http().get('/v4/p1/admin/alarms').query({ limit: 1, cursor });
          expect(res.status, cursor).to.equal(400);
          expect(res.body).to.deep.equal({
            errorCode: '400001',
            errorMessage: 'Invalid parameter(s)',
            detail: 'query.cursor: must be a cursor as given back in next',
          });
          expectDocumented(schemas, 'get', ALARMS, res);
        }
      });
    });

    describe('DELETE /v4/{project}/admin/alarms/{id}', function () {
      it('answers the cleared alarm', async function () {
        await write({ id: 'A', source: 's' });
        const res = await http().delete('/v4/p1/admin/alarms/A').query({ source: 's' });
        expect(res.status).to.equal(200);
        expect(res.body.alarm).to.include({ id: 'A', status: 'CLEARED' });
        expectDocumented(schemas, 'delete', ONE, res);
      });

      it('answers 404001 for an unknown alarm', async function () {
        const res = await http().delete('/v4/p1/admin/alarms/Unknown');
        expect(res.status).to.equal(404);
        expect(res.body).to.include({ errorCode: '404001' });
        expectDocumented(schemas, 'delete', ONE, res);
      });
    });

    describe('DELETE /v4/{project}/admin/alarms', function () {
      it('answers 200 with an empty body', async function () {
        await write({ id: 'A' });
        const res = await http().delete('/v4/p1/admin/alarms');
        expect(res.status).to.equal(200);
        expectDocumented(schemas, 'delete', ALARMS, res);
      });
    });

    describe('POST /v4/{project}/admin/alarms/{id}/ack and /unack', function () {
      it('answers the acknowledged alarm, then the alarm without its acknowledgement', async function () {
        await write({ id: 'A', source: 's', ttlSeconds: 60 });
        const acked = await http().post('/v4/p1/admin/alarms/A/ack').query({ source: 's' }).send({ by: 'ops', comment: 'on it' });
        expect(acked.status).to.equal(200);
        expect(acked.body.alarm).to.include({ acknowledged: true, ackedBy: 'ops', ackComment: 'on it' });
        expectDocumented(schemas, 'post', ACK, acked);
        const unacked = await http().post('/v4/p1/admin/alarms/A/unack').query({ source: 's' });
        expect(unacked.status).to.equal(200);
        expect(unacked.body.alarm).to.include({ acknowledged: false });
        expectDocumented(schemas, 'post', UNACK, unacked);
        const again = await http().post('/v4/p1/admin/alarms/A/unack').query({ source: 's' }).send({});
        expect(again.body.alarm.revision, 'an unacknowledged alarm is answered unchanged').to.equal(unacked.body.alarm.revision);
        expectDocumented(schemas, 'post', UNACK, again);
      });

      it('answers 400001 for a CLEARED alarm and a bad body, 404001 for an unknown alarm', async function () {
        await write({ id: 'A', status: 'ACTIVATED' });
        await write({ id: 'A', status: 'CLEARED' });
        const cleared = await http().post('/v4/p1/admin/alarms/A/ack').send({ by: 'ops' });
        expect(cleared.body).to.include({ errorCode: '400001' });
        expectDocumented(schemas, 'post', ACK, cleared);
        const noBy = await http().post('/v4/p1/admin/alarms/A/ack').send({});
        expect(noBy.body.detail).to.match(/^body\.by: /);
        expectDocumented(schemas, 'post', ACK, noBy);
        const body = await http().post('/v4/p1/admin/alarms/A/unack').send({ by: 'ops' });
        expect(body.body).to.include({ errorCode: '400001' });
        expectDocumented(schemas, 'post', UNACK, body);
        const unknown = await http().post('/v4/p1/admin/alarms/Unknown/ack').send({ by: 'ops' });
        expect(unknown.body).to.include({ errorCode: '404001' });
        expectDocumented(schemas, 'post', ACK, unknown);
        expectDocumented(schemas, 'post', UNACK, await http().post('/v4/p1/admin/alarms/Unknown/unack'));
      });
    });

    describe('POST /v4/{project}/admin/alarms/clear', function () {
      it('answers the count of alarms cleared and the revision', async function () {
        await write({ alarms: [{ id: 'A', source: 's1' }, { id: 'B', source: 's1' }, { id: 'C', source: 's2' }] });
        const res = await http().post('/v4/p1/admin/alarms/clear').send({ source: 's1' });
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal({ count: 2, revision: 5 });
        expectDocumented(schemas, 'post', BULK_CLEAR, res);
        const list = await http().get('/v4/p1/admin/alarms');
        expect(list.body.alarms.map((a: { id: string; status: string }) => `${a.id} ${a.status}`)).to.deep.equal([
          'A CLEARED',
          'B CLEARED',
          'C ACTIVATED',
        ]);
      });

      it('answers 400001 to a selector without a criterion', async function () {
        const res = await http().post('/v4/p1/admin/alarms/clear').send({});
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ errorCode: '400001' });
        expectDocumented(schemas, 'post', BULK_CLEAR, res);
      });
    });

    describe('GET /v4/{project}/admin/alarms/history', function () {
      it('answers a HistoryPage of every change after since', async function () {
        await write({ id: 'A', source: 's', fields: { detail: 'down' } });
        await write({ id: 'A', source: 's', status: 'CLEARED' });
        await http().delete('/v4/p1/admin/alarms');
        const res = await http().get('/v4/p1/admin/alarms/history').query({ since: 0, limit: 10 });
        expect(res.status).to.equal(200);
        expect(res.body.history.map((e: { action: string; revision: number }) => `${e.revision} ${e.action}`)).to.deep.equal([
          '1 RAISE',
          '2 CLEAR',
          '3 CLEAR_ALL',
        ]);
        expect(res.body.revision).to.equal(3);
        expectDocumented(schemas, 'get', HISTORY, res);
      });

      it('answers ACK, UNACK and a bulk CLEAR as HistoryEntries', async function () {
        await write({ id: 'A', source: 's', ttlSeconds: 60 });
        await http().post('/v4/p1/admin/alarms/A/ack').query({ source: 's' }).send({ by: 'ops' }).expect(200);
        await http().post('/v4/p1/admin/alarms/A/unack').query({ source: 's' }).expect(200);
        await http().post('/v4/p1/admin/alarms/clear').send({ ids: ['A'] }).expect(200);
        const res = await http().get('/v4/p1/admin/alarms/history');
        expect(res.body.history.map((e: { action: string }) => e.action)).to.deep.equal(['RAISE', 'ACK', 'UNACK', 'CLEAR']);
        expectDocumented(schemas, 'get', HISTORY, res);
      });

      it('answers a filtered page with total and next, then the rest without next', async function () {
        await write({ alarms: [{ id: 'A', source: 's1', severity: 'major' }, { id: 'B', source: 's2', severity: 'major' }] });
        await http().post('/v4/p1/admin/alarms/A/ack').query({ source: 's1' }).send({ by: 'ops' }).expect(200);
        await write({ alarms: [{ id: 'A', source: 's1', status: 'CLEARED' }, { id: 'C', source: 's1', severity: 'minor' }] });
        const query = { source: 's1', minSeverity: 'major', updatedSince: '1970-01-01T00:00:00Z' };
        const first = await http().get('/v4/p1/admin/alarms/history').query({ ...query, limit: 2 });
        expect(first.status).to.equal(200);
        expect(Object.keys(first.body)).to.deep.equal(['history', 'revision', 'total', 'next']);
        expect(first.body.history.map((e: { action: string; revision: number }) => `${e.revision} ${e.action}`)).to.deep.equal(['1 RAISE', '3 ACK']);
        expect(first.body).to.include({ revision: 5, total: 3 });
        expectDocumented(schemas, 'get', HISTORY, first);

        const rest = await http().get('/v4/p1/admin/alarms/history').query({ ...query, cursor: first.body.next as string });
        expect(rest.status).to.equal(200);
        expect(rest.body.history.map((e: { action: string; revision: number }) => `${e.revision} ${e.action}`)).to.deep.equal(['4 CLEAR']);
        expect(rest.body).to.include({ total: 3 }).and.not.have.property('next');
        expectDocumented(schemas, 'get', HISTORY, rest);
      });

      it('answers 400001 naming the cursor for since given with a cursor', async function () {
        await write({ alarms: [{ id: 'A' }, { id: 'B' }] });
        const next = (await http().get('/v4/p1/admin/alarms/history').query({ limit: 1 })).body.next as string;
        const res = await http().get('/v4/p1/admin/alarms/history').query({ since: 0, cursor: next });
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ errorCode: '400001', detail: 'query.cursor: give since or cursor, not both' });
        expectDocumented(schemas, 'get', HISTORY, res);
      });

      it('answers 400001 naming an unknown query parameter', async function () {
        const res = await http().get('/v4/p1/admin/alarms/history').query({ bogus: 1 });
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ errorCode: '400001' });
        expect(res.body.detail).to.include('bogus');
        expectDocumented(schemas, 'get', HISTORY, res);
      });
    });

    describe('GET /v4/{project}/admin/alarms/watch', function () {
      const watchMessage = { $ref: '#/components/schemas/WatchMessage' };

      it('streams Server-Sent Events whose id is the revision and whose data is a WatchMessage', async function () {
        await write({ id: 'A', fields: { detail: 'down' } });
        const sse = await readEvents(`${running.url}/v4/p1/admin/alarms/watch?since=0`, (frames) => frames.length >= 2);
        expect(sse.status).to.equal(200);
        expect(Object.keys(objAt(schemas.response('get', WATCH, 200), 'content'))).to.include(sse.type);
        expect(sse.frames[0]).to.deep.equal([': watching']);
        expect(sse.frames[1]?.[0]).to.equal('id: 1');
        const [message] = dataOf(sse.frames);
        expect(message).to.include({ action: 'RAISE', revision: 1 });
        expect(schemas.errors(watchMessage, message)).to.deep.equal([]);
      });

      it('sends each change as a WatchMessage in a WebSocket text frame', async function () {
        await write({ id: 'A', fields: { detail: 'down' } });
        const ws = await WsClient.open(running.url, '/v4/p1/admin/alarms/watch?since=0');
        try {
          await ws.untilRevision(1);
          expect(ws.messages[0]).to.include({ action: 'RAISE', revision: 1 });
          expect(schemas.errors(watchMessage, ws.messages[0])).to.deep.equal([]);
        } finally {
          ws.close();
        }
      });

      it('starts with a RESYNC WatchMessage when since is beyond the newest revision', async function () {
        const sse = await readEvents(`${running.url}/v4/p1/admin/alarms/watch?since=99`, (frames) => dataOf(frames).length > 0);
        const [message] = dataOf(sse.frames);
        expect(message).to.deep.equal({ action: 'RESYNC', revision: 0 });
        expect(schemas.errors(watchMessage, message)).to.deep.equal([]);
      });

      it('answers 400001 naming accept when neither transport is asked for', async function () {
        const res = await http().get('/v4/p1/admin/alarms/watch');
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ errorCode: '400001' });
        expect(res.body.detail).to.match(/^accept:/);
        expectDocumented(schemas, 'get', WATCH, res);
      });

      it('refuses a bad since of a WebSocket upgrade with the Error body', async function () {
        const refused = await WsClient.open(running.url, '/v4/p1/admin/alarms/watch?since=x').then(
          () => expect.fail('the upgrade was accepted'),
          (err: { status?: number; body?: string }) => err,
        );
        expect(refused.status).to.equal(400);
        expect(schemas.errors({ $ref: '#/components/schemas/Error' }, JSON.parse(refused.body ?? 'null'))).to.deep.equal([]);
        expect(JSON.parse(refused.body ?? 'null')).to.include({ errorCode: '400001' });
      });
    });

    describe('cluster health', function () {
      it('answers 400002 with the alarm detail while unhealthy', async function () {
        await http().post('/v4/default/admin/alarms').send({ id: 'BackendConnectionRefuse', fields: { detail: 'dial refused' } });
        const res = await http().get('/v4/default/registry/health');
        expect(res.status).to.equal(400);
        expect(res.body).to.deep.equal({ errorCode: '400002', errorMessage: 'Server is Unhealthy', detail: 'BackendConnectionRefuse: dial refused' });
        expectDocumented(schemas, 'get', HEALTH, res);
        expectDocumented(schemas, 'get', '/health', await http().get('/health'));
      });

      it('answers a HealthyResponse while healthy', async function () {
        const res = await http().get('/v4/p1/registry/health');
        expect(res.status).to.equal(200);
        expectDocumented(schemas, 'get', HEALTH, res);
        expectDocumented(schemas, 'get', '/health', await http().get('/health'));
      });
    });

    describe('probes', function () {
      it('answers ok, and the verbose list of checks, as text', async function () {
        const terse = await http().get('/livez');
        expect(terse.text).to.equal('ok');
        expectDocumented(schemas, 'get', '/livez', terse);
        const verbose = await http().get('/readyz?verbose&exclude=bus');
        expect(verbose.text).to.equal('[+]store ok\n[+]lifecycle ok\nreadyz check passed\n');
        expectDocumented(schemas, 'get', '/readyz', verbose);
        expectDocumented(schemas, 'get', '/readyz/{check}', await http().get('/readyz/store'));
      });

      it('answers 404002 for an unknown check', async function () {
        const res = await http().get('/livez/nope');
        expect(res.status).to.equal(404);
        expect(res.body).to.include({ errorCode: '404002' });
        expectDocumented(schemas, 'get', '/livez/{check}', res);
      });
    });

    describe('GET /metrics', function () {
      it('answers the Prometheus text format', async function () {
        const res = await http().get('/metrics');
        expect(res.status).to.equal(200);
        expect(res.headers['content-type']).to.include('version=0.0.4');
        expect(res.text).to.include('# TYPE alarm_center_store_revision gauge');
        expectDocumented(schemas, 'get', '/metrics', res);
      });
    });

    describe('GET /openapi.yaml', function () {
      it("answers exactly the repository's openapi.yaml", async function () {
        const res = await http()
          .get('/openapi.yaml')
          .buffer(true)
          .parse((stream, done) => {
            const chunks: Buffer[] = [];
            stream.on('data', (c: Buffer) => chunks.push(c));
            stream.on('end', () => done(null, Buffer.concat(chunks)));
          });
        expect(res.status).to.equal(200);
        expect(Object.keys(objAt(schemas.response('get', '/openapi.yaml', 200), 'content'))).to.include(essence(res.headers['content-type']));
        expect(Buffer.compare(res.body as Buffer, Buffer.from(text, 'utf8'))).to.equal(0);
      });
    });
  });

  describe('answers of a real server with tokens and limits', function () {
    const TOKENS = { read: 'doc-read-1', write: 'doc-write-2' };
    const SPECS: TokenSpec[] = [
      { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
      { name: 'p1-writer', role: 'write', sha256: hashToken(TOKENS.write), scopes: ['default/p1'] },
    ];
    const ALARMS = '/v4/{project}/admin/alarms';
    const WATCH = '/v4/{project}/admin/alarms/watch';
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    let running: RunningServer | undefined;
    let schemas: SpecSchemas;

    before(function () {
      schemas = new SpecSchemas(doc);
    });

    afterEach(async function () {
      await running?.close();
      running = undefined;
    });

    async function start(settings: Partial<Config> = {}): Promise<request.Agent> {
      running = await startServer({ port: 0, dataDir: ':memory:', tokens: SPECS, ...settings });
      return request.agent(running.url);
    }

    it('answers 401002 with WWW-Authenticate to a request without a valid token', async function () {
      const http = await start();
      for (const res of [await http.get('/v4/p1/admin/alarms'), await http.get('/v4/p1/admin/alarms').set(bearer('guessed'))]) {
        expect(res.body).to.include({ errorCode: '401002' });
        expectDocumented(schemas, 'get', ALARMS, res);
      }
    });

    it('answers 403001 to a role too low and to a scope not covered', async function () {
      const http = await start();
      const low = await http.delete('/v4/p1/admin/alarms').set(bearer(TOKENS.write));
      expect(low.body).to.include({ errorCode: '403001' });
      expectDocumented(schemas, 'delete', ALARMS, low);
      const elsewhere = await http.post('/v4/p2/admin/alarms').set(bearer(TOKENS.write)).send({ id: 'A' });
      expect(elsewhere.body).to.include({ errorCode: '403001' });
      expectDocumented(schemas, 'post', ALARMS, elsewhere);
      const bulk = await http.post('/v4/p1/admin/alarms/clear').set(bearer(TOKENS.write)).send({ source: 's' });
      expect(bulk.body).to.include({ errorCode: '403001' });
      expectDocumented(schemas, 'post', '/v4/{project}/admin/alarms/clear', bulk);
      const ack = await http.post('/v4/p1/admin/alarms/A/ack').set(bearer(TOKENS.read)).send({ by: 'ops' });
      expect(ack.body).to.include({ errorCode: '403001' });
      expectDocumented(schemas, 'post', '/v4/{project}/admin/alarms/{id}/ack', ack);
    });

    it('asks for a read token on probes and /metrics when probesOpen is false', async function () {
      const http = await start({ probesOpen: false });
      const res = await http.get('/metrics');
      expect(res.body).to.include({ errorCode: '401002' });
      expectDocumented(schemas, 'get', '/metrics', res);
      expectDocumented(schemas, 'get', '/livez', await http.get('/livez').set(bearer(TOKENS.read)));
    });

    it('answers 429001 with Retry-After past writeRateLimit', async function () {
      const http = await start({ writeRateLimit: 1 });
      const answers = [];
      // Three quick writes fall in at most two one-second windows, so one is refused.
      for (const id of ['A', 'B', 'C']) answers.push(await http.post('/v4/p1/admin/alarms').set(bearer(TOKENS.write)).send({ id }));
      const refused = answers.find((r) => r.status === 429);
      expect(refused?.body).to.include({ errorCode: '429001' });
      expect(refused?.headers['retry-after']).to.match(/^[0-9]+$/);
      expectDocumented(schemas, 'post', ALARMS, refused as request.Response);
    });

    it('answers 429002 to a write past maxAlarmsPerScope', async function () {
      const http = await start({ maxAlarmsPerScope: 1 });
      await http.post('/v4/p1/admin/alarms').set(bearer(TOKENS.write)).send({ id: 'A' }).expect(200);
      const res = await http.post('/v4/p1/admin/alarms').set(bearer(TOKENS.write)).send({ id: 'B' });
      expect(res.body).to.include({ errorCode: '429002' });
      expectDocumented(schemas, 'post', ALARMS, res);
    });

    it('answers 429002 to a watch past maxWatchersPerDomain, over either transport', async function () {
      const http = await start({ maxWatchersPerDomain: 1 });
      const first = await WsClient.open(running?.url ?? '', '/v4/p1/admin/alarms/watch', { headers: bearer(TOKENS.read) });
      try {
        const sse = await http.get('/v4/p1/admin/alarms/watch').set(bearer(TOKENS.read)).set('accept', 'text/event-stream');
        expect(sse.body).to.include({ errorCode: '429002' });
        expectDocumented(schemas, 'get', WATCH, sse);
        const refused = await WsClient.open(running?.url ?? '', '/v4/p1/admin/alarms/watch', { headers: bearer(TOKENS.read) }).then(
          () => expect.fail('the upgrade was accepted'),
          (err: { status?: number; body?: string }) => err,
        );
        expect(refused.status).to.equal(429);
        expect(schemas.errors({ $ref: '#/components/schemas/Error' }, JSON.parse(refused.body ?? 'null'))).to.deep.equal([]);
      } finally {
        first.close();
      }
    });

    it('answers 431001 to a request head over headerLimitBytes', async function () {
      const http = await start({ headerLimitBytes: 2048 });
      const res = await http.get('/livez').set('x-padding', 'x'.repeat(4096));
      expect(res.body).to.include({ errorCode: '431001' });
      expectDocumented(schemas, 'get', '/livez', res);
    });

    it('echoes a valid x-request-id', async function () {
      const http = await start();
      const res = await http.get('/livez').set('x-request-id', 'doc-42');
      expect(res.headers['x-request-id']).to.equal('doc-42');
      expectDocumented(schemas, 'get', '/livez', res);
    });
  });

  describe('README.md', function () {
    it('mentions in its API section only paths the document describes', function () {
      if (!fs.existsSync(README_FILE)) this.skip();
      const lines = fs.readFileSync(README_FILE, 'utf8').split('\n');
      const start = lines.findIndex((l) => /^#{1,6}\s.*\bAPI\b/.test(l));
      if (start < 0) this.skip();
      const level = /^#+/.exec(lines[start] as string)?.[0].length ?? 1;
      const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}}\\s`).test(l));
      const section = lines
        .slice(start + 1, end < 0 ? undefined : end)
        .join('\n')
        .replace(/\bhttps?:\/\/[^/\s`'"]+/g, '')
        .replace(/\b[\w.-]+:\d+(?=\/)/g, '');
      const mentioned = [
        ...section.matchAll(/(?<![\w.-])\/(?:v4\/[^\s`'"<>()|\],;?#]+|(?:health|livez|readyz|metrics)(?:\/[^\s`'"<>()|\],;?#]+)?)(?![\w-])/g),
      ].map((m) => m[0].replace(/[.:]+$/, '').replace(/\/$/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
      expect(mentioned, 'paths in the README API section').to.have.length.greaterThan(0);
      const templates = Object.keys(objAt(doc, 'paths')).map(
        (p) => new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      );
      expect(mentioned.filter((m) => !templates.some((t) => t.test(m))), 'README paths missing from openapi.yaml').to.deep.equal([]);
    });
  });
});
