/**
 * Two ways to answer one request, compared by everything a user can notice. A pair of servers
 * is started with the same settings: the first answers through its own request listener (the
 * hot path in front of express), its twin through express alone. Every request goes to both,
 * one after the other, so both hold the same alarms before each comparison. For each request
 * the comparison covers the answer, the log entries the request produced and the change of
 * every metric series; a step with only a side effect on one path (a log line, a counter) shows
 * as a difference.
 */
import http from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import winston from 'winston';
import TransportStream from 'winston-transport';
import type { Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { send, type Answer } from '../fuzz/client.js';

/** A request as sent on the wire: `path` is the request target, query included. */
export interface DiffRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** What one request did on one server. */
export interface Observation {
  status: number;
  /** Answer headers but `date`, with `x-request-id` as `echoed`, `generated` or its value. */
  headers: Record<string, string>;
  /** The body, with what two servers may differ in (times, the port, /metrics figures) blanked. */
  body: string;
  /** The log entries the request produced, as JSON without their volatile fields, sorted. */
  logs: string[];
  /** Each metric series the request changed, by `name{labels}`, with the change. */
  metrics: Record<string, number>;
  /** The store revision once the request is done. */
  revision: number;
  /** Whether express saw the request (false: the hot path answered it). */
  viaExpress: boolean;
}

/** Log fields that differ from one request to the next whatever the path. */
const VOLATILE_LOG_FIELDS = new Set(['requestId', 'durationMs', 'timestamp']);
/** Metrics of the process and the runtime, which move by themselves. */
const RUNTIME_METRIC = /^(process|nodejs)_/;
/** Histograms and summaries of durations: how long something took is not behaviour; how often it was measured is. */
const TIMING_METRIC = /(_seconds|_microseconds|duration)/;
const SETTLE_TIMEOUT_MS = 5000;

/** Gathers a logger's entries in memory. */
export class LogCapture extends TransportStream {
  readonly entries: Record<string, unknown>[] = [];

  override log(info: unknown, next: () => void): void {
    this.entries.push({ ...(info as Record<string, unknown>) });
    next();
  }
}

/** One server of a pair, with what the comparison reads of it. */
export interface Twin {
  readonly name: string;
  readonly server: RunningServer;
  readonly logs: LogCapture;
  readonly logger: winston.Logger;
  /** Answers not yet closed. */
  readonly open: Set<http.ServerResponse>;
  /** Requests express has seen. */
  readonly expressSeen: { count: number };
  readonly agent: http.Agent;
}

export interface Pair {
  /** Answers through the server's own listener: the hot path first. */
  readonly hot: Twin;
  /** Answers every request through express. */
  readonly express: Twin;
  close(): Promise<void>;
}

async function startTwin(name: string, settings: Partial<Config>, expressOnly: boolean): Promise<Twin> {
  const logs = new LogCapture();
  const logger = winston.createLogger({ level: 'debug', transports: [logs] });
  const server = await startServer({ port: 0, dataDir: ':memory:', ...settings }, { logger });
  const open = new Set<http.ServerResponse>();
  server.server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  if (expressOnly) {
    const listeners = server.server.listenerCount('request');
    server.server.removeListener('request', server.app.listener);
    if (server.server.listenerCount('request') !== listeners - 1) throw new Error('the server does not answer through its app listener');
    server.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => server.app.app(req, res));
  }
  const expressSeen = { count: 0 };
  type Handle = (req: unknown, res: unknown, next: unknown) => void;
  const app = server.app.app as unknown as { handle: Handle };
  const handle = app.handle.bind(app);
  app.handle = (req, res, next) => {
    expressSeen.count += 1;
    handle(req, res, next);
  };
  return { name, server, logs, logger, open, expressSeen, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
}

/** Starts the two servers of a pair with the same settings (a `:memory:` store on port 0 unless told). */
export async function startPair(settings: Partial<Config> = {}): Promise<Pair> {
  const hot = await startTwin('hot path', settings, false);
  const express = await startTwin('express', settings, true);
  return {
    hot,
    express,
    async close() {
      for (const t of [hot, express]) t.agent.destroy();
      await Promise.all([hot.server.close(), express.server.close()]);
    },
  };
}

/** Waits until the server has closed every answer, its buses are idle and no log entry came in a turn. */
async function settle(twin: Twin): Promise<void> {
  const { bus } = twin.server.parts;
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let logged = -1;
  for (;;) {
    await Promise.all(bus.stats().map((s) => bus.bus(s.type)?.idle()));
    await nextTurn();
    const quiet = twin.open.size === 0 && bus.stats().every((s) => s.queued === 0) && twin.logs.entries.length === logged;
    if (quiet) return;
    logged = twin.logs.entries.length;
    if (Date.now() > deadline) throw new Error(`${twin.name}: still busy ${SETTLE_TIMEOUT_MS} ms after the request`);
  }
}

/** Every series of the registry but the runtime's, by `name{labels}`; of a timing, only its count. */
async function seriesOf(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const metrics = (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
  for (const metric of metrics) {
    if (RUNTIME_METRIC.test(metric.name)) continue;
    // prom-client types `type` as an enum; its value is the type's name.
    const type = String(metric.type);
    const timing = (type === 'histogram' || type === 'summary') && TIMING_METRIC.test(metric.name);
    for (const v of metric.values as (MetricValue<string> & { metricName?: string })[]) {
      const name = v.metricName ?? metric.name;
      if (timing && name !== `${metric.name}_count`) continue;
      const labels = Object.entries(v.labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, value]) => `${k}=${JSON.stringify(String(value))}`);
      out.set(`${name}{${labels.join(',')}}`, v.value);
    }
  }
  return out;
}

