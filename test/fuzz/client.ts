/**
 * The fuzz tests' HTTP side: requests sent exactly as generated (raw request targets, any
 * method, any header value Node lets a client send), WebSocket upgrades, raw bytes over a
 * socket, and the checks every answer must pass.
 */
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import type { Response } from 'supertest';
import WebSocket from 'ws';
import { ERROR_CATALOG, type ErrorCode } from '../../src/errors.js';
import { expectError } from '../helpers/integration.js';

/** A request as generated: `path` is the request target exactly as it goes on the wire. */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** What came back. An event stream is closed as soon as its head arrived (`streamed`). */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  streamed: boolean;
}

/** Generous: a loaded machine answers slowly, and a missing answer is the failure looked for. */
const ANSWER_TIMEOUT_MS = 15_000;

/** A short, printable description of a request for assertion messages. */
export function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}B)=${JSON.stringify(req.body.subarray(0, 200).toString('latin1'))}`;
  return `${req.method} ${req.path.slice(0, 300)} headers=${JSON.stringify(req.headers).slice(0, 300)}${body}`;
}

/** Sends one request over `agent` and reads the whole answer (only the head of an event stream). */
export function send(port: number, agent: http.Agent, req: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    // Node frames a body of GET, DELETE and the like by nothing: the server would read it as the next request.
    const headers = req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(req.body.length) };
    const outgoing = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent, timeout: ANSWER_TIMEOUT_MS },
      (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          // The stream never ends by itself: close it now, the answer's head is all a check needs.
          outgoing.destroy();
          resolve({ status, headers: res.headers, text: '', streamed: true });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), streamed: false }));
        res.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    outgoing.on('error', (err) => {
      if (!answered) reject(new Error(`${describeRequest(req)}: ${err.message}`));
    });
    outgoing.end(req.body);
  });
}

/**
 * Opens a WebSocket on `path`: resolves with 101 once it is open (and closes it at once), or
 * with the refusal the server answered instead.
 */
export function upgrade(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers, handshakeTimeout: ANSWER_TIMEOUT_MS });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, headers: {}, text: '', streamed: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), streamed: false }));
    });
    ws.on('error', (err) => reject(new Error(`upgrade of ${path}: ${err.message}`)));
  });
}

/**
 * Writes `bytes` on a fresh connection and reads until the server closes it: for requests a
 * well-behaved client cannot send (unknown methods, raw bytes in the request line, broken
 * header lines, pipelined requests). Resolves with every answer, in the order they came.
 */
export function sendRaw(port: number, bytes: Buffer): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close while the rest of the request is still being written.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => resolve(parseAnswers(Buffer.concat(chunks))));
    socket.write(bytes);
  });
}

/** The answers in raw HTTP/1.1 bytes, bodies framed by Content-Length or chunked. */
function parseAnswers(raw: Buffer): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) return answers;
    const [statusLine = '', ...lines] = raw.subarray(at, end).toString('latin1').split('\r\n');
    const headers: http.IncomingHttpHeaders = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let body: Buffer;
    at = end + 4;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', at);
        const size = parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
        if (lineEnd < 0 || !(size > 0)) {
          at = lineEnd < 0 ? raw.length : lineEnd + 4;
          break;
        }
        parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = raw.subarray(at, at + Number(headers['content-length'] ?? 0));
      at += body.length;
    }
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, text: body.toString('utf8'), streamed: false });
  }
}

/** The intake routes whose own 400s are in their senders' forms (src/http/routes/intake.ts). */
const ALERTMANAGER_API = /^(?:\/v4\/[^/?]+)?\/api\/v2\/alerts(?:[?\s]|$)/;
const PAGERDUTY_EVENTS = /^(?:\/v4\/[^/?]+\/integrations\/pagerduty|\/v2\/enqueue)(?:[?\s]|$)/;

/**
 * Whether an answer is an intake's own refusal rather than service-center's body: Alertmanager's
 * API answers a 400 as a JSON string (amtool prints it), PagerDuty's Events API as its `invalid
 * event` body with one message per problem.
 */
function isIntakeRefusal(status: number, what: string, body: unknown): boolean {
  if (status !== 400) return false;
  const target = what.slice(what.indexOf(' ') + 1);
  if (ALERTMANAGER_API.test(target)) return typeof body === 'string' && body !== '';
  if (!PAGERDUTY_EVENTS.test(target)) return false;
  const event = body as { status?: unknown; message?: unknown; errors?: unknown } | null;
  return (
    event?.status === 'invalid event' &&
    event.message === 'Event object is invalid' &&
    Array.isArray(event.errors) &&
    event.errors.length > 0 &&
    event.errors.every((e) => typeof e === 'string' && e !== '')
  );
}

/**
 * service-center's cluster health asked `?verbose` while unhealthy: its 400 lists the reasons as
 * text, one `[-]` line each, as `/readyz?verbose` does, not an error body.
 */
function isClusterReport(answer: Answer, what: string): boolean {
  return (
    answer.status === 400 &&
    /^GET \/(v4\/[^/?]+\/registry\/)?health\?(.*&)?verbose\b/.test(what) &&
    /^text\/plain/.test(String(answer.headers['content-type'] ?? '')) &&
    /^(\[-\].+\n)+cluster check failed\n$/.test(answer.text)
  );
}

/** The answer as the shared error-body check reads a supertest response. */
function asResponse(answer: Answer, body: unknown): Response {
  return { status: answer.status, headers: answer.headers, text: answer.text, body } as unknown as Response;
}

/**
 * Properties (a) and (b): no 5xx (503001 included); every 4xx carries service-center's body,
 * `errorCode` a six-digit string of the catalog whose thousandth is the status, the catalog's
 * `errorMessage`, and `detail` left out rather than empty; but an intake's own 400, which is in
 * its sender's form. Answers to HEAD carry no body. Returns the error body of a coded 4xx.
 */
export function expectCodedAnswer(answer: Answer, what: string): { errorCode: ErrorCode; detail?: string } | undefined {
  expect(answer.status, `status of ${what}: ${answer.text.slice(0, 500)}`).to.be.within(100, 499);
  if (answer.status < 400 || what.startsWith('HEAD ')) return undefined;
  if (isClusterReport(answer, what)) return undefined;
  let body: { errorCode?: unknown; detail?: string };
  try {
    body = JSON.parse(answer.text) as typeof body;
  } catch {
    expect.fail(`${answer.status} answer to ${what} is not JSON: ${JSON.stringify(answer.text.slice(0, 500))}`);
  }
  if (isIntakeRefusal(answer.status, what, body)) return undefined;
  expect(Object.keys(ERROR_CATALOG), `errorCode of ${what}: ${answer.text}`).to.include(body.errorCode);
  const code = body.errorCode as ErrorCode;
  try {
    expectError(asResponse(answer, body), code);
  } catch (err) {
    throw new Error(`answer to ${what}: ${(err as Error).message}`, { cause: err });
  }
  return { errorCode: code, detail: body.detail };
}
