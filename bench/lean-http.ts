/**
 * A lean HTTP/1.1 client for the bench's background load (the heartbeat beater): requests
 * written as prepared bytes on keep-alive sockets, one in flight per socket, answers read by
 * their status line and Content-Length. It sends what node:http sends for the same request and
 * takes a fraction of its CPU, which the bench spends on the cores the server under test uses.
 * It reads only answers with a Content-Length (what Alarm Center sends), and is no general client.
 */
import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection: a request at a time. */
class Connection {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((ok: boolean) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  dead = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    const fail = () => {
      this.dead = true;
      this.settle(false);
    };
    this.socket.on('error', fail);
    this.socket.on('close', fail);
  }

  get idle(): boolean {
    return !this.dead && this.waiting === undefined;
  }

  /** Writes a request; resolves with whether a 2xx answered it within `timeoutMs`. */
  send(request: Buffer, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.timer = setTimeout(() => {
        this.settle(false);
        this.socket.destroy();
      }, timeoutMs);
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private settle(ok: boolean): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    clearTimeout(this.timer);
    waiting?.(ok);
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf(HEAD_END);
      if (end < 0) return;
      const head = this.buffer.toString('latin1', 0, end);
      const status = Number(head.slice(9, 12));
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const total = end + HEAD_END.length + length;
      if (this.buffer.length < total) return;
      this.buffer = this.buffer.subarray(total);
      this.settle(status >= 200 && status <= 299);
    }
  }
}

/** Keep-alive connections to one server, opened as needed up to `max`. */
export class LeanClient {
  private readonly connections: Connection[] = [];

  constructor(
    private readonly url: URL,
    private readonly max: number,
  ) {}

  /** The bytes of a request without a body, as node:http writes them. */
  request(method: string, path: string): Buffer {
    return Buffer.from(`${method} ${path} HTTP/1.1\r\nContent-Length: 0\r\nHost: ${this.url.host}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  }

  /** Sends on an idle connection (opening one when none is and fewer than `max` are open); false when all are busy. */
  send(request: Buffer, timeoutMs: number): Promise<boolean> | undefined {
    for (let i = this.connections.length - 1; i >= 0; i -= 1) if (this.connections[i]?.dead) this.connections.splice(i, 1);
    let c = this.connections.find((x) => x.idle);
    if (!c) {
      if (this.connections.length >= this.max) return undefined;
      c = new Connection(this.url.hostname, Number(this.url.port) || 80);
      this.connections.push(c);
    }
    return c.send(request, timeoutMs);
  }

  close(): void {
    for (const c of this.connections) c.close();
  }
}
