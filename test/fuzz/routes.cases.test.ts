/**
 * Minimal cases of the bugs the routes' fuzz tests found, kept as plain examples: a source with
 * a lone surrogate (stored as something else than answered), a WebSocket upgrade of `//` (which
 * crashed the process), and a malformed request pipelined after a write (answered before it,
 * so the client read a refusal of a committed write).
 */
import http from 'node:http';
import { expect } from 'chai';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectCodedAnswer, send, sendRaw, upgrade } from './client.js';

describe('HTTP routes: cases found by fuzzing', () => {
  let server: RunningServer;
  const P = { domain: 'default', project: 'p' };

  beforeEach(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
  });

  afterEach(() => server.close());

  it('refuses a source holding a lone surrogate, which the store cannot keep as sent', async () => {
    const agent = new http.Agent();
    const body = Buffer.from('{"id":"A","source":"\\ud800"}');
    const answer = await send(server.port, agent, { method: 'POST', path: '/v4/p/admin/alarms', headers: { 'content-type': 'application/json' }, body });
    agent.destroy();

    expect(answer.status, answer.text).to.equal(400);
    const error = expectCodedAnswer(answer, 'POST with source "\\ud800"');
    expect(error?.errorCode).to.equal('400001');
    expect(error?.detail).to.match(/^body\.source: /);
    expect(server.center.list(P).alarms).to.deep.equal([]);
  });

  it('refuses a WebSocket upgrade of a path a URL parser reads as a host, and stays up', async () => {
    for (const path of ['//', '//a:b', '//%zz']) {
      const answer = await upgrade(server.port, path, {});
      expect(expectCodedAnswer(answer, `upgrade of ${path}`)?.errorCode, path).to.equal('404002');
    }
    const agent = new http.Agent();
    const live = await send(server.port, agent, { method: 'GET', path: '/livez', headers: {} });
    agent.destroy();
    expect(live.status).to.equal(200);
  });

  it('answers pipelined requests in order when the second one is malformed', async () => {
    await server.center.raise(P, { id: 'A' });
    // A DELETE whose body has no Content-Length: the body is the next, malformed, request.
    const answers = await sendRaw(server.port, Buffer.from('DELETE /v4/p/admin/alarms HTTP/1.1\r\nHost: localhost\r\n\r\n{"id":"A"}\r\n\r\n'));

    expect(answers.map((a) => a.status)).to.deep.equal([200, 400]);
    expect(server.center.list(P).alarms).to.deep.equal([]);
  });
});
