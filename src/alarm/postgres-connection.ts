/**
 * What every PostgreSQL connection of the store shares: its settings, the URL as it may be shown
 * (without its password), and backend failures turned into StoreErrors that never carry it.
 */
import util from 'node:util';
import pg from 'pg';
import { StoreConflict, StoreError } from './store.js';

/** How a connection is made; one per store, handed to its pool and its dedicated clients. */
export interface ConnectionSettings {
  url: string;
  /** `application_name` of the store's connections, as pg_stat_activity shows them. */
  applicationName: string;
  /** Most milliseconds to wait for a connection to be made. */
  connectTimeoutMs: number;
}

/** bigint columns (revisions, times, counts) as numbers: every value the store keeps is below 2^53. */
const INT8_OID = 20;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The pg settings of a connection named `application_name` (the store's name, or a suffix of it). */
export function clientConfig(settings: ConnectionSettings, role?: string): pg.ClientConfig {
  return {
    connectionString: settings.url,
    application_name: role === undefined ? settings.applicationName : `${settings.applicationName}:${role}`,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    types,
  };
}

const HIDDEN = '***';

/** The URL with its password replaced by `***`, fit for messages and logs; a text that is no URL loses whatever looks like one. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = HIDDEN;
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', HIDDEN);
    return parsed.toString();
  } catch {
    // Not a URL (a socket path, key=value settings): hide whatever looks like a password.
    return url.replace(/(\/\/[^/:@]*:)[^@]*@/, `$1${HIDDEN}@`).replace(/(password\s*=\s*)('[^']*'|\S+)/gi, `$1${HIDDEN}`);
  }
}

/** Hides the URL's password in any text: the URL itself and its password, as written or decoded. */
export function redactor(url: string): (text: string) => string {
  const secrets = new Set<string>();
  const add = (s: string | null | undefined) => {
    if (s) secrets.add(s);
  };
  try {
    const parsed = new URL(url);
    add(parsed.password);
    add(safeDecode(parsed.password));
    add(parsed.searchParams.get('password'));
  } catch {
    add(/\/\/[^/:@]*:([^@]*)@/.exec(url)?.[1]);
    add(/password\s*=\s*('[^']*'|\S+)/i.exec(url)?.[1]);
  }
  const shown = redactUrl(url);
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.split(url).join(shown);
    for (const s of longestFirst) out = out.split(s).join(HIDDEN);
    return out;
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The backend's own words for a failure: the message, or for a connection attempt to several
 * addresses (Node tries each address of a name) those of each attempt.
 */
function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') {
    return err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** pg's client-side failures, which carry no code of their own. */
const CLIENT_FAILURES: [RegExp, string][] = [
  [/^Connection terminated/i, 'CONNECTION_LOST'],
  [/timeout exceeded when trying to connect/i, 'CONNECT_TIMEOUT'],
  [/^Client has encountered a connection error/i, 'CONNECTION_LOST'],
];

/** The SQLSTATE of a server error, the errno code of a system error, or a name for pg's own failures. */
function codeOf(err: unknown, message: string): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return CLIENT_FAILURES.find(([pattern]) => pattern.test(message))?.[1];
}

/**
 * A failure of the backend as a StoreError with its message and code (SQLSTATE, `ECONNREFUSED`, …),
 * prefixed by `context` when given. Nothing `redact` hides appears in it: not in the message, and
 * the cause is kept only when it shows none of it.
 */
export function storeErrorOf(err: unknown, redact: (text: string) => string, context?: string): StoreError {
  if (err instanceof StoreError) return err;
  const own = redact(messageOf(err));
  const message = context ? `${context}: ${own}` : own;
  const shown = util.inspect(err, { depth: 4 });
  const cause = redact(shown) === shown ? err : undefined;
  return new StoreError(message, { cause, backendCode: codeOf(err, own) });
}

/**
 * True when a failure may have left the connection in an unknown state (a timeout, a lost
 * socket): it is then discarded, not reused. An error the server answered, or one of the store's
 * own, leaves it usable.
 */
export function connectionBroken(err: unknown): boolean {
  return !(err instanceof pg.DatabaseError || err instanceof StoreError || err instanceof StoreConflict);
}
