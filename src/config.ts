/**
 * Settings: one zod schema, filled from defaults, then a config file (`--config FILE`, JSON or
 * YAML), then `ALARM_CENTER_*` environment variables, then command-line flags; later sources win.
 * A bad setting stops start-up with a message naming the setting and where it came from.
 * This is the only module that reads the environment.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { z } from 'zod';
import { ID_PATTERN, NAME_PATTERN } from './alarm/model.js';
import { ROLES, parseTokenList } from './http/auth.js';
import { LOG_LEVELS } from './logger.js';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A yes/no setting: a boolean in a config file, `true`/`false` (or 1/0) from the environment. */
const booleanish = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);

const scopePattern = z
  .string()
  .refine((v) => {
    const [domain, project, ...rest] = v.split('/');
    const part = (p: string | undefined) => p !== undefined && (p === '*' || NAME_PATTERN.test(p));
    return rest.length === 0 && part(domain) && part(project);
  }, 'must be domain/project, either part possibly *');

/** A token of the config file: only its SHA-256 digest is written there. */
const TokenSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must match [A-Za-z0-9._:-]{1,64}').optional(),
  role: z.enum(ROLES),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the hex SHA-256 of the token (64 hex digits)'),
  scopes: z.array(scopePattern).min(1).optional(),
});

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

/** Whether an address to listen on only takes connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

/**
 * Defaults of the limits over all domains, chosen so that a process with 1 GiB of memory survives
 * filling all of them at once, whatever domains, projects, ids, sources and acknowledgements
 * clients make up (measured by `BENCH_ONLY=limits npm run bench`): an idle watcher holds about
 * 10 KiB (20,000: ~190 MiB); an alarm 0.3–1 KiB, but up to ~4.7 KiB with the longest id, source
 * and acknowledgement texts in two-byte characters (50,000: ~235 MiB); a counted byte of fields
 * up to 2.1 bytes, when V8 keeps the text at two bytes a character (64 MiB: ~140 MiB). With ~85
 * MiB at idle that is ~650 MiB held at worst, leaving room for the garbage of the requests.
 */
const MAX_WATCHERS_DEFAULT = 20_000;
const MAX_ALARMS_DEFAULT = 50_000;
const MAX_FIELDS_BYTES_DEFAULT = 64 * 1024 * 1024;

const SettingsSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: intFrom(0, 65535).default(30100),
  dataDir: z.string().min(1).default('./data'),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  durability: z.enum(['full', 'process']).default('full'),
  queueSize: intFrom(1, 1_000_000).default(10_000),
  maxBatch: intFrom(1, 100_000).default(1024),
  unhealthyAlarmIds: z
    .array(z.string().regex(ID_PATTERN, 'must be alarm ids matching [A-Za-z0-9._:-]{1,128}'))
    .min(1)
    .default(['BackendConnectionRefuse']),
  bodyLimitBytes: intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
  shutdownTimeoutMs: intFrom(0, 600_000).default(10_000),
  watchQueueSize: intFrom(1, 1_000_000).default(5000),
  watchHeartbeatMs: intFrom(10, 3_600_000).default(30_000),
  watchSendTimeoutMs: intFrom(10, 600_000).default(5000),
  tokens: z.array(TokenSpecSchema).default([]),
  insecure: booleanish.default(false),
  probesOpen: booleanish.default(true),
  writeRateLimit: intFrom(0, 10_000_000).default(10_000),
  maxWatchersPerDomain: intFrom(0, 10_000_000).default(20_000),
  maxAlarmsPerScope: intFrom(0, 100_000_000).default(1_000_000),
  maxWatchers: intFrom(0, 10_000_000).default(MAX_WATCHERS_DEFAULT),
  maxAlarms: intFrom(0, 100_000_000).default(MAX_ALARMS_DEFAULT),
  maxFieldsBytes: intFrom(0, 64 * 1024 * 1024 * 1024).default(MAX_FIELDS_BYTES_DEFAULT),
  headerLimitBytes: intFrom(1024, 1024 * 1024).default(16 * 1024),
  requestTimeoutMs: intFrom(100, 600_000).default(15_000),
  historyRetentionDays: intFrom(0, 36_500).default(30),
  historyMaxEntries: intFrom(0, 1_000_000_000).default(0),
  clearedRetentionSeconds: intFrom(0, 3_153_600_000).default(0),
});

/**
 * Every setting, with the safe default: listening beyond this machine without tokens would let
 * anyone who reaches the port change alarms, so it needs tokens or an explicit `insecure`.
 */
