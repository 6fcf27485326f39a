import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import os from 'node:os';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'winston';
import { createApp, type HttpApp } from './app.js';
import { createAlarmCenter, type AlarmCenter } from './center.js';
import type { Duplex } from 'node:stream';
import type { Config } from './config.js';
import { ConfigSchema, isLoopback } from './config.js';
import { AlarmCenterError, Codes } from './errors.js';
import { securityHeaderLines } from './http/access.js';
import { TokenRegistry } from './http/auth.js';
import { cutUnlessClosed, writeRawError } from './http/error-handler.js';
import { REQUEST_ID_HEADER } from './http/observe.js';
import type { InstanceInfo } from './http/routes/health.js';
import { createSilentLogger } from './logger.js';
import { attachWebSocketWatch } from './http/routes/watch-socket.js';

/** The package's own files, found from this module whether it runs from src/ or dist/. */
const PACKAGE_JSON = new URL('../package.json', import.meta.url);
const OPENAPI_FILE = new URL('../openapi.yaml', import.meta.url);

/** A listening Alarm Center. */
export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly center: AlarmCenter;
  readonly registry: Registry;
  readonly server: http.Server;
  /** The express app and the hot routes in front of it. */
  readonly app: HttpApp;
  /** Graceful stop: readiness fails, new requests are refused, in-flight ones finish, queued writes commit, the store closes. */
  close(): Promise<void>;
}

function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Waits for the HTTP server to finish its requests, forcing connections closed after
 * `timeoutMs`. Answers still to be written carry `Connection: close`, so keep-alive clients
 * hang up after them instead of holding the shutdown until the timeout. Connections that never
 * sent a request (a client's spare connection) are closed at once: nothing is in flight on them.
 */
function drain(
  server: http.Server,
  inFlight: Set<http.ServerResponse>,
  silent: Set<net.Socket>,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.closeIdleConnections();
    for (const socket of silent) socket.destroy();
  });
}

const SECURITY_HEADER_LINES = securityHeaderLines();

