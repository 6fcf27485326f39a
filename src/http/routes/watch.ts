/** The history route and the watch route's Server-Sent Events form (its WebSocket form: watch-socket.ts). */
import type { Request } from 'express';
import type { ServerResponse } from 'node:http';
import { HistoryQuerySchema } from '../../alarm/filter.js';
import { describeIssues, isoTime, serializeAlarm } from '../../alarm/model.js';
import type { HistoryEntry } from '../../alarm/store.js';
import type { AlarmCenter } from '../../center.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import { wireAction, type WatchMessage } from '../../watch/message.js';
import { parseSince } from '../../watch/since.js';
import { Heartbeat } from '../../watch/heartbeat.js';
import type { CloseReason, WatchSink } from '../../watch/watcher.js';
import { expressRoute, type Route } from '../route-table.js';

/** The JSON text of a history entry: `{"revision","action","alarm","at"}`. */
function entryJson(e: HistoryEntry): string {
  return (
    `{"revision":${e.revision},"action":"${wireAction(e.action)}","alarm":${serializeAlarm(e.alarm)},` +
    `"at":"${isoTime(e.at)}"}`
  );
}

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

/**
 * The history route and the watch route of the route table; the watch route also takes WebSocket
 * upgrades, which the HTTP server's `upgrade` event serves (see watch-socket.ts).
 */
export function watchRoutes(center: AlarmCenter): Route[] {
  return [
    expressRoute({
      ...read,
      template: '/v4/:project/admin/alarms/history',
      async handle({ req, res, scope }) {
        const q = HistoryQuerySchema.safeParse(req.query);
        if (!q.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(q.error, 'query'));
        // Only durable changes: the same ones a watcher replays.
        const r = await center.service.findHistory(scope, q.data, center.feed.revision);
        let body = '{"history":[';
        for (let i = 0; i < r.history.length; i += 1) {
          if (i > 0) body += ',';
          body += entryJson(r.history[i] as HistoryEntry);
        }
        body += `],"revision":${r.revision}`;
        if (r.total !== undefined) body += `,"total":${r.total}`;
        if (r.next !== undefined) body += `,"next":${JSON.stringify(r.next)}`;
        res.type('application/json').send(`${body}}`);
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
        center.watchHub.admit(scope);
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          'X-Accel-Buffering': 'no',
        });
        // Tells the client the stream is open before the first change.
        res.write(': watching\n\n');
        const sink = new SseSink(res, center.watchHub.heartbeatMs, center.watchHub.sendTimeoutMs, Date.now());
        const watcher = center.watchHub.open(scope, { scheme: 'SSE', sink, since });
        res.on('close', () => watcher.end('peer'));
      },
    }),
  ];
}
