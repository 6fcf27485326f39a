/**
 * Parser threads for Alertmanager API v2 bodies: Prometheus sends its alerts by the hundred, and
 * reading a body (JSON, labels, the alarm key, the fields' JSON) costs the event loop more than
 * committing what it holds. A pool of worker threads does it instead; the event loop only reads
 * the answer, a flat array (wire.ts). With no threads (a one-core machine, or set so) bodies are
 * parsed on the event loop by the same function.
 *
 * Contract: `parse` answers the body's operations and errors exactly as `parsePostableAlerts`
 * over `JSON.parse(text)` does (an empty text reads as `{}`), or the JSON parser's message when
 * the text is not JSON. Requests go to the threads in turn; a thread that dies has its requests
 * parsed on the event loop and is replaced, so no request is lost to it.
 */
import { Worker } from 'node:worker_threads';
import { Counter, type Registry } from 'prom-client';
import { parsePostableAlerts } from './alertmanager.js';
import { FIELDS_CACHE_ENTRIES, FieldsJsonCache } from './fields-cache.js';
import type { IntakeBatch } from './op.js';
import { threadEntry, type ThreadEntry } from '../thread-entry.js';
import { fromWire, toWire, type WireBatch } from './wire.js';

/** A body for a parser thread. */
export interface ParseRequest {
  id: number;
  text: string;
  /** Clock milliseconds the body is read at. */
  now: number;
  resolveTimeoutMs: number;
}

/** A parser thread's answer: the batch, the JSON parser's message, or a failure of the parser itself. */
export type ParseAnswer = { id: number } & ({ batch: WireBatch } | { malformed: string } | { failed: string });

/** What a body gave: its batch, or why it is not JSON. */
export type ParsedBody = { ok: true; batch: IntakeBatch } | { ok: false; malformed: string };

interface Pending {
  request: ParseRequest;
  resolve(parsed: ParsedBody): void;
  reject(err: Error): void;
}

/** The parser thread: parse-worker beside this file, compiled or, under tsx, its TypeScript source. */
const workerEntry = (): ThreadEntry => threadEntry(import.meta.url, 'parse-worker', {});

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Reads a body: its operations in wire form, or the JSON parser's message. What a thread answers
 * (parse-worker.ts), and what the event loop does without one.
 */
export function readBody(r: ParseRequest, cache: FieldsJsonCache): { batch: WireBatch } | { malformed: string } {
  let body: unknown;
  try {
    body = r.text.length === 0 ? {} : JSON.parse(r.text);
  } catch (err) {
    return { malformed: messageOf(err) };
  }
  return { batch: toWire(parsePostableAlerts(body, r.now, r.resolveTimeoutMs, cache)) };
}

/** Parses on the event loop, answering as a thread does (through the wire form, with a cache of its own). */
function parseHere(r: ParseRequest, cache: FieldsJsonCache): ParsedBody {
  const read = readBody(r, cache);
  return 'batch' in read ? { ok: true, batch: fromWire(read.batch) } : { ok: false, malformed: read.malformed };
}

/** One thread and the requests it holds. */
class ParserThread {
  readonly pending = new Map<number, Pending>();
  private worker: Worker;
  private closed = false;
  /** Whether the current thread ever answered: one that dies before that is not started again. */
  private answered = false;
  /** Set once a thread died before answering (it cannot start here): requests are parsed on the event loop. */
  dead = false;

  constructor(
    private readonly entry: ThreadEntry,
    private readonly onLost: (lost: Pending[], error: Error) => void,
    private readonly here: (r: ParseRequest) => ParsedBody,
  ) {
    this.worker = this.spawn();
  }

  send(p: Pending): void {
    if (this.dead) {
      p.resolve(this.here(p.request));
      return;
    }
    this.pending.set(p.request.id, p);
    this.worker.postMessage(p.request);
  }

  private spawn(): Worker {
    this.answered = false;
    const worker = new Worker(this.entry.url, this.entry.options);
    // The threads never keep the process alive: the pool is closed with the server.
    worker.on('message', (a: ParseAnswer) => this.settle(a));
    worker.on('error', (err) => this.lose(worker, err));
    worker.on('exit', (code) => this.lose(worker, new Error(`parser thread exited with code ${code}`)));
    // After the listeners: a 'message' listener added later would hold the process again.
    worker.unref();
    return worker;
  }

  private settle(a: ParseAnswer): void {
    this.answered = true;
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    if ('batch' in a) p.resolve({ ok: true, batch: fromWire(a.batch) });
    else if ('malformed' in a) p.resolve({ ok: false, malformed: a.malformed });
    else p.reject(new Error(`intake parser failed: ${a.failed}`));
  }

  /**
   * Hands the requests of a dead thread back and starts another, once per thread; a thread that
   * died before its first answer is not started again (it would die the same way, forever).
   */
  private lose(worker: Worker, error: Error): void {
    if (worker !== this.worker || this.closed || this.dead) return;
    const lost = [...this.pending.values()];
    this.pending.clear();
    if (this.answered) this.worker = this.spawn();
    else this.dead = true;
    this.onLost(lost, error);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }
}

/** Parser threads for Alertmanager API v2 bodies. */
export class PostableAlertsParser {
  /** The threads started so far: each on the first body it is to read, so a server that is sent none starts none. */
  private readonly threads: ParserThread[] = [];
  private readonly count: number;
  private readonly startThread: () => ParserThread;
  private next = 0;
  private ids = 0;
  private closed = false;
  /** The fields' texts of the bodies read on the event loop. */
  private readonly cache = new FieldsJsonCache(FIELDS_CACHE_ENTRIES);

  /**
   * `threads` worker threads; 0 parses on the event loop. `onThreadLost` hears of a thread that
   * died, which `registry` counts; `entry` replaces the thread's module (for tests).
   */
  constructor(options: { threads: number; onThreadLost?: (error: Error) => void; entry?: ThreadEntry; registry?: Registry }) {
    const counted = new Counter({
      name: 'alarm_center_intake_parser_threads_lost_total',
      help: 'Intake parser threads that died or could not start; the bodies they held were read on the event loop.',
      registers: options.registry ? [options.registry] : [],
    });
    const lost = (pending: Pending[], error: Error) => {
      counted.inc();
      options.onThreadLost?.(error);
      for (const p of pending) p.resolve(parseHere(p.request, this.cache));
    };
    const entry = options.entry ?? workerEntry();
    this.count = options.threads;
    this.startThread = () => new ParserThread(entry, lost, (r) => parseHere(r, this.cache));
  }

  /** The operations of a body, read at `now`; see the contract above. */
  parse(text: string, now: number, resolveTimeoutMs: number): Promise<ParsedBody> {
    const request: ParseRequest = { id: (this.ids += 1), text, now, resolveTimeoutMs };
    if (this.count === 0 || this.closed) return Promise.resolve(parseHere(request, this.cache));
    const thread = (this.threads[this.next] ??= this.startThread());
    this.next = (this.next + 1) % this.count;
    return new Promise((resolve, reject) => thread.send({ request, resolve, reject }));
  }

  /** Ends the threads; requests still held are parsed on the event loop. */
  async close(): Promise<void> {
    this.closed = true;
    const held = this.threads.flatMap((t) => [...t.pending.values()]);
    for (const t of this.threads) t.pending.clear();
    await Promise.all(this.threads.map((t) => t.close()));
    for (const p of held) p.resolve(parseHere(p.request, this.cache));
  }
}
