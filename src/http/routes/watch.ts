/** The history route and the watch route's Server-Sent Events form (its WebSocket form: watch-socket.ts). */
import type { Request } from 'express';
import type { ServerResponse } from 'node:http';
import { historyText } from '../../alarm/answers.js';
import { HistoryQuerySchema, type HistoryRequest } from '../../alarm/filter.js';
import { describeIssues, type Scope } from '../../alarm/model.js';
import type { HistoryResult } from '../../alarm/service.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import type { WatchHub } from '../../watch/hub.js';
import type { WatchMessage } from '../../watch/message.js';
import { parseSince } from '../../watch/since.js';
import { Heartbeat } from '../../watch/heartbeat.js';
import type { CloseReason, WatchSink } from '../../watch/watcher.js';
import { expressRoute, type Route } from '../route-table.js';

/**
 * A watcher's Server-Sent Events stream: one `id:`/`data:` frame per message, and a comment line
 * every heartbeat interval, which keeps proxies from timing the stream out and finds dead peers
 * through a failed or stalled write.
 */
class SseSink implements WatchSink {
  private readonly beat: Heartbeat;

  constructor(
    private readonly res: ServerResponse,
    heartbeatMs: number,
    sendTimeoutMs: number,
    now: number,
  ) {
    this.beat = new Heartbeat(heartbeatMs, sendTimeoutMs, now, (flushed) => res.write(': heartbeat\n\n', flushed));
  }

  write(message: WatchMessage, done?: (err?: Error | null) => void): void {
    if (this.res.destroyed) {
      done?.(new Error('the stream is closed'));
      return;
    }
    this.res.write(message.sse, done);
  }

  tick(now: number): CloseReason | undefined {
    return this.beat.tick(now);
  }

  end(reason: CloseReason): void {
    if (reason === 'shutdown' || reason === 'history-error' || reason === 'evicted') this.res.end();
    else this.res.destroy();
  }
}

function wantsEventStream(req: Request): boolean {
  return (req.get('accept') ?? '').toLowerCase().includes('text/event-stream');
}

const read = { method: 'GET', access: 'read', counted: false, whileStopping: false, scope: 'path', body: false } as const;

/** What the history and watch routes use. */
export interface WatchRouteDeps {
  /** The scope's durable history entries the request selects: the changes a watcher replays. */
  history(scope: Scope, request: HistoryRequest): Promise<HistoryResult>;
  hub: Pick<WatchHub, 'admit' | 'open' | 'heartbeatMs' | 'sendTimeoutMs'>;
}

/**
 * The history route and the watch route of the route table; the watch route also takes WebSocket
 * upgrades, which the HTTP server's `upgrade` event serves (see watch-socket.ts).
 */
export function watchRoutes({ history, hub }: WatchRouteDeps): Route[] {
  return [
    expressRoute({
      ...read,
      template: '/v4/:project/admin/alarms/history',
      async handle({ req, res, scope }) {
        const q = HistoryQuerySchema.safeParse(req.query);
        if (!q.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(q.error, 'query'));
        const r = await history(scope, q.data);
        res.type('application/json').send(historyText(r.history, r.revision, r));
      },
    }),
    expressRoute({
      ...read,
      template: '/v4/:project/admin/alarms/watch',
      websocket: true,
      handle({ req, res, scope }) {
        if (!wantsEventStream(req)) {
          throw new AlarmCenterError(
            Codes.InvalidParams,
            'accept: the watch route streams Server-Sent Events (Accept: text/event-stream) or a WebSocket (Upgrade: websocket)',
          );
        }
        const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
        const since = parseSince(query, req.get('last-event-id'));
        hub.admit(scope);
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          'X-Accel-Buffering': 'no',
        });
        // A HEAD gets the stream's head and no stream: Node sends no body for it, nor the head
        // before the answer ends, so a stream opened for it would hold the client forever.
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        // Tells the client the stream is open before the first change.
        res.write(': watching\n\n');
        const sink = new SseSink(res, hub.heartbeatMs, hub.sendTimeoutMs, Date.now());
        const watcher = hub.open(scope, { scheme: 'SSE', sink, since });
        res.on('close', () => watcher.end('peer'));
      },
    }),
  ];
}
