/**
 * Builds the console into dist/web: index.html, and under console/ the bundled app.js (Preact
 * and the app, minified by esbuild), app.css and favicon.svg — what the `/` and `/console/…`
 * routes serve. `npm run build` runs it after the server's build; the browser tests call
 * `buildConsole` so they always test the current source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const WEB = path.dirname(fileURLToPath(import.meta.url));

/** The package's dist/web, where the server looks for the console. */
export const CONSOLE_OUT = path.join(WEB, '..', 'dist', 'web');

/** Builds the console into `outDir` (replacing what was there); resolves with the files written. */
export async function buildConsole(outDir = CONSOLE_OUT): Promise<string[]> {
  const assets = path.join(outDir, 'console');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(assets, { recursive: true });
  const common: BuildOptions = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'eof', target: ['chrome110', 'firefox115', 'safari16'] };
  await build({
    ...common,
    entryPoints: [path.join(WEB, 'src', 'main.tsx')],
    outfile: path.join(assets, 'app.js'),
    format: 'esm',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(WEB, 'tsconfig.json'),
  });
  await build({ ...common, entryPoints: [path.join(WEB, 'app.css')], outfile: path.join(assets, 'app.css') });
  fs.copyFileSync(path.join(WEB, 'favicon.svg'), path.join(assets, 'favicon.svg'));
  fs.copyFileSync(path.join(WEB, 'index.html'), path.join(outDir, 'index.html'));
  return ['index.html', ...fs.readdirSync(assets).map((f) => `console/${f}`)];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await buildConsole();
  process.stdout.write(`console built: ${files.join(', ')}\n`);
}
