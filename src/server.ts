/**
 * The HTTP server: listens with the request limits, answers what Node cannot parse with the
 * error body, and drains at shutdown. What it serves comes built (root.ts, app.ts).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpApp } from './app.js';
import type { Config } from './config.js';
import { AlarmCenterError, Codes } from './errors.js';
import { securityHeaderLines } from './http/access.js';
import { cutUnlessClosed, writeRawError } from './http/error-handler.js';
import { REQUEST_ID_HEADER } from './http/observe.js';

/** A server listening on its address. */
export interface Listening {
  readonly url: string;
  /** The address as bound (an IPv6 address without brackets). */
  readonly host: string;
  readonly port: number;
  readonly server: http.Server;
  /**
   * Stops taking connections and waits for the requests in flight, forcing connections closed
   * after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
}

function bind(server: http.Server, host: string, port: number): Promise<AddressInfo> {
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

/**
 * The latest answer of a connection, kept on its socket: a WeakMap from sockets to answers kept
 * every answer alive in V8's old generation (see the request state in pipeline.ts).
 */
const LATEST = Symbol('alarm-center.latest-answer');

type Connection = Duplex & { [LATEST]?: http.ServerResponse };

/** Listens on the configured address with the configured request limits; resolves once bound. */
export async function listen(
  front: Pick<HttpApp, 'listener' | 'upgrade' | 'respond'>,
  config: Pick<Config, 'host' | 'port' | 'headerLimitBytes' | 'requestTimeoutMs'>,
): Promise<Listening> {
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as Connection)[LATEST];
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
  server.on('upgrade', front.upgrade);
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
    (req.socket as Connection)[LATEST] = res;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const address = await bind(server, config.host, config.port);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    host: address.address,
    port: address.port,
    server,
    drain: (timeoutMs) => drain(server, inFlight, silent, timeoutMs),
  };
}
