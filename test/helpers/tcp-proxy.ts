/**
 * A TCP proxy on a loopback port in front of a server, for tests that take the server away from
 * one client and give it back: cut its connections, refuse new ones, or stall them as a network
 * that drops every packet does, then restore it.
 */
import net from 'node:net';

/** One proxied connection: the client's socket, and the server's once connected. */
interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
}

/** Forwards every connection to `target`, byte for byte, until told otherwise. */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private server: net.Server | undefined;
  private stalled = false;

  private constructor(
    /** The loopback port clients connect to; it stays the same across `refuse` and `restore`. */
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Starts forwarding from a free loopback port to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', resolve);
    });
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new TcpProxy(port, target);
    await proxy.restore();
    return proxy;
  }

  /** `url` (of the target) with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Ends every open connection at once (both sides), as a network failure would; new ones are still taken. */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** Cuts every open connection and stops listening: new connections are refused (ECONNREFUSED). */
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.cut();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /**
   * Forwards nothing more, either way, and closes nothing: open connections and new ones hang,
   * as behind a network that drops every packet, until `restore` (or `cut`).
   */
  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** Forwards again: listens on the same port if it refused, and lets stalled connections go on. */
  async restore(): Promise<void> {
    if (this.stalled) {
      this.stalled = false;
      for (const pair of this.pairs) this.forward(pair);
    }
    if (this.server) return;
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private accept(client: net.Socket): void {
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    // Either side closing closes the other, so the proxy never holds a half-dead connection.
    client.once('close', () => this.drop(pair));
    if (this.stalled) client.pause();
    else this.forward(pair);
  }

  /** Connects the pair's server side if not yet, and pipes both ways. */
  private forward(pair: Pair): void {
    if (!pair.upstream) {
      const upstream = net.connect(this.target.port, this.target.host);
      upstream.on('error', () => undefined);
      upstream.once('close', () => this.drop(pair));
      pair.upstream = upstream;
    }
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  }

  private drop(pair: Pair): void {
    this.pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  /** Cuts everything and stops listening for good. */
  close(): Promise<void> {
    return this.refuse();
  }
}
