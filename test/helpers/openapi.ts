/**
 * Reading the repository's openapi.yaml in tests: the parsed document, JSON-pointer references,
 * its operations, the routes an express app really serves, and validation of real answers
 * against the documented schemas with ajv (OpenAPI 3.1 schemas are JSON Schema 2020-12).
 */
import fs from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';

export const SPEC_FILE = new URL('../../openapi.yaml', import.meta.url);

/** The methods an OpenAPI path item may hold, lower-case as in the document. */
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The document's bytes as UTF-8 text, and the document parsed from them. */
export function loadSpec(): { text: string; doc: Obj } {
  const text = fs.readFileSync(SPEC_FILE, 'utf8');
  const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) throw new Error(`openapi.yaml: ${parsed.errors.map((e) => e.message).join('; ')}`);
  const doc: unknown = parsed.toJS();
  if (!isObj(doc)) throw new Error('openapi.yaml: the document is not a mapping');
  return { text, doc };
}

/** The value a local reference (`#/components/...`) points at, or undefined. */
export function resolvePointer(doc: Obj, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  if (ref === '#') return doc;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObj(node)) node = Object.hasOwn(node, key) ? node[key] : undefined;
    else return undefined;
  }
  return node;
}

/** Every `$ref` of the document, with the location it appears at. */
export function collectRefs(node: unknown, at = '#'): { at: string; ref: unknown }[] {
  const out: { at: string; ref: unknown }[] = [];
  if (Array.isArray(node)) node.forEach((v, i) => out.push(...collectRefs(v, `${at}/${i}`)));
  else if (isObj(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') out.push({ at, ref: v });
      else out.push(...collectRefs(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`));
    }
  }
  return out;
}

/** Follows a Reference Object (parameter, response, header) to what it names. */
export function deref(doc: Obj, node: unknown): unknown {
  let current = node;
  for (let hops = 0; isObj(current) && typeof current.$ref === 'string'; hops += 1) {
    if (hops > 16) throw new Error(`reference cycle at ${String(current.$ref)}`);
    current = resolvePointer(doc, current.$ref);
  }
  return current;
}

export interface Operation {
  path: string;
  method: string;
  pathItem: Obj;
  op: Obj;
}

/** Every operation of the document, in document order. */
export function operations(doc: Obj): Operation[] {
  const out: Operation[] = [];
  for (const [path, pathItem] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
    if (!isObj(pathItem)) continue;
    for (const method of HTTP_METHODS) {
      const op = pathItem[method];
      if (isObj(op)) out.push({ path, method, pathItem, op });
    }
  }
  return out;
}

/** `METHOD /path/{param}` keys of the document's operations. */
export function specRoutes(doc: Obj): string[] {
  return operations(doc).map((o) => `${o.method.toUpperCase()} ${o.path}`);
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** An express path (`/v4/:project/admin/alarms`) as an OpenAPI template (`/v4/{project}/admin/alarms`). */
export function toTemplate(expressPath: string): string {
  if (/[*?(){}]/.test(expressPath)) throw new Error(`route ${expressPath}: only plain :params can be compared with the spec`);
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function walk(stack: readonly Layer[], prefix: string, out: string[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const path = layer.route.path;
      if (typeof path !== 'string') throw new Error(`a route has a non-string path: ${String(path)}`);
      for (const method of Object.keys(layer.route.methods)) {
        if (method === '_all') throw new Error(`route ${path} answers every method; give it explicit methods`);
        out.push(`${method.toUpperCase()} ${toTemplate(prefix + path)}`);
      }
    } else if (layer.handle && Array.isArray(layer.handle.stack)) {
      let mount: string;
      if (layer.slash) mount = '';
      else if (typeof layer.rawPath === 'string') mount = layer.rawPath.replace(/\/$/, '');
      else throw new Error('a nested router is mounted on a path that cannot be read');
      walk(layer.handle.stack, prefix + mount, out);
    }
  }
}

/** `METHOD /path/{param}` keys of the routes an express 5 app serves, nested routers included. */
export function expressRoutes(app: unknown): string[] {
  const stack = (app as { router?: { stack?: Layer[] } } | undefined)?.router?.stack;
  if (!Array.isArray(stack)) throw new Error('not an express 5 app: no app.router.stack');
  const out: string[] = [];
  walk(stack, '', out);
  return out;
}

const SCHEMAS_ID = 'https://alarm-center.invalid/openapi/schemas.json';

/** Deep copy with `#/components/schemas/X` references pointed at the bundled `$defs`. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (!isObj(node)) return node;
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/components\/schemas\//, `${SCHEMAS_ID}#/$defs/`) : rebase(v);
  }
  return out;
}

/** The media type without its parameters: `text/plain; charset=utf-8` → `text/plain`. */
export function essence(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Compiles the document's schemas with ajv, JSON Schema 2020-12, formats checked. */
export class SpecSchemas {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<unknown, ValidateFunction>();

  constructor(private readonly doc: Obj) {
    // strictRequired off: `if/then` may require a property declared beside it, as Alarm does with clearedAt.
    this.ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
    addFormatsModule.default(this.ajv);
    const components = isObj(doc.components) ? doc.components : {};
    const schemas = isObj(components.schemas) ? components.schemas : {};
    this.ajv.addSchema({ $id: SCHEMAS_ID, $defs: rebase(schemas) });
  }

  /** The validator of a schema of the document (a component, or one inline in a media type). */
  compile(schema: unknown): ValidateFunction {
    let fn = this.cache.get(schema);
    if (!fn) {
      fn = this.ajv.compile(rebase(schema) as Obj);
      this.cache.set(schema, fn);
    }
    return fn;
  }

  /** The validator of `#/components/schemas/NAME`. */
  component(name: string): ValidateFunction {
    return this.compile({ $ref: `#/components/schemas/${name}` });
  }

  /** Validation errors of `value` against `schema`, one line each; empty when valid. */
  errors(schema: unknown, value: unknown): string[] {
    const fn = this.compile(schema);
    if (fn(value)) return [];
    return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
  }

  /** The documented Response Object of an operation for a status, or undefined. */
  response(method: string, path: string, status: number): Obj | undefined {
    const op = operations(this.doc).find((o) => o.method === method.toLowerCase() && o.path === path);
    if (!op) throw new Error(`openapi.yaml has no operation ${method.toUpperCase()} ${path}`);
    const responses = isObj(op.op.responses) ? op.op.responses : {};
    const found = deref(this.doc, responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default);
    return isObj(found) ? found : undefined;
  }
}
