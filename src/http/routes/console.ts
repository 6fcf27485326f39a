/**
 * The console's routes: the page at `/`, its assets under `/console/`, and `/console/whoami`,
 * which tells the page whether tokens are on and what the caller's token may do. The page and
 * its assets need no token (they hold no data); every API call the page makes carries one.
 * The assets are the files `npm run build` writes (web/build.ts), read once and kept in memory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';
import { AlarmCenterError, Codes } from '../../errors.js';
import type { TokenRegistry } from '../auth.js';
import { sendJson } from '../request.js';
import { expressRoute, type Route } from '../route-table.js';

/**
 * The page's Content-Security-Policy: scripts, styles and fetches of this origin only, no inline
 * script or style, no eval; images of this origin or `data:` (the favicon with the alarm count).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join(';');

/** Where `npm run build` writes the console, found from this module whether it runs from src/ or dist/. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/** One file of the console, as answered. */
interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function assetOf(file: string): Asset | undefined {
  const type = TYPES[path.extname(file)];
  if (!type) return undefined;
  const body = fs.readFileSync(file);
  return { type, body, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** The built console's page and assets; undefined until the build wrote them. */
function readConsole(dir: string): { page: Asset; assets: Map<string, Asset> } | undefined {
  const index = path.join(dir, 'index.html');
  if (!fs.existsSync(index)) return undefined;
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'console');
  for (const name of fs.existsSync(assetDir) ? fs.readdirSync(assetDir) : []) {
    const asset = assetOf(path.join(assetDir, name));
    if (asset) assets.set(name, asset);
  }
  return { page: assetOf(index) as Asset, assets };
}

/** Answers a file: 304 when the client holds this version, else its bytes; revalidated on every use. */
function sendAsset(res: ServerResponse, ifNoneMatch: string | undefined, asset: Asset, method: string): void {
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('ETag', asset.etag);
  if (ifNoneMatch === asset.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Length', asset.body.length);
  res.end(method === 'HEAD' ? undefined : asset.body);
}

/** What the console routes use. */
export interface ConsoleRouteDeps {
  tokens: Pick<TokenRegistry, 'enabled'>;
  /** The built console's folder (index.html and console/); the package's dist/web by default. */
  dir?: string;
}

const open = { method: 'GET', counted: false, whileStopping: false, scope: 'none', body: false } as const;

/** The console's routes of the route table; `/console/whoami` comes before the assets, as literals must. */
export function consoleRoutes({ tokens, dir = CONSOLE_DIR }: ConsoleRouteDeps): Route[] {
  let built: ReturnType<typeof readConsole>;
  // Read at the first request, and again while the build has not written it yet.
  const load = () => (built ??= readConsole(dir));
  const notBuilt = () => new AlarmCenterError(Codes.NotFound, 'the console is not built: run npm run build');
  return [
    expressRoute({
      ...open,
      template: '/',
      access: 'open',
      handle({ req, res }) {
        const page = load()?.page;
        if (!page) throw notBuilt();
        res.setHeader('Content-Security-Policy', CONSOLE_CSP);
        sendAsset(res, req.get('if-none-match'), page, req.method);
      },
    }),
    expressRoute({
      ...open,
      template: '/console/whoami',
      access: 'read',
      handle({ res, principal }) {
        const body = !tokens.enabled
          ? { authentication: false }
          : { authentication: true, name: principal?.name, role: principal?.role, ...(principal?.scopes && { scopes: principal.scopes }) };
        res.setHeader('Cache-Control', 'no-store');
        sendJson(res, 200, JSON.stringify(body));
      },
    }),
    expressRoute({
      ...open,
      template: '/console/:asset',
      access: 'open',
      handle({ req, res, params }) {
        const files = load();
        if (!files) throw notBuilt();
        const asset = files.assets.get(params.asset as string);
        if (!asset) throw new AlarmCenterError(Codes.NotFound, `asset: the console has no file ${JSON.stringify((params.asset as string).slice(0, 64))}`);
        sendAsset(res, req.get('if-none-match'), asset, req.method);
      },
    }),
  ];
}