/** Errors that say the peer is gone or its request can never complete: nothing is left to answer. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

/**
 * Answers a request Node could not parse (a head over the limit, malformed HTTP, a head or body
 * that did not arrive in time) with the service-center error body instead of Node's bare status
 * line, then closes the connection; a connection whose peer is gone is closed at once.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, limits: { headerBytes: number; timeoutMs: number }): void {
  if (!socket.writable || PEER_GONE.has(err.code ?? '')) {
    socket.destroy();
    return;
  }
  let error: AlarmCenterError;
  if (err.code === 'HPE_HEADER_OVERFLOW') error = new AlarmCenterError(Codes.HeadersTooLarge, `headers: larger than the limit of ${limits.headerBytes} bytes`);
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') error = new AlarmCenterError(Codes.RequestTimeout, `request: not received within ${limits.timeoutMs} ms`);
  else error = new AlarmCenterError(Codes.InvalidParams, `request: malformed HTTP (${err.code ?? err.message})`);
  // The request could not be read, so its id neither: the answer gets a new one.
  writeRawError(socket, error, [...SECURITY_HEADER_LINES, `${REQUEST_ID_HEADER}: ${crypto.randomUUID()}`]);
}

/** Builds everything from the settings and listens; resolves once the port is bound. */
export async function startServer(settings: Partial<Config> = {}, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const config = ConfigSchema.parse(settings);
  const logger = options.logger ?? createSilentLogger();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const center = await createAlarmCenter({
    dataDir: config.dataDir,
    durability: config.durability,
    queueSize: config.queueSize,
    maxBatch: config.maxBatch,
    unhealthyAlarmIds: config.unhealthyAlarmIds,
    watchQueueSize: config.watchQueueSize,
    watchHeartbeatMs: config.watchHeartbeatMs,
    watchSendTimeoutMs: config.watchSendTimeoutMs,
    maxWatchersPerDomain: config.maxWatchersPerDomain,
    maxAlarmsPerScope: config.maxAlarmsPerScope,
    maxWatchers: config.maxWatchers,
    maxAlarms: config.maxAlarms,
    maxFieldsBytes: config.maxFieldsBytes,
    historyRetentionDays: config.historyRetentionDays,
    historyMaxEntries: config.historyMaxEntries,
    clearedRetentionSeconds: config.clearedRetentionSeconds,
    logger,
    registry,
  });
  const version = (JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
  const startedAt = String(Math.floor(Date.now() / 1000));
  let endpoint = '';
  const instance = (): InstanceInfo => ({
    instanceId: `${os.hostname()}:${process.pid}`,
    serviceId: 'alarm-center',
    hostName: os.hostname(),
    endpoints: [endpoint],
    status: 'UP',
    version,
    timestamp: startedAt,
  });
  const access = {
    tokens: new TokenRegistry(config.tokens),
    probesOpen: config.probesOpen,
    writeRateLimit: config.writeRateLimit,
  };
  if (!access.tokens.enabled && !isLoopback(config.host)) {
    logger.warn('listening beyond this machine without authentication (insecure)', { host: config.host });
  }
  const front = createApp({
    center,
    registry,
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    instance,
    openapi: fs.readFileSync(OPENAPI_FILE, 'utf8'),
    access,
  });
  const server = http.createServer(
    {
      maxHeaderSize: config.headerLimitBytes,
      // A head or body that stalls is cut off: the whole request must arrive within the timeout.
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      // How often Node looks for requests past the timeout: a few times within it.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.requestTimeoutMs / 4))),
    },
    front.listener,
  );
  server.keepAliveTimeout = 65_000;
  const limits = { headerBytes: config.headerLimitBytes, timeoutMs: config.requestTimeoutMs };
  // The latest answer of each connection: a malformed request after it is refused once that answer
  // is written, so answers keep the order of the requests (a client pipelining them reads them so).
  const latest = new WeakMap<Duplex, http.ServerResponse>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = latest.get(socket);
    if (!pending || pending.writableFinished) {
      answerClientError(err, socket, limits);
      return;
    }
    if (pending.req.complete) {
      // The error is the next request's: it is answered after the one before it.
      pending.once('close', () => answerClientError(err, socket, limits));
      return;
    }
    // The error is the pending request's own: its body stalled or was cut off. It is answered if
    // it can still be, and the connection is closed, which ends its handler's wait for the body.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && !pending.headersSent && socket.writable) {
      pending.setHeader('Connection', 'close');
      pending.once('finish', () => socket.destroy());
      front.respond(pending.req, pending, new AlarmCenterError(Codes.RequestTimeout, `request: body not received within ${limits.timeoutMs} ms`));
      cutUnlessClosed(socket);
      return;
    }
    socket.destroy();
  });
  attachWebSocketWatch(server, { center, logger: logger.child({ component: 'watch' }), pipeline: front.pipeline, respond: front.respond });
  const inFlight = new Set<http.ServerResponse>();
  // Connections that have not sent a request yet; upgraded ones belong to their watcher.
  const silent = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    silent.add(socket);
    socket.once('close', () => silent.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage) => silent.delete(req.socket));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    silent.delete(req.socket);
    latest.set(req.socket, res);
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  let address: AddressInfo;
  try {
    address = await listen(server, config.host, config.port);
  } catch (err) {
    front.close();
    await center.close();
    throw err;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  endpoint = `rest://${host}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    host: address.address,
    port: address.port,
    center,
    registry,
    server,
    app: front,
    close() {
      closing ??= (async () => {
        center.beginShutdown();
        // Watchers are told to go (WebSocket 1001, SSE end) and resume by revision elsewhere or later.
        center.watchHub.close();
        await drain(server, inFlight, silent, config.shutdownTimeoutMs);
        front.close();
        await center.close();
      })();
      return closing;
    },
  };
}
