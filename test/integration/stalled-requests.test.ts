/**
 * Requests that never finish — uploads cut off halfway, chunked bodies that stall, heads that
 * never end — against the real `alarm-center` process: each is answered or closed within the
 * request timeout, the server's sockets come back to their count before, and `/livez` answers
 * throughout. Descriptors are read from the server process's /proc entry.
 */
import fs from 'node:fs';
import net from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { binGroup } from '../helpers/bin.js';
import { waitFor } from '../helpers/integration.js';

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
  const bins = binGroup('stalled');
  let url: string;
  let port: number;
  let pid: number;
  let baseline: number;
  const livez = async () => (await request(url).get('/livez')).status;
  const stored = async () => (await request(url).get('/v4/p/admin/alarms')).body.alarms as unknown[];
  /** Waits until the server holds no more sockets than before the test. */
  const socketsBack = (what: string, timeoutMs: number) => waitFor(what, () => socketsOf(pid) <= baseline, timeoutMs);

  beforeEach(async () => {
    const bin = bins.run(['--port', '0', '--data-dir', bins.dataDir(), '--request-timeout-ms', String(TIMEOUT_MS)]);
    url = await bin.url();
    port = Number(new URL(url).port);
    pid = bin.child.pid as number;
    expect(await livez()).to.equal(200);
    baseline = socketsOf(pid);
  });

  it(`frees the sockets of ${CONNECTIONS} uploads cut off halfway, and stores nothing`, async () => {
    const clients: RawClient[] = [];
    for (let i = 0; i < CONNECTIONS; i += 1) clients.push(new RawClient(port, `${HEAD('Content-Length: 1000\r\n')}{"id":"A${i}",`));
    await Promise.all(clients.map((c) => c.connected));
    await waitFor('the server to hold the hanging uploads', () => socketsOf(pid) >= baseline + CONNECTIONS / 2, 10_000);
    // Half leave with a FIN, half with a reset: the attacker is gone either way.
    clients.forEach((c, i) => (i % 2 === 0 ? c.socket.end() : c.socket.resetAndDestroy()));
    expect(await livez(), '/livez while they go').to.equal(200);

    await socketsBack('server sockets after the uploads were cut off', 5000);
    expect(await livez()).to.equal(200);
    expect(await stored()).to.deep.equal([]);
  });

  it(`answers ${CONNECTIONS} stalled chunked bodies 408001 within the timeout and closes them`, async () => {
    const started = Date.now();
    const clients: RawClient[] = [];
    for (let i = 0; i < CONNECTIONS; i += 1) clients.push(new RawClient(port, `${HEAD('Transfer-Encoding: chunked\r\n')}5\r\n{"id"\r\n`));
    await Promise.all(clients.map((c) => c.connected));
    expect(await livez(), '/livez while the bodies stall').to.equal(200);

    // The clients stay: only the server can end these connections.
    await waitFor('the server to close every stalled connection', () => clients.every((c) => c.serverClosed), TIMEOUT_MS + 8000);
    const elapsed = Date.now() - started;
    for (const c of clients) {
      expect(c.received, 'the answer to a stalled body').to.match(/^HTTP\/1\.1 408 /);
      expect(c.received).to.include('"errorCode":"408001"');
    }
    expect(elapsed, 'closed after the timeout, not before').to.be.at.least(TIMEOUT_MS);
    await socketsBack('server sockets after the stalled bodies', 5000);
    expect(await livez()).to.equal(200);
    expect(await stored()).to.deep.equal([]);
    for (const c of clients) c.socket.destroy();
  });

  it('answers a head that never ends 408001 and closes the connection though the client stays', async () => {
    const clients = Array.from({ length: 20 }, () => new RawClient(port, 'GET /livez HTTP/1.1\r\nHost: localhost\r\n'));
    await Promise.all(clients.map((c) => c.connected));

    await waitFor('the server to close every stalled head', () => clients.every((c) => c.serverClosed), TIMEOUT_MS + 8000);
    for (const c of clients) expect(c.received).to.match(/^HTTP\/1\.1 408 /).and.to.include('"errorCode":"408001"');
    await socketsBack('server sockets after the stalled heads', 5000);
    for (const c of clients) c.socket.destroy();
  });
});
