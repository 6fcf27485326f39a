/**
 * Requests that never finish — uploads cut off halfway, chunked bodies that stall, heads that
 * never end — against the real `alarm-center` process: each is answered or closed within the
 * request timeout, the server's sockets come back to their count before, and `/livez` answers
 * throughout. Descriptors are read from the server process's /proc entry.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Bin, ensureBuilt } from '../helpers/bin.js';

const TIMEOUT_MS = 1500;
const CONNECTIONS = 200;

/** The server process's open sockets, from its descriptor table. */
function socketsOf(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n += 1;
    } catch {
      // Closed while being read.
    }
  }
  return n;
}

/** Polls `check` until it holds or the deadline passes; resolves with its last value. */
async function until<T>(what: string, read: () => T | Promise<T>, check: (v: T) => boolean, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(value)} after ${deadlineMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function get(port: number, urlPath: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
  });
}

/** A raw connection that sends `bytes` and records what comes back and when the server closed. */
class RawClient {
  readonly socket: net.Socket;
  received = '';
  serverClosed = false;
  readonly connected: Promise<void>;

  constructor(port: number, bytes: string) {
    this.socket = net.connect(port, '127.0.0.1');
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.socket.setEncoding('utf8');
    this.socket.on('data', (c: string) => (this.received += c));
    this.socket.on('end', () => (this.serverClosed = true));
    this.socket.on('close', () => (this.serverClosed = true));
    this.socket.on('error', () => undefined);
    this.socket.write(bytes);
  }
}

const HEAD = (extra: string) => `POST /v4/p/admin/alarms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}\r\n`;

describe('requests that never finish', function () {
  this.timeout(60_000);
  let bin: Bin;
  let dir: string;
  let port: number;
  let pid: number;
  let baseline: number;

  before(() => ensureBuilt());

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-stall-'));
    bin = new Bin(['--port', '0', '--data-dir', dir, '--request-timeout-ms', String(TIMEOUT_MS)]);
    port = Number(new URL(await bin.url()).port);
    pid = bin.child.pid as number;
    expect((await get(port, '/livez')).status).to.equal(200);
    baseline = socketsOf(pid);
  });

  afterEach(async () => {
    await bin.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`frees the sockets of ${CONNECTIONS} uploads cut off halfway, and stores nothing`, async () => {
    const clients: RawClient[] = [];
    for (let i = 0; i < CONNECTIONS; i += 1) clients.push(new RawClient(port, `${HEAD('Content-Length: 1000\r\n')}{"id":"A${i}",`));
    await Promise.all(clients.map((c) => c.connected));
    await until('server sockets while the uploads hang', () => socketsOf(pid), (n) => n >= baseline + CONNECTIONS / 2, 10_000);
    // Half leave with a FIN, half with a reset: the attacker is gone either way.
    clients.forEach((c, i) => (i % 2 === 0 ? c.socket.end() : c.socket.resetAndDestroy()));
    expect((await get(port, '/livez')).status, '/livez while they go').to.equal(200);

    await until('server sockets after the uploads were cut off', () => socketsOf(pid), (n) => n <= baseline, 5000);
    expect((await get(port, '/livez')).status).to.equal(200);
    expect(JSON.parse((await get(port, '/v4/p/admin/alarms')).text).alarms).to.deep.equal([]);
  });

  it(`answers ${CONNECTIONS} stalled chunked bodies 408001 within the timeout and closes them`, async () => {
    const started = Date.now();
    const clients: RawClient[] = [];
    for (let i = 0; i < CONNECTIONS; i += 1) clients.push(new RawClient(port, `${HEAD('Transfer-Encoding: chunked\r\n')}5\r\n{"id"\r\n`));
    await Promise.all(clients.map((c) => c.connected));
    expect((await get(port, '/livez')).status, '/livez while the bodies stall').to.equal(200);

    // The clients stay: only the server can end these connections.
    await until('stalled connections the server closed', () => clients.filter((c) => c.serverClosed).length, (n) => n === CONNECTIONS, TIMEOUT_MS + 8000);
    const elapsed = Date.now() - started;
    for (const c of clients) {
      expect(c.received, 'the answer to a stalled body').to.match(/^HTTP\/1\.1 408 /);
      expect(c.received).to.include('"errorCode":"408001"');
    }
    expect(elapsed, 'closed after the timeout, not before').to.be.at.least(TIMEOUT_MS);
    await until('server sockets after the stalled bodies', () => socketsOf(pid), (n) => n <= baseline, 5000);
    expect((await get(port, '/livez')).status).to.equal(200);
    expect(JSON.parse((await get(port, '/v4/p/admin/alarms')).text).alarms).to.deep.equal([]);
    for (const c of clients) c.socket.destroy();
  });

  it('answers a head that never ends 408001 and closes the connection though the client stays', async () => {
    const clients = Array.from({ length: 20 }, () => new RawClient(port, 'GET /livez HTTP/1.1\r\nHost: localhost\r\n'));
    await Promise.all(clients.map((c) => c.connected));

    await until('stalled heads the server closed', () => clients.filter((c) => c.serverClosed).length, (n) => n === clients.length, TIMEOUT_MS + 8000);
    for (const c of clients) expect(c.received).to.match(/^HTTP\/1\.1 408 /).and.to.include('"errorCode":"408001"');
    await until('server sockets after the stalled heads', () => socketsOf(pid), (n) => n <= baseline, 5000);
    for (const c of clients) c.socket.destroy();
  });
});
