/**
 * The soak's two children: Alarm Center's built server and the watchers' process
 * (soak-watchers.ts), both on 127.0.0.1 with their soft open-files limit raised to the hard one,
 * as one descriptor per watcher is needed on each side.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildServer, listeningUrl } from './children.js';
import { int } from './report.js';
import type { WatchersTally } from './soak-watchers.js';

/** Where the watchers go and how many per project. */
export interface WatcherLayout {
  projects: readonly string[];
  watchersPerProject: number;
}

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SERVER_MAIN = path.join(PACKAGE_DIR, 'dist', 'main.js');
const WATCHERS = fileURLToPath(new URL('./soak-watchers.ts', import.meta.url));

/** Descriptors beyond one per watcher: the load's connections (4 × 200 at most), the database, the runtime's own. */
const FD_MARGIN = 1024;
const READY_TIMEOUT_MS = 20_000;
const OPEN_TIMEOUT_MS = 120_000;
const TALLY_TIMEOUT_MS = 30_000;

/** The soft open-files limit to give both children; fails when the hard limit is too low. */
export function fdLimit(watchers: number): string {
  const need = watchers + FD_MARGIN;
  const out = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const hard = out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  if (!(hard >= need)) throw new Error(`${int(watchers)} watchers need ${int(need)} open files per process; the hard limit (ulimit -Hn) is ${out}`);
  return out;
}

/** Starts `command` through bash with the soft open-files limit raised to `limit`. */
function startWithFdLimit(name: string, limit: string, command: string, args: readonly string[]): Promise<ChildServer> {
  return ChildServer.start(name, 'bash', ['-c', 'ulimit -Sn "$1" && shift && exec "$@"', 'soak', limit, command, ...args], PACKAGE_DIR);
}

/** Starts a child and waits for `ready`; stops it when that fails. */
async function startReady(start: () => Promise<ChildServer>, ready: (c: ChildServer) => Promise<void>): Promise<ChildServer> {
  const child = await start();
  try {
    await ready(child);
    return child;
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/**
 * Starts Alarm Center as an operator runs it (default settings: log level info, its stdout read
 * and discarded; durability full) on a port it picks itself, with its database in `dataDir`.
 */
export function startServer(dataDir: string, limit: string): Promise<ChildServer> {
  if (!fs.existsSync(SERVER_MAIN)) throw new Error('the server is not built: run `npm run build` first');
  const args = [SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir];
  return startReady(
    () => startWithFdLimit('Alarm Center', limit, process.execPath, args),
    async (c) => {
      c.url = await c.waitForLine(listeningUrl, READY_TIMEOUT_MS);
      c.discardStdout();
    },
  );
}

/** A JSON line of the watchers' process with the given `type`, as text. */
function lineOfType(type: string): (line: string) => string | undefined {
  return (line) => (line.startsWith(`{"type":"${type}"`) ? line : undefined);
}

/** Starts the watchers' process and resolves once every watcher is open; answers how long that took. */
export async function startWatchers(server: ChildServer, layout: WatcherLayout, limit: string): Promise<{ child: ChildServer; openMs: number }> {
  const args = ['--import', 'tsx', WATCHERS, '--url', server.url, '--projects', layout.projects.join(',')];
  args.push('--per-project', String(layout.watchersPerProject));
  let openMs = 0;
  const child = await startReady(
    () => startWithFdLimit('soak watchers', limit, process.execPath, args),
    async (c) => {
      openMs = (JSON.parse(await c.waitForLine(lineOfType('opened'), OPEN_TIMEOUT_MS)) as { ms: number }).ms;
    },
  );
  return { child, openMs };
}

/** Asks the watchers' process for its tally so far. */
export async function watchersTally(watchers: ChildServer): Promise<WatchersTally> {
  const line = watchers.waitForLine(lineOfType('tally'), TALLY_TIMEOUT_MS);
  watchers.proc.kill('SIGUSR2');
  return JSON.parse(await line) as WatchersTally;
}
