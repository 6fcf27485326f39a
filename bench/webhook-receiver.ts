/**
 * The receiver of the notifications part, in a process of its own so its work does not share the
 * load generator's event loop. It answers every POST 200 as soon as the body has arrived, then
 * counts, per path, the requests, the distinct `Idempotency-Key`s and the requests carrying a
 * signature; on `POST /api/v2/alerts` it stands in for Alertmanager and counts the alerts of each
 * body. With `--delays` it also reads each `alarm` body's revision and `at` and keeps, for the
 * first arrival of each revision, `at` and the arrival time (ms since the epoch, this machine's
 * clock, as Alarm Center's). `GET /counts` answers the tallies as JSON. Started like the bare
 * express server (`--host`, `--port`), it prints a JSON line with `"message":"listening"` and its
 * url, and stops on SIGTERM or SIGINT.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { serve } from './child-server.js';

/** What one path received. */
export interface PathCounts {
  requests: number;
  /** Distinct Idempotency-Key values: the changes received at least once. */
  distinct: number;
  /** Requests with an X-Alarm-Center-Signature header. */
  signed: number;
  /** Alerts in the bodies of POST /api/v2/alerts. */
  alerts: number;
}

/** One change's first arrival: its revision, its `at` and when it arrived, in ms since the epoch. */
export type Arrival = [revision: number, at: number, arrived: number];

/** The answer of GET /counts. */
export interface ReceiverCounts {
  paths: Record<string, PathCounts>;
  arrivals: Arrival[];
  unreadable: number;
}

const ALERTS = '/api/v2/alerts';

class Tally {
  private readonly paths = new Map<string, PathCounts & { keys: Set<string> }>();
  private readonly seen = new Set<number>();
  readonly arrivals: Arrival[] = [];
  /** Bodies that were not the JSON expected. */
  unreadable = 0;

  constructor(private readonly delays: boolean) {}

  take(path: string, headers: http.IncomingHttpHeaders, body: Buffer, arrived: number): void {
    let p = this.paths.get(path);
    if (!p) {
      p = { requests: 0, distinct: 0, signed: 0, alerts: 0, keys: new Set() };
      this.paths.set(path, p);
    }
    p.requests += 1;
    const key = headers['idempotency-key'];
    if (typeof key === 'string' && !p.keys.has(key)) {
      p.keys.add(key);
      p.distinct += 1;
    }
    if (headers['x-alarm-center-signature'] !== undefined) p.signed += 1;
    if (path === ALERTS) p.alerts += (JSON.parse(body.toString('utf8')) as unknown[]).length;
    else if (this.delays) this.arrival(body, arrived);
  }

  private arrival(body: Buffer, arrived: number): void {
    const entry = JSON.parse(body.toString('utf8')) as { revision?: unknown; at?: unknown };
    if (typeof entry.revision !== 'number' || typeof entry.at !== 'string' || this.seen.has(entry.revision)) return;
    this.seen.add(entry.revision);
    this.arrivals.push([entry.revision, Date.parse(entry.at), arrived]);
  }

  counts(): ReceiverCounts {
    const paths: Record<string, PathCounts> = {};
    for (const [path, { requests, distinct, signed, alerts }] of this.paths) paths[path] = { requests, distinct, signed, alerts };
    return { paths, arrivals: this.arrivals, unreadable: this.unreadable };
  }
}

function main(): void {
  const options = { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, delays: { type: 'boolean', default: false } } as const;
  const { values } = parseArgs({ options });
  const tally = new Tally(values.delays);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const arrived = Date.now();
      const path = (req.url ?? '/').split('?')[0] as string;
      if (req.method === 'GET' && path === '/counts') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(tally.counts()));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      try {
        tally.take(path, req.headers, Buffer.concat(chunks), arrived);
      } catch {
        tally.unreadable += 1;
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  serve(server, values.host, values.port);
}

main();
