/**
 * Watch clients for the tests: a WebSocket client and a Server-Sent Events reader (over fetch),
 * both collecting parsed messages and letting a test await a condition on them, event-driven,
 * with a deadline.
 */
import WebSocket, { type ClientOptions } from 'ws';

export interface WatchMessageJson {
  action: string;
  alarm?: { id: string; source: string; status: string; revision: number; fields: Record<string, unknown> };
  revision: number;
}

/** Collects items and resolves waits when a condition over them holds. */
class Collector<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();
  ended = false;

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `condition` holds, re-checked on every new item or state change. */
  until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.items.length} messages`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

/** A WebSocket watcher. */
export class WsClient {
  readonly ws: WebSocket;
  private readonly collector = new Collector<WatchMessageJson>();
  closeCode: number | undefined;
  pings = 0;
  pongs = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => this.collector.push(JSON.parse(String(data)) as WatchMessageJson));
    ws.on('ping', () => {
      this.pings += 1;
      this.collector.notify();
    });
    ws.on('pong', () => {
      this.pongs += 1;
      this.collector.notify();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.collector.end();
    });
    ws.on('error', () => undefined);
  }

  /** Opens a watcher of `path` on `baseUrl` (http://…); resolves once the socket is open. */
  static open(baseUrl: string, path: string, options: ClientOptions = {}): Promise<WsClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, options);
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += String(c)));
        res.on('end', () =>
          reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })),
        );
      });
      ws.once('error', reject);
    });
  }

  get messages(): WatchMessageJson[] {
    return this.collector.items;
  }

  get closed(): boolean {
    return this.collector.ended;
  }

  until(what: string, condition: (c: WsClient) => boolean, timeoutMs?: number): Promise<void> {
    return this.collector.until(what, () => condition(this), timeoutMs);
  }

  /** Waits for a message with `revision` (or later). */
  untilRevision(revision: number, timeoutMs?: number): Promise<void> {
    return this.until(`revision ${revision}`, (c) => c.messages.some((m) => m.revision >= revision), timeoutMs);
  }

  untilClosed(timeoutMs?: number): Promise<number | undefined> {
    return this.until('the socket to close', (c) => c.closed, timeoutMs).then(() => this.closeCode);
  }

  close(): void {
    this.ws.close();
  }
}

/** One Server-Sent Events frame. */
export interface SseFrame {
  id?: string;
  data?: string;
  comments: string[];
}

/** A Server-Sent Events watcher read with fetch. */
export class SseClient {
  readonly status: number;
  readonly headers: Headers;
  private readonly collector = new Collector<SseFrame>();
  private readonly abort: AbortController;

  private constructor(res: Response, abort: AbortController) {
    this.status = res.status;
    this.headers = res.headers;
    this.abort = abort;
    void this.read(res);
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    return new SseClient(res, abort);
  }

  private async read(res: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: SseFrame = { comments: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) frame.id = line.slice(4);
            else if (line.startsWith('data: ')) frame.data = line.slice(6);
          }
          this.collector.push(frame);
        }
      }
    } catch {
      // Aborted by the test, or the server ended the stream.
    }
    this.collector.end();
  }

  get frames(): SseFrame[] {
    return this.collector.items;
  }

  /** The data frames, parsed. */
  get messages(): WatchMessageJson[] {
    return this.frames.filter((f) => f.data !== undefined).map((f) => JSON.parse(f.data as string) as WatchMessageJson);
  }

  get ended(): boolean {
    return this.collector.ended;
  }

  until(what: string, condition: (c: SseClient) => boolean, timeoutMs?: number): Promise<void> {
    return this.collector.until(what, () => condition(this), timeoutMs);
  }

  untilRevision(revision: number, timeoutMs?: number): Promise<void> {
    return this.until(`revision ${revision}`, (c) => c.messages.some((m) => m.revision >= revision), timeoutMs);
  }

  close(): void {
    this.abort.abort();
  }
}

/** The value of one sample of a Prometheus text exposition, or 0 when it is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
