#!/usr/bin/env node
/** The `alarm-center` command: read settings, start the server, stop gracefully on a signal. */
import fs from 'node:fs';
import './v8-flags.js';
import { ConfigError, HELP_HINT, loadConfig, usage, type Config } from './config.js';
import { createLogger, flushLogs } from './logger.js';
import { redactUrl } from './alarm/postgres-store.js';
import { startServer } from './root.js';

/** The exit code of a start-up that cannot succeed as configured: a bad setting, a busy port, an unusable data folder. */
const EXIT_CANNOT_START = 2;

const PACKAGE_JSON = new URL('../package.json', import.meta.url);

/** Why listening failed, in words, for the errors a setting can cause. */
const LISTEN_REASONS: Partial<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name cannot be resolved now',
};

/** A failed start-up in one sentence: the address or path and the reason, never a stack. */
function describeStartFailure(err: unknown, config: Pick<Config, 'host' | 'port'>): string {
  const { code, syscall } = (err ?? {}) as NodeJS.ErrnoException;
  const reason = code === undefined ? undefined : LISTEN_REASONS[code];
  if (reason !== undefined && (syscall === 'listen' || syscall === 'bind' || syscall === 'getaddrinfo')) {
    const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
    return `cannot listen on ${host}:${config.port}: ${reason}`;
  }
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

async function main(): Promise<number> {
  let request;
  try {
    request = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`alarm-center: ${err.message}\n${HELP_HINT}\n`);
    return EXIT_CANNOT_START;
  }
  if (request.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (request.version) {
    const { version } = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
    process.stdout.write(`alarm-center ${version}\n`);
    return 0;
  }
  const { config } = request;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  // Log lines are written once per event-loop turn; whatever is pending goes out at exit.
  process.on('exit', () => flushLogs(logger));
  // Signals are handled from the start: a supervisor may stop us while we start or the moment
  // we report listening, and either must end in a graceful stop, not the default kill.
  let stopRequested: NodeJS.Signals | undefined;
  let onSignal = (signal: NodeJS.Signals) => {
    stopRequested = signal;
  };
  process.on('SIGTERM', (s) => onSignal(s));
  process.on('SIGINT', (s) => onSignal(s));
  let running;
  try {
    running = await startServer(config, { logger });
  } catch (err) {
    // One sentence for the operator; the stack only for whoever debugs.
    logger.debug('start failed', { stack: err instanceof Error ? err.stack : String(err) });
    process.stderr.write(`alarm-center: ${describeStartFailure(err, config)}\n`);
    return EXIT_CANNOT_START;
  }
  const server = running;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn('second signal, exiting at once', { signal });
        resolve(1);
        return;
      }
      stopping = true;
      logger.info('shutting down', { signal });
      server.close().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
          resolve(1);
        },
      );
    };
    onSignal = stop;
    logger.info('listening', {
      url: server.url,
      store: config.store,
      ...(config.store === 'postgres' ? { postgres: redactUrl(config.postgresUrl ?? '') } : { dataDir: config.dataDir, durability: config.durability }),
      authentication: config.tokens.length > 0 ? 'tokens' : 'off',
      tokens: config.tokens.length,
      config: request.configFile,
    });
    if (stopRequested) stop(stopRequested);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Let winston flush, then leave even if a client keeps a socket open.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`alarm-center: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