function changes(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const delta = (after.get(key) ?? 0) - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

function logLine(entry: Record<string, unknown>): string {
  const kept = Object.entries(entry)
    .filter(([k]) => !VOLATILE_LOG_FIELDS.has(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(Object.fromEntries(kept));
}

/** Whether the answer is the /metrics text, which holds timings and the runtime's figures. */
const isMetricsText = (answer: Answer, req: DiffRequest) => answer.status === 200 && /^\/metrics(\?|$)/.test(req.path);

function headersOf(answer: Answer, req: DiffRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (name === 'date' || value === undefined) continue;
    if (name === 'content-length' && isMetricsText(answer, req)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const id = out['x-request-id'];
  if (id !== undefined && id === req.headers?.['x-request-id']) out['x-request-id'] = 'echoed';
  else if (id !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) out['x-request-id'] = 'generated';
  return out;
}

/** The body with its times and port (the only parts two servers may differ in) blanked; /metrics holds timings. */
function bodyOf(answer: Answer, req: DiffRequest): string {
  if (isMetricsText(answer, req)) return '<metrics>';
  return answer.text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"timestamp":"\d+"/g, '"timestamp":"<t>"')
    .replace(/rest:\/\/127\.0\.0\.1:\d+/g, 'rest://127.0.0.1:<port>');
}

/** Sends a request to one server and records what it did. */
export async function observe(twin: Twin, req: DiffRequest): Promise<Observation> {
  await settle(twin);
  const { server } = twin;
  const before = await seriesOf(server.registry);
  const logged = twin.logs.entries.length;
  const seen = twin.expressSeen.count;
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const answer = await send(server.port, twin.agent, { method: req.method, path: req.path, headers: req.headers ?? {}, body });
  await settle(twin);
  return {
    status: answer.status,
    headers: headersOf(answer, req),
    body: bodyOf(answer, req),
    logs: twin.logs.entries.slice(logged).map(logLine).sort(),
    metrics: changes(before, await seriesOf(server.registry)),
    revision: server.parts.index.revision,
    viaExpress: twin.expressSeen.count > seen,
  };
}

/** What one side has and the other lacks, as readable lines. */
function oneSided(what: string, a: readonly string[], b: readonly string[], sides: [string, string]): string[] {
  const out: string[] = [];
  const left = [...b];
  for (const item of a) {
    const at = left.indexOf(item);
    if (at === -1) out.push(`${what} only on the ${sides[0]}: ${item}`);
    else left.splice(at, 1);
  }
  for (const item of left) out.push(`${what} only on the ${sides[1]}: ${item}`);
  return out;
}

/** Every difference between what the hot path and express did with one request; none when they agree. */
export function differences(hot: Observation, express: Observation): string[] {
  const sides: [string, string] = ['hot path', 'express path'];
  const out: string[] = [];
  if (hot.status !== express.status) out.push(`status: ${hot.status} on the hot path, ${express.status} through express`);
  const headers = (o: Observation) => Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`);
  out.push(...oneSided('header', headers(hot), headers(express), sides));
  if (hot.body !== express.body) out.push(`body: ${JSON.stringify(hot.body.slice(0, 300))} on the hot path, ${JSON.stringify(express.body.slice(0, 300))} through express`);
  out.push(...oneSided('log entry', hot.logs, express.logs, sides));
  for (const key of new Set([...Object.keys(hot.metrics), ...Object.keys(express.metrics)])) {
    const [a = 0, b = 0] = [hot.metrics[key], express.metrics[key]];
    if (a !== b) out.push(`metric ${key}: changed by ${a} on the hot path, by ${b} through express`);
  }
  if (hot.revision !== express.revision) out.push(`store revision: ${hot.revision} after the hot path, ${express.revision} after express`);
  return out;
}

/** Sends the request to both servers of the pair, the hot one first, and answers both observations and their differences. */
export async function compare(pair: Pair, req: DiffRequest): Promise<{ hot: Observation; express: Observation; differences: string[] }> {
  const hot = await observe(pair.hot, req);
  const express = await observe(pair.express, req);
  return { hot, express, differences: differences(hot, express) };
}

/** Fails, listing every difference, when the observations of `what` differ. */
export function expectNoDifference(found: readonly string[], what: string): void {
  if (found.length > 0) throw new Error(`${what}: the hot path and express differ:\n  ${found.join('\n  ')}`);
}

/** A short, printable form of a request for assertion messages. */
export function describeDiffRequest(req: DiffRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}B)=${JSON.stringify(Buffer.from(req.body).subarray(0, 160).toString('latin1'))}`;
  return `${req.method} ${req.path.slice(0, 200)} headers=${JSON.stringify(req.headers ?? {}).slice(0, 300)}${body}`;
}
