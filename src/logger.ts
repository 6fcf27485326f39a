import winston from 'winston';
import TransportStream from 'winston-transport';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `pretty`: a line a person reads (time, level, message, key=value fields); `json`: a JSON object per line. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

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

/** A field's value in a pretty line: bare when that reads unambiguously, JSON otherwise. */
function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserializable]';
  }
}

/**
 * One line a person reads: time, level, message, then the fields as key=value in their order;
 * fields without a value are left out.
 */
export const prettyLine = () =>
  winston.format.combine(
    winston.format.timestamp(),
    winston.format.printf((info) => {
      const { level, message, timestamp, ...fields } = info;
      const pairs = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${prettyValue(v)}`);
      return [String(timestamp), level.padEnd(5), String(message), ...pairs].join(' ');
    }),
  );

/**
 * A transport that gathers the lines of one event-loop turn and writes them in one call: a line
 * per request would otherwise cost a write(2) per request. Lines are flushed on the next turn,
 * past 64 KiB, and by `flush()` (called before the process exits).
 */
export class LineBufferTransport extends TransportStream {
  private chunks: string[] = [];
  private size = 0;
  private scheduled = false;
  private readonly out: NodeJS.WritableStream;

  constructor(options: { out?: NodeJS.WritableStream; level?: string } = {}) {
    super({ level: options.level });
    this.out = options.out ?? process.stdout;
  }

  override log(info: unknown, next: () => void): void {
    const line = `${(info as Record<symbol, string>)[MESSAGE]}\n`;
    this.chunks.push(line);
    this.size += line.length;
    if (this.size >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    next();
  }

  /** Writes every gathered line now. */
  flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const text = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    this.out.write(text);
  }
}

/**
 * A winston logger writing a line per entry to stdout, JSON unless `format` is `pretty`;
 * components take `logger.child({ component })`.
 */
export function createLogger(
  options: { level?: LogLevel; format?: LogFormat; silent?: boolean; out?: NodeJS.WritableStream } = {},
): winston.Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format: options.format === 'pretty' ? prettyLine() : jsonLine(),
    transports: [new LineBufferTransport({ out: options.out })],
  });
}

/** Writes out whatever the logger's buffering transports hold; call before exiting. */
export function flushLogs(logger: winston.Logger): void {
  for (const t of logger.transports) if (t instanceof LineBufferTransport) t.flush();
}

/** A logger that writes nothing; the default when Alarm Center is embedded without one. */
export function createSilentLogger(): winston.Logger {
  return createLogger({ silent: true });
}
