#!/usr/bin/env node
/** The `alarm-center` command: read settings, start the server, stop gracefully on a signal. */
import './v8-flags.js';
import { ConfigError, loadConfig, usage } from './config.js';
import { createLogger, flushLogs } from './logger.js';
import { startServer } from './server.js';

async function main(): Promise<number> {
  let request;
  try {
    request = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`alarm-center: ${err.message}\n${usage()}\n`);
    return 2;
  }
  if (request.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const { config } = request;
  const logger = createLogger({ level: config.logLevel });
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
    logger.error('start failed', { error: err instanceof Error ? err.message : String(err) });
    return 1;
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
    logger.info('listening', { url: server.url, dataDir: config.dataDir, durability: config.durability });
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