export const ConfigSchema = SettingsSchema.superRefine((c, ctx) => {
  if (isLoopback(c.host) || c.tokens.length > 0 || c.insecure) return;
  ctx.addIssue({
    code: 'custom',
    path: ['host'],
    message:
      `${c.host} is not a loopback address and no tokens are configured, so anyone who can reach the port ` +
      'could change alarms. Configure tokens (tokens in the config file, or ALARM_CENTER_TOKENS=role:TOKEN,…), ' +
      'or pass --insecure to run without authentication',
  });
});

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
type Key = keyof Config;

/** Every setting with its environment variable and flag, for docs and the parser. */
export const SETTINGS: { key: Key; env: string; flag: string; doc: string; kind?: 'list' | 'boolean' }[] = [
  { key: 'host', env: 'ALARM_CENTER_HOST', flag: 'host', doc: 'address to listen on' },
  { key: 'port', env: 'ALARM_CENTER_PORT', flag: 'port', doc: 'TCP port; 0 picks a free one' },
  { key: 'dataDir', env: 'ALARM_CENTER_DATA_DIR', flag: 'data-dir', doc: 'folder of the SQLite database' },
  { key: 'logLevel', env: 'ALARM_CENTER_LOG_LEVEL', flag: 'log-level', doc: 'error, warn, info or debug' },
  { key: 'durability', env: 'ALARM_CENTER_DURABILITY', flag: 'durability', doc: 'full (power cut) or process (crash)' },
  { key: 'queueSize', env: 'ALARM_CENTER_QUEUE_SIZE', flag: 'queue-size', doc: 'most writes waiting; past it 429001' },
  { key: 'maxBatch', env: 'ALARM_CENTER_MAX_BATCH', flag: 'max-batch', doc: 'most writes per transaction' },
  {
    key: 'unhealthyAlarmIds',
    env: 'ALARM_CENTER_UNHEALTHY_ALARM_IDS',
    flag: 'unhealthy-alarm-ids',
    doc: 'comma-separated alarm ids that make the cluster unhealthy',
    kind: 'list',
  },
  { key: 'bodyLimitBytes', env: 'ALARM_CENTER_BODY_LIMIT_BYTES', flag: 'body-limit-bytes', doc: 'largest request body' },
  {
    key: 'shutdownTimeoutMs',
    env: 'ALARM_CENTER_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    doc: 'how long shutdown waits for requests in flight',
  },
  {
    key: 'watchQueueSize',
    env: 'ALARM_CENTER_WATCH_QUEUE_SIZE',
    flag: 'watch-queue-size',
    doc: 'most messages waiting per watcher; past it RESYNC',
  },
  {
    key: 'watchHeartbeatMs',
    env: 'ALARM_CENTER_WATCH_HEARTBEAT_MS',
    flag: 'watch-heartbeat-ms',
    doc: 'ping (WebSocket) or comment (SSE) interval of watchers',
  },
  {
    key: 'watchSendTimeoutMs',
    env: 'ALARM_CENTER_WATCH_SEND_TIMEOUT_MS',
    flag: 'watch-send-timeout-ms',
    doc: 'a watcher whose writes stall this long is closed',
  },
  {
    key: 'insecure',
    env: 'ALARM_CENTER_INSECURE',
    flag: 'insecure',
    doc: 'allow a non-loopback host without tokens',
    kind: 'boolean',
  },
  { key: 'probesOpen', env: 'ALARM_CENTER_PROBES_OPEN', flag: 'probes-open', doc: 'probes and /metrics need no token (true/false)' },
  { key: 'writeRateLimit', env: 'ALARM_CENTER_WRITE_RATE_LIMIT', flag: 'write-rate-limit', doc: 'writes per second per token or address; 0 is off' },
  {
    key: 'maxWatchersPerDomain',
    env: 'ALARM_CENTER_MAX_WATCHERS_PER_DOMAIN',
    flag: 'max-watchers-per-domain',
    doc: 'open watchers per domain; 0 is no limit',
  },
  {
    key: 'maxAlarmsPerScope',
    env: 'ALARM_CENTER_MAX_ALARMS_PER_SCOPE',
    flag: 'max-alarms-per-scope',
    doc: 'alarms per domain/project; 0 is no limit',
  },
  {
    key: 'maxWatchers',
    env: 'ALARM_CENTER_MAX_WATCHERS',
    flag: 'max-watchers',
    doc: 'open watchers in all domains; 0 is no limit',
  },
  {
    key: 'maxAlarms',
    env: 'ALARM_CENTER_MAX_ALARMS',
    flag: 'max-alarms',
    doc: 'alarms held in all domains and projects; 0 is no limit',
  },
  {
    key: 'maxFieldsBytes',
    env: 'ALARM_CENTER_MAX_FIELDS_BYTES',
    flag: 'max-fields-bytes',
    doc: 'bytes of alarm fields held in all; 0 is no limit',
  },
  { key: 'headerLimitBytes', env: 'ALARM_CENTER_HEADER_LIMIT_BYTES', flag: 'header-limit-bytes', doc: 'largest request head' },
  {
    key: 'requestTimeoutMs',
    env: 'ALARM_CENTER_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    doc: 'a request whose head and body take longer is answered 408001 and closed',
  },
  {
    key: 'historyRetentionDays',
    env: 'ALARM_CENTER_HISTORY_RETENTION_DAYS',
    flag: 'history-retention-days',
    doc: 'history older than this is pruned; 0 keeps it',
  },
  {
    key: 'historyMaxEntries',
    env: 'ALARM_CENTER_HISTORY_MAX_ENTRIES',
    flag: 'history-max-entries',
    doc: 'most history entries kept; 0 is no limit',
  },
  {
    key: 'clearedRetentionSeconds',
    env: 'ALARM_CENTER_CLEARED_RETENTION_SECONDS',
    flag: 'cleared-retention-seconds',
    doc: 'CLEARED alarms leave the list after this; 0 keeps them',
  },
];

