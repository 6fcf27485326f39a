/**
 * How the bench starts each server under test on 127.0.0.1: Alarm Center's built server (on
 * SQLite, with a config file, or as a replica on a PostgreSQL database), the bare express
 * baseline, the webhook receiver, the heartbeat beater, and Prometheus Alertmanager when the Debian
 * package is installed.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildServer, listeningUrl } from './children.js';

/** The package folder; children run from it. */
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Alarm Center's built server entry. */
const SERVER_MAIN = path.join(PACKAGE_DIR, 'dist', 'main.js');

/** Where the Debian `prometheus-alertmanager` package installs its binary. */
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

const BARE_EXPRESS = fileURLToPath(new URL('./bare-express.ts', import.meta.url));
const WEBHOOK_RECEIVER = fileURLToPath(new URL('./webhook-receiver.ts', import.meta.url));
const HEARTBEAT_BEATER = fileURLToPath(new URL('./checks-beater.ts', import.meta.url));
const PROBE_TARGET = fileURLToPath(new URL('./probe-target.ts', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

/** Alertmanager configuration: one receiver without integrations, every alert routed to it. */
const ALERTMANAGER_CONFIG = `route:
  receiver: blackhole
receivers:
  - name: blackhole
`;

/** Whether `npm run build` produced the HTTP server. */
export function serverBuilt(): boolean {
  return fs.existsSync(SERVER_MAIN);
}

/** Whether the Alertmanager binary is installed. */
export function alertmanagerInstalled(): boolean {
  try {
    fs.accessSync(ALERTMANAGER_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts a child and waits until `ready` resolves; stops the child when it does not. */
async function startReady(
  name: string,
  command: string,
  args: readonly string[],
  ready: (child: ChildServer) => Promise<string>,
): Promise<ChildServer> {
  const child = await ChildServer.start(name, command, args, PACKAGE_DIR);
  try {
    child.url = await ready(child);
    return child;
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/**
 * The limits the bench turns off. The write rate limit (per client address) and the alarm quota
 * (per project): the bench is one client sending more writes per second, and more new alarms to
 * one project in a measurement, than the defaults let one client send. The limits of alarms and
 * of their fields in all, for the same reason: the loads fill servers past them (a batch run
 * stores about 1,000,000 alarms).
 */
const LIMITS_OFF = ['--write-rate-limit', '0', '--max-alarms-per-scope', '0', '--max-alarms', '0', '--max-fields-bytes', '0'];

/**
 * Starts Alarm Center's server as an operator runs it — default log level `info`, so every
 * request is logged to stdout (read and discarded by the bench) — but without the write rate
 * limit and the alarm quota, on a port it picks itself,
 * read from its `listening` log line, with its database in `dataDir`.
 */
export function startAlarmCenter(dataDir: string): Promise<ChildServer> {
  const args = [SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...LIMITS_OFF];
  return startReady('Alarm Center', process.execPath, args, readyAlarmCenter);
}

/**
 * Starts Alarm Center as `startAlarmCenter` does (same limits off) with the settings of the config
 * file `configFile` too (the flags win over it); `name` tells it apart in errors.
 */
export function startAlarmCenterWithConfig(dataDir: string, configFile: string, name = 'Alarm Center'): Promise<ChildServer> {
  const args = [SERVER_MAIN, '--config', configFile, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...LIMITS_OFF];
  return startReady(name, process.execPath, args, readyAlarmCenter);
}

/**
 * Starts Alarm Center as `startAlarmCenter` does (same limits off) but on the PostgreSQL database
 * at `postgresUrl`, as one of the replicas sharing it; `name` tells replicas apart in errors.
 */
export function startAlarmCenterOnPostgres(postgresUrl: string, dataDir: string, name = 'Alarm Center on PostgreSQL'): Promise<ChildServer> {
  const store = ['--store', 'postgres', '--postgres-url', postgresUrl];
  const args = [SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...LIMITS_OFF, ...store];
  return startReady(name, process.execPath, args, readyAlarmCenter);
}

/**
 * Starts Alarm Center with every setting at its default, as `npm start` runs it, but with V8's
 * heap capped at `heapMiB`: the server the limits part fills.
 */
export function startAlarmCenterAsShipped(dataDir: string, heapMiB: number): Promise<ChildServer> {
  const args = [`--max-old-space-size=${heapMiB}`, SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir];
  return startReady('Alarm Center', process.execPath, args, readyAlarmCenter);
}

/** Waits for Alarm Center's `listening` line; its later output is drained unread. */
async function readyAlarmCenter(c: ChildServer): Promise<string> {
  const url = await c.waitForLine(listeningUrl, READY_TIMEOUT_MS);
  c.discardStdout();
  return url;
}

/** Starts the bare express baseline on a free loopback port. */
export function startBareExpress(): Promise<ChildServer> {
  const args = ['--import', 'tsx', BARE_EXPRESS, '--host', '127.0.0.1', '--port', '0'];
  return startReady('bare express', process.execPath, args, (c) => c.waitForLine(listeningUrl, READY_TIMEOUT_MS));
}

/** Starts the webhook receiver (bench/webhook-receiver.ts) on a free loopback port; `delays` keeps each change's arrival. */
export function startWebhookReceiver(delays = false): Promise<ChildServer> {
  const args = ['--import', 'tsx', WEBHOOK_RECEIVER, '--host', '127.0.0.1', '--port', '0', ...(delays ? ['--delays'] : [])];
  return startReady('webhook receiver', process.execPath, args, (c) => c.waitForLine(listeningUrl, READY_TIMEOUT_MS));
}

/** Starts the target of the checks' probes (bench/probe-target.ts) on a free loopback port. */
export function startProbeTarget(): Promise<ChildServer> {
  const args = ['--import', 'tsx', PROBE_TARGET, '--host', '127.0.0.1', '--port', '0'];
  return startReady('probe target', process.execPath, args, (c) => c.waitForLine(listeningUrl, READY_TIMEOUT_MS));
}

/**
 * Starts the heartbeat beater (bench/checks-beater.ts) against the Alarm Center at `url`, and
 * waits until it has registered its `count` heartbeats with `timeoutSeconds`; it beats on SIGUSR1.
 */
export function startHeartbeatBeater(url: string, count: number, timeoutSeconds: number): Promise<ChildServer> {
  const args = ['--import', 'tsx', HEARTBEAT_BEATER, '--url', url, '--count', String(count), '--timeout', String(timeoutSeconds)];
  return startReady('heartbeat beater', process.execPath, args, async (c) => {
    await c.waitForLine((line) => (line.includes('"message":"ready"') ? line : undefined), READY_TIMEOUT_MS);
    return url;
  });
}

/**
 * Starts Alertmanager on a free loopback port, without clustering, with its state in `workDir`.
 * `getConcurrency` lifts its limit on concurrent GETs (by default max(GOMAXPROCS, 8); past it
 * GETs are answered 503), so it serves as many list requests at once as the bench sends.
 */
export async function startAlertmanager(workDir: string, getConcurrency: number): Promise<ChildServer> {
  fs.mkdirSync(workDir, { recursive: true });
  const config = path.join(workDir, 'alertmanager.yml');
  fs.writeFileSync(config, ALERTMANAGER_CONFIG);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${config}`,
    `--storage.path=${path.join(workDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    `--web.get-concurrency=${getConcurrency}`,
    '--log.level=warn',
  ];
  return startReady('Alertmanager', ALERTMANAGER_BIN, args, async (c) => {
    await c.waitForHttp(`${url}/-/ready`, READY_TIMEOUT_MS);
    return url;
  });
}
