/**
 * A tiny Prometheus scrape target on a loopback port: GET /metrics answers one gauge. A test stops
 * it (its scrapes then fail: `up` is 0) and starts it again on the same port (`up` is 1).
 */
import http from 'node:http';
import type net from 'node:net';

const METRICS = '# HELP world_test_target_ready Always 1 while the target answers.\n# TYPE world_test_target_ready gauge\nworld_test_target_ready 1\n';

/** Serves /metrics until stopped; `start` serves it again on the same port. */
export class ScrapeTarget {
  /** How many scrapes it answered. */
  scrapes = 0;
  private server: http.Server | undefined;
  /** 0 until it first listens; then the same across `stop` and `start`. */
  private boundPort = 0;

  /** The loopback port. */
  get port(): number {
    return this.boundPort;
  }

  /** `host:port`, as a Prometheus target is written. */
  get address(): string {
    return `127.0.0.1:${this.boundPort}`;
  }

  /** A target serving on a free loopback port. */
  static async listen(): Promise<ScrapeTarget> {
    const target = new ScrapeTarget();
    await target.start();
    return target;
  }

  /** Serves (again, on the same port); resolves once it listens. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops open connections (Prometheus keeps its scrape connection alive). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    this.scrapes += 1;
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(METRICS);
  }
}