/** The environment variable of tokens, `role:TOKEN,…`; there is no flag: a command line is visible to every user. */
export const TOKENS_ENV = 'ALARM_CENTER_TOKENS';

/** A setting that failed validation; the message names it and its source. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** What the command line asked for besides settings. */
export interface CliRequest {
  help: boolean;
  config: Config;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a mapping of settings`);
  }
  return parsed as Record<string, unknown>;
}

/** Validates merged settings; `sources` says where each came from, for the error message. */
export function validateConfig(input: Record<string, unknown>, sources: Partial<Record<string, string>> = {}): Config {
  const r = ConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const from = sources[key] ? ` (from ${sources[key]})` : '';
    if (issue.code === 'unrecognized_keys') return `unknown setting(s) ${issue.keys.join(', ')}${from}`;
    return `invalid setting ${issue.path.join('.')}${from}: ${issue.message}`;
  });
  throw new ConfigError(lines.join('; '));
}

/**
 * Builds the configuration from the command line and the environment.
 * Throws ConfigError on an unknown flag, an unreadable config file or an invalid setting.
 */
export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): CliRequest {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of SETTINGS) options[s.flag] = { type: s.kind === 'boolean' ? 'boolean' : 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const merged: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const configFile = (values.config as string | undefined) ?? env.ALARM_CENTER_CONFIG;
  if (configFile) {
    for (const [k, v] of Object.entries(readConfigFile(configFile))) {
      merged[k] = v;
      sources[k] = `config file ${configFile}`;
    }
  }
  const fromTokensEnv = env[TOKENS_ENV];
  if (fromTokensEnv !== undefined && fromTokensEnv !== '') {
    try {
      // Tokens from the environment join those of the config file, hashed before anything else sees them.
      merged.tokens = [...((merged.tokens as unknown[] | undefined) ?? []), ...parseTokenList(fromTokensEnv)];
    } catch (err) {
      throw new ConfigError(`invalid setting tokens (from ${TOKENS_ENV}): ${(err as Error).message}`);
    }
  }
  for (const s of SETTINGS) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      merged[s.key] = s.kind === 'list' ? splitList(fromEnv) : fromEnv;
      sources[s.key] = s.env;
    }
    const fromFlag = values[s.flag];
    if (typeof fromFlag === 'string') {
      merged[s.key] = s.kind === 'list' ? splitList(fromFlag) : fromFlag;
      sources[s.key] = `--${s.flag}`;
    } else if (fromFlag === true) {
      merged[s.key] = true;
      sources[s.key] = `--${s.flag}`;
    }
  }
  return { help: values.help === true, config: validateConfig(merged, sources) };
}

/** The text of `alarm-center --help`. */
export function usage(): string {
  const rows = SETTINGS.map((s) => `  --${s.flag.padEnd(22)} ${s.env.padEnd(34)} ${s.doc}`);
  return [
    'Usage: alarm-center [options]',
    '',
    'Options (flag, environment variable, meaning):',
    `  --${'config FILE'.padEnd(22)} ${'ALARM_CENTER_CONFIG'.padEnd(34)} settings file (YAML or JSON, keys as in the README)`,
    ...rows,
    `  --${'help'.padEnd(22)} ${''.padEnd(34)} print this text`,
  ].join('\n');
}
