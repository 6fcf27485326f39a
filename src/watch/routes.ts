import type { IRouter, Request, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { HistoryQuerySchema } from '../alarm/filter.js';
import { describeIssues, isoTime, serializeAlarm } from '../alarm/model.js';
import type { HistoryEntry } from '../alarm/store.js';
import type { AlarmCenter } from '../center.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { scopeOf } from '../http/scope.js';
import { wireAction, type WatchMessage } from './message.js';
import { parseSince } from './since.js';
import { Heartbeat } from './heartbeat.js';
import type { CloseReason, WatchSink } from './watcher.js';

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

/**
 * Adds the history route and the Server-Sent Events form of the watch route; the WebSocket
 * form is served from the HTTP server's `upgrade` event (see websocket.ts).
 */
export function addWatchRoutes(router: IRouter, options: { center: AlarmCenter }): void {
  const { center } = options;

  router.get('/v4/:project/admin/alarms/history', async (req: Request, res: Response) => {
    const scope = scopeOf(req);
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
  });

  router.get('/v4/:project/admin/alarms/watch', (req: Request, res: Response) => {
    const scope = scopeOf(req);
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
  });
}
