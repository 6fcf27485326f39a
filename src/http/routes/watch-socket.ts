/** The WebSocket form of the watch route, served from the HTTP server's `upgrade` event. */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'winston';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WatchHub } from '../../watch/hub.js';
import { AlarmCenterError, Codes } from '../../errors.js';
import type { WatchMessage } from '../../watch/message.js';
import { parseSince } from '../../watch/since.js';
import { Heartbeat } from '../../watch/heartbeat.js';
import type { CloseReason, WatchSink } from '../../watch/watcher.js';
import type { ErrorResponder } from '../error-handler.js';
import type { Pipeline } from '../pipeline.js';

/** Client messages carry nothing Alarm Center reads; anything longer than this is refused (1009). */
export const MAX_CLIENT_MESSAGE_BYTES = 64;
/** The peer is dropped when nothing came from it for this many heartbeat intervals. */
const SILENT_INTERVALS = 4;
/** How long a closing handshake may take before the socket is cut. */
const CLOSE_GRACE_MS = 2000;

/** WebSocket close codes by why the watcher ended. */
const CLOSE_CODES: Record<CloseReason, number | undefined> = {
  peer: undefined,
  heartbeat: undefined,
  'send-timeout': undefined,
  'send-error': undefined,
  'history-error': 1011,
  shutdown: 1001,
  evicted: 1011,
};

/**
 * A watcher's WebSocket: text frames out, pings every heartbeat interval (none to a peer that
 * pings on its own, as service-center does), and the peer counted as gone when it has been
 * silent for four intervals or a ping cannot be flushed within the send timeout.
 */
class WebSocketSink implements WatchSink {
  private lastHeard: number;
  private peerPings = false;
  private readonly beat: Heartbeat;

  constructor(
    private readonly ws: WebSocket,
    private readonly heartbeatMs: number,
    sendTimeoutMs: number,
    now: number,
  ) {
    this.lastHeard = now;
    this.beat = new Heartbeat(heartbeatMs, sendTimeoutMs, now, (flushed) => ws.ping(undefined, undefined, flushed));
    const heard = () => {
      this.lastHeard = Date.now();
    };
    ws.on('pong', heard);
    ws.on('message', heard);
    ws.on('ping', () => {
      heard();
      this.peerPings = true;
    });
  }

  write(message: WatchMessage, done?: (err?: Error | null) => void): void {
    this.ws.send(message.buffer, { binary: false }, done);
  }

  tick(now: number): CloseReason | undefined {
    if (now - this.lastHeard > SILENT_INTERVALS * this.heartbeatMs) return 'heartbeat';
    return this.peerPings ? undefined : this.beat.tick(now);
  }

  end(reason: CloseReason): void {
    const code = CLOSE_CODES[reason];
    if (code === undefined) {
      this.ws.terminate();
      return;
    }
    this.ws.close(code, reason === 'shutdown' ? 'Alarm Center is shutting down' : reason);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}

/**
 * Serves WebSocket upgrades of the routes that take one (the watch route) through the request
 * pipeline, against a detached answer that collects the headers and the status the steps set:
 * an upgrade is routed, observed, authorized and guarded exactly as the plain request. Anything
 * else — another path, a bad scope or `since`, shutdown — is refused with the error body on a
 * closed connection.
 */
export function webSocketWatch(options: {
  hub: Pick<WatchHub, 'admit' | 'open' | 'heartbeatMs' | 'sendTimeoutMs'>;
  logger: Logger;
  pipeline: Pipeline;
  respond: ErrorResponder;
}): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { hub, logger, pipeline, respond } = options;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  const accept = (req: http.IncomingMessage, res: http.ServerResponse, socket: Duplex, head: Buffer) => {
    const state = pipeline.stateOf(req);
    const scope = state?.scope;
    if (!scope) throw new AlarmCenterError(Codes.Internal, 'a WebSocket route without a scope');
    const since = parseSince(new URLSearchParams(state.query ?? ''), undefined);
    hub.admit(scope);
    wss.handleUpgrade(req, socket, head, (ws) => {
      res.statusCode = 101;
      res.emit('finish');
      ws.on('error', (err) => logger.debug('watch socket error', { error: err.message }));
      const sink = new WebSocketSink(ws, hub.heartbeatMs, hub.sendTimeoutMs, Date.now());
      try {
        const watcher = hub.open(scope, { scheme: 'Websocket', sink, since });
        ws.on('close', () => watcher.end('peer'));
      } catch (err) {
        // Shutdown began, or the limit was reached, between the check and the handshake.
        logger.debug('watch refused', { error: String(err) });
        const quota = err instanceof AlarmCenterError && err.code === Codes.QuotaExceeded;
        ws.close(quota ? 1013 : 1001, quota ? 'too many watchers' : 'Alarm Center is shutting down');
      }
    });
  };
  return (req, socket, head) => {
    socket.on('error', (err) => logger.debug('watch socket error', { error: err.message }));
    const res = new http.ServerResponse(req);
    Promise.resolve()
      .then(() => pipeline.run(req, res, { upgrade: true }))
      .then(() => accept(req, res, socket, head))
      .catch((err: unknown) => respond.raw(req, res, socket, err));
  };
}
