/**
 * The target of part I's HTTP checks, in a process of its own: a TCP server that answers every
 * request `200 ok` and closes the connection, as the checks' probes ask (`Connection: close`, one
 * connection a probe), counting the requests by path (query left out). It reads only the request
 * line, so it costs a fraction of a node:http server's CPU, which the bench spends on the cores
 * the server under test uses. `GET /counts` answers the tally as the webhook receiver does
 * (`ReceiverCounts`). Started like it (`--host`, `--port`), it prints a JSON line with
 * `"message":"listening"` and its url, and stops on SIGTERM or SIGINT.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { serve } from './child-server.js';
import type { PathCounts, ReceiverCounts } from './webhook-receiver.js';

const OK = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok', 'latin1');

function main(): void {
  const options = { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } as const;
  const { values } = parseArgs({ options });
  const paths = new Map<string, PathCounts>();
  const answer = (socket: net.Socket, line: string): void => {
    const target = line.split(' ')[1] ?? '';
    if (target === '/counts') {
      const counts: ReceiverCounts = { paths: Object.fromEntries(paths), arrivals: [], unreadable: 0 };
      const body = Buffer.from(JSON.stringify(counts));
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
      return;
    }
    const path = target.split('?')[0] ?? '';
    const p = paths.get(path) ?? { requests: 0, distinct: 0, signed: 0, alerts: 0 };
    p.requests += 1;
    paths.set(path, p);
    socket.end(OK);
  };
  const server = net.createServer((socket) => {
    let head = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end < 0) return;
      answer(socket, head.slice(0, end));
      head = '';
      socket.removeAllListeners('data');
      socket.resume();
    });
  });
  serve(server, values.host, values.port);
}

main();
