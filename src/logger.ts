import winston from 'winston';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A winston logger writing JSON lines to stdout; components take `logger.child({ component })`. */
export function createLogger(options: { level?: LogLevel; silent?: boolean } = {}): winston.Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that writes nothing; the default when Alarm Center is embedded without one. */
export function createSilentLogger(): winston.Logger {
  return createLogger({ silent: true });
}
