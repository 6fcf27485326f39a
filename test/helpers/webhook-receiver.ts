/**
 * A webhook receiver on loopback for the webhook tests: records every request (headers, raw
 * body, when it came) and answers as the test says, per request: a status (with headers), or
 * `hang` (never answers until the receiver closes).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './integration.js';

/** One request the receiver got. */
export interface Arrival {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, as signed. */
  raw: string;
  json: Record<string, unknown>;
  /** From the Idempotency-Key `{webhook}-{revision}`. */
  revision: number;
  /** Date.now() on arrival. */
  at: number;
}

/** How to answer one request. */
export type Reaction = number | { status: number; headers?: Record<string, string> } | 'hang';

export class Receiver {
  readonly arrivals: Arrival[] = [];
  /** Answers each arrival; its number among the arrivals at that path, from 1. Default 200. */
  react: (a: Arrival, n: number) => Reaction = () => 200;
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor() {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => this.answer(req, res, raw));
    });
  }

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  /** The URL of a path on the receiver. */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The arrivals at a path. */
  at(path: string): Arrival[] {
    return this.arrivals.filter((a) => a.path === path);
  }

  /** Waits until `path` got at least `n` requests, and answers them. */
  waitForCount(path: string, n: number, timeoutMs = 10_000): Promise<Arrival[]> {
    return waitFor(`${n} requests at ${path} (got ${this.at(path).length})`, () => (this.at(path).length >= n ? this.at(path) : undefined), timeoutMs, 10);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const key = String(req.headers['idempotency-key'] ?? '');
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // Kept as raw text.
    }
    const arrival: Arrival = { path: req.url ?? '', headers: req.headers, raw, json, revision: Number(key.slice(key.lastIndexOf('-') + 1)), at: Date.now() };
    this.arrivals.push(arrival);
    const reaction = this.react(arrival, this.at(arrival.path).length);
    if (reaction === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    const { status, headers } = typeof reaction === 'number' ? { status: reaction, headers: {} } : reaction;
    res.writeHead(status, headers).end('{}');
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
