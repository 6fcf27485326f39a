/**
 * How the console is served (no browser needed): the page at `/` with its own
 * Content-Security-Policy and the API's other security headers, no inline script or style in
 * it, its assets under `/console/`, revalidated by ETag, and `/console/whoami` telling the page
 * what the token may do. The page and its assets need no token; whoami needs a valid one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { hashToken } from '../../src/http/auth.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { buildConsole } from '../../web/build.js';
import { expectError, removeDir, tempDir } from '../helpers/integration.js';
import express from 'express';
import type { AlarmCenterError } from '../../src/errors.js';
import { TokenRegistry } from '../../src/http/auth.js';
import type { ExpressRoute } from '../../src/http/route-table.js';
import { CONSOLE_CSP, consoleRoutes } from '../../src/http/routes/console.js';

describe('console routes', function () {
  this.timeout(30_000);
  let server: RunningServer;

  before(async () => {
    await buildConsole();
  });

  afterEach(() => server.close());

  describe('without tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:' });
    });

    it('serves the page at / with a CSP allowing no inline script or style and no eval', async () => {
      const res = await request(server.url).get('/').expect(200);
      expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).to.equal(CONSOLE_CSP);
      expect(csp).to.include("script-src 'self'").and.include("style-src 'self'").and.include("frame-ancestors 'none'");
      expect(csp).not.to.match(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers).to.include({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' });
      // Everything the page loads is a file of its own origin: no inline script or style, no CDN.
      expect(res.text).not.to.match(/<style|style=|<script(?![^>]*\bsrc="\/console\/)/i);
      expect(res.text).not.to.match(/https?:\/\//);
      expect(res.text).to.include('<script type="module" src="/console/app.js"></script>');
    });

    it('serves the assets with their types, and 304 to a client holding the same version', async () => {
      const js = await request(server.url).get('/console/app.js').expect(200);
      expect(js.headers['content-type']).to.equal('text/javascript; charset=utf-8');
      expect(js.text).not.to.match(/\beval\(|new Function\(/);
      expect((await request(server.url).get('/console/app.css').expect(200)).headers['content-type']).to.equal('text/css; charset=utf-8');
      expect((await request(server.url).get('/console/favicon.svg').expect(200)).headers['content-type']).to.equal('image/svg+xml');
      const etag = js.headers.etag as string;
      expect(etag).to.match(/^"[\w-]+"$/);
      await request(server.url).get('/console/app.js').set('if-none-match', etag).expect(304);
    });

    it('answers 404002 for a file the console does not have', async () => {
      expectError(await request(server.url).get('/console/secrets.json'), '404002', 'asset: the console has no file "secrets.json"');
      expectError(await request(server.url).get('/console/..%2Fpackage.json'), '404002', /the console has no file/);
      expectError(await request(server.url).get('/console/'), '404002');
    });

    it('tells the page that tokens are off', async () => {
      const res = await request(server.url).get('/console/whoami').expect(200);
      expect(res.body).to.deep.equal({ authentication: false });
    });
  });

  describe('with tokens', () => {
    beforeEach(async () => {
      server = await startServer({ port: 0, dataDir: ':memory:', tokens: [{ name: 'viewer', role: 'read', sha256: hashToken('routes-read'), scopes: ['default/*'] }] });
    });

    it('serves the page and its assets without a token', async () => {
      await request(server.url).get('/').expect(200);
      await request(server.url).get('/console/app.js').expect(200);
    });

    it("answers whoami with the token's name, role and scopes, and 401002 without a valid token", async () => {
      const res = await request(server.url).get('/console/whoami').set('authorization', 'Bearer routes-read').expect(200);
      expect(res.body).to.deep.equal({ authentication: true, name: 'viewer', role: 'read', scopes: ['default/*'] });
      expect(res.text).not.to.include('routes-read');
      expectError(await request(server.url).get('/console/whoami'), '401002');
      expectError(await request(server.url).get('/console/whoami').set('authorization', 'Bearer nope'), '401002', 'authorization: unknown token');
    });
  });

  describe('before the console is built', () => {
    let dir: string;

    beforeEach(() => {
      dir = tempDir('console-unbuilt');
    });

    afterEach(() => removeDir(dir));

    it('answers 404002 saying how to build it, then serves it once built', async () => {
      const page = consoleRoutes({ tokens: new TokenRegistry([]), dir }).find((r) => r.template === '/') as ExpressRoute;
      const app = express();
      app.get('/', async (req, res) => {
        try {
          await page.handle({ req, res, params: {}, scope: { domain: 'default', project: 'default' }, body: undefined, principal: undefined });
        } catch (err) {
          const e = err as AlarmCenterError;
          res.status(e.status).json(e.toBody());
        }
      });
      expectError(await request(app).get('/'), '404002', 'the console is not built: run npm run build');
      await buildConsole(dir);
      expect(fs.existsSync(path.join(dir, 'index.html'))).to.equal(true);
      const res = await request(app).get('/').expect(200);
      expect(res.headers['content-security-policy']).to.equal(CONSOLE_CSP);
    });
  });
});
