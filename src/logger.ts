import winston from 'winston';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const MESSAGE = Symbol.for('message');

/**
 * One JSON object per line: level, message, the fields, then the timestamp. Built with
 * JSON.stringify rather than logform's json format, which sorts keys and guards against cycles
 * at about twice the cost; a line per request makes that cost count. Fields that cannot be
 * serialized fall back to their message alone.
 */
export const jsonLine = winston.format((info) => {
  info.timestamp = new Date().toISOString();
  let line: string;
  try {
    line = JSON.stringify(info);
  } catch {
    line = JSON.stringify({ level: info.level, message: String(info.message), timestamp: info.timestamp });
  }
  (info as unknown as Record<symbol, string>)[MESSAGE] = line;
  return info;
});

/** A winston logger writing JSON lines to stdout; components take `logger.child({ component })`. */
export function createLogger(options: { level?: LogLevel; silent?: boolean } = {}): winston.Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format: jsonLine(),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that writes nothing; the default when Alarm Center is embedded without one. */
export function createSilentLogger(): winston.Logger {
  return createLogger({ silent: true });
}
