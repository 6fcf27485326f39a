/**
 * What the bench's helper servers (bare-express.ts, webhook-receiver.ts, probe-target.ts) do
 * alike: listen on their `--host` and `--port` (a free one for 0), print a JSON line with
 * `"message":"listening"` and their url, which servers.ts waits for, and stop on SIGTERM or SIGINT.
 */
import type http from 'node:http';
import type { AddressInfo, Server } from 'node:net';

/** Listens, announces the url, and closes (every connection too, for an HTTP server) on SIGTERM or SIGINT. */
export function serve(server: Server, host: string, port: string): void {
  server.listen(Number(port), host, () => {
    const { port: bound } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ level: 'info', message: 'listening', url: `http://${host}:${bound}` })}\n`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    (server as Partial<http.Server>).closeAllConnections?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
