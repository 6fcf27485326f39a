import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'winston';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AlarmCenter } from '../center.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { securityHeaderLines, type AccessOptions } from '../http/access.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../http/observe.js';
import { authorizationOf } from '../http/auth.js';
import { writeRawError } from '../http/error-handler.js';
import { DEFAULT_DOMAIN, DOMAIN_HEADER, projectOfPath, scopeFromNames } from '../http/scope.js';
import type { WatchMessage } from './message.js';
import { parseSince } from './since.js';
import { Heartbeat } from './heartbeat.js';
import type { CloseReason, WatchSink } from './watcher.js';

/** Client messages carry nothing Alarm Center reads; anything longer than this is refused (1009). */
export const MAX_CLIENT_MESSAGE_BYTES = 64;
/** The peer is dropped when nothing came from it for this many heartbeat intervals. */
const SILENT_INTERVALS = 4;
/** How long a closing handshake may take before the socket is cut. */
const CLOSE_GRACE_MS = 2000;

const WATCH_PATH = /^\/v4\/[^/]+\/admin\/alarms\/watch\/?$/;

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
 * Routes WebSocket upgrades of `GET /v4/{project}/admin/alarms/watch` to the watch hub; any
 * other upgrade, a bad scope or `since`, and upgrades during shutdown are refused with the
 * error body.
 */
export function attachWebSocketWatch(
  server: http.Server,
  options: { center: AlarmCenter; logger: Logger; access: AccessOptions },
): void {
  const { center, logger } = options;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  // Refusals are written outside express: they get the same security headers as its answers.
  const security = securityHeaderLines();
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req.headers[REQUEST_ID_HEADER]);
    let url: URL;
    try {
      // Under a fixed origin: resolved against a base instead, a target such as `//` reads as a host and throws.
      url = new URL(`http://localhost${req.url ?? '/'}`);
    } catch {
      writeRawError(socket, new AlarmCenterError(Codes.InvalidParams, 'path: not a valid request target'), [
        ...security,
        `${REQUEST_ID_HEADER}: ${requestId}`,
      ]);
      return;
    }
    const log = (status: number) => {
      if (!logger.isLevelEnabled('info')) return;
      logger.info('request', {
        method: req.method,
        route: '/v4/:project/admin/alarms/watch',
        path: url.pathname,
        status,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1000,
        upgrade: 'websocket',
        requestId,
      });
    };
    socket.on('error', (err) => logger.debug('watch socket error', { error: err.message }));
    try {
      if (!WATCH_PATH.test(url.pathname) || req.method !== 'GET') {
        throw new AlarmCenterError(Codes.NotFound, `no WebSocket route for ${req.method ?? ''} ${url.pathname}`);
      }
      if (center.state === 'stopping') throw new AlarmCenterError(Codes.Unavailable, 'Alarm Center is shutting down');
      const domain = (req.headers[DOMAIN_HEADER] as string | undefined) ?? DEFAULT_DOMAIN;
      const scope = scopeFromNames(domain, projectOfPath(url.pathname) as string);
      // Watching is reading: a read token (of this scope) is enough.
      options.access.tokens.authorize(authorizationOf(req), 'read', scope);
      const since = parseSince(url.searchParams, undefined);
      center.watchHub.admit(scope);
      wss.handleUpgrade(req, socket, head, (ws) => {
        log(101);
        ws.on('error', (err) => logger.debug('watch socket error', { error: err.message }));
        const sink = new WebSocketSink(ws, center.watchHub.heartbeatMs, center.watchHub.sendTimeoutMs, Date.now());
        try {
          const watcher = center.watchHub.open(scope, { scheme: 'Websocket', sink, since });
          ws.on('close', () => watcher.end('peer'));
        } catch (err) {
          // Shutdown began, or the domain filled up, between the check and the handshake.
          logger.debug('watch refused', { error: String(err) });
          const quota = err instanceof AlarmCenterError && err.code === Codes.QuotaExceeded;
          ws.close(quota ? 1013 : 1001, quota ? 'too many watchers in this domain' : 'Alarm Center is shutting down');
        }
      });
    } catch (err) {
      const error = err instanceof AlarmCenterError ? err : new AlarmCenterError(Codes.InvalidParams, String(err));
      log(error.status);
      const extra = error.code === Codes.Unauthorized ? ['WWW-Authenticate: Bearer realm="alarm-center"'] : [];
      writeRawError(socket, error, [...security, ...extra, `${REQUEST_ID_HEADER}: ${requestId}`]);
    }
  };
  server.on('upgrade', onUpgrade);
}
