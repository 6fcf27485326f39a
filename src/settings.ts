/**
 * The settings table: every setting of Alarm Center declared once, with its schema and default,
 * its environment variable, its flag, a one-line doc, and whether `createAlarmCenter` takes it
 * too. The config schema, the parsing of the environment and the flags, `--help` and the
 * embedding options are derived from it; a test holds the README's configuration table to it.
 */
import os from 'node:os';
import { z } from 'zod';
import { ID_PATTERN, NAME_PATTERN } from './alarm/model.js';
import { ROLES } from './http/auth.js';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';
import { WebhooksSchema } from './notify/webhook-config.js';
import { AlertmanagersSchema } from './notify/alertmanager-config.js';
import { ChecksSchema } from './checks/check-config.js';

/**
 * How the text of an environment variable or flag becomes the value the schema checks: `text`
 * as is; `list` split at commas; `switch` a flag without a value (`true`/`false` from the
 * environment); `tokens` `role:TOKEN,…` from the environment only, hashed at once and added to
 * the config file's.
 */
export type SettingKind = 'text' | 'list' | 'switch' | 'tokens';

/** One row of the settings table. */
export interface Setting<S extends z.ZodType = z.ZodType, E extends boolean = boolean> {
  /** Checks the value and holds the default. */
  schema: S;
  env: `ALARM_CENTER_${string}`;
  /** The flag without its dashes, or null when the setting has none. */
  flag: string | null;
  /** One line, for `--help`. */
  doc: string;
  /** Whether `createAlarmCenter` takes the setting too, under the same key. */
  embed: E;
  /** `text` when absent. */
  kind?: SettingKind;
  /** What `--help` shows as the flag's value when the schema does not say it well. */
  arg?: string;
  /** How the default reads when it is not a plain value. */
  defaultText?: string;
  /** The default when stdout is a terminal, if it differs. */
  onTerminal?: z.input<S>;
  /** Never repeated in an error or a log line (it may hold a password). */
  secret?: boolean;
}

const setting = <S extends z.ZodType, const E extends boolean>(s: Setting<S, E>): Setting<S, E> => s;

/** A whole number in [min, max]; from text only when it is written as one (no `1e3`, no blank). */
const intFrom = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => (typeof v === 'string' ? (/^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : Number.NaN) : v),
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
};

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

/** Every setting, in the order `--help` and the README list them. */
export const SETTING_TABLE = {
  host: setting({
    schema: z.string().min(1).default('127.0.0.1'),
    env: 'ALARM_CENTER_HOST',
    flag: 'host',
    arg: 'ADDRESS',
    doc: 'address to listen on',
    embed: false,
  }),
  port: setting({
    schema: intFrom(0, 65535).default(30100),
    env: 'ALARM_CENTER_PORT',
    flag: 'port',
    doc: 'TCP port; 0 picks a free one',
    embed: false,
  }),
  dataDir: setting({
    schema: z.string().min(1).default('./data'),
    env: 'ALARM_CENTER_DATA_DIR',
    flag: 'data-dir',
    arg: 'DIR',
    doc: 'folder of the SQLite database',
    embed: true,
  }),
  store: setting({
    schema: z.enum(['sqlite', 'postgres']).default('sqlite'),
    env: 'ALARM_CENTER_STORE',
    flag: 'store',
    doc: 'sqlite: one process on a file in the data folder; postgres: replicas sharing one PostgreSQL database',
    embed: true,
  }),
  postgresUrl: setting({
    schema: z
      .string()
      .regex(/^(postgres|postgresql):\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    env: 'ALARM_CENTER_POSTGRES_URL',
    flag: 'postgres-url',
    arg: 'URL',
    doc: 'the PostgreSQL database of --store postgres (its password is never logged)',
    embed: true,
    defaultText: 'none',
    secret: true,
  }),
  logLevel: setting({
    schema: z.enum(LOG_LEVELS).default('info'),
    env: 'ALARM_CENTER_LOG_LEVEL',
    flag: 'log-level',
    doc: 'the least severe level logged',
    embed: false,
  }),
  logFormat: setting({
    schema: z.enum(LOG_FORMATS).default('json'),
    env: 'ALARM_CENTER_LOG_FORMAT',
    flag: 'log-format',
    doc: 'pretty: a readable line per entry; json: a JSON object per line',
    embed: false,
    onTerminal: 'pretty',
  }),
  durability: setting({
    schema: z.enum(['full', 'process']).default('full'),
    env: 'ALARM_CENTER_DURABILITY',
    flag: 'durability',
    doc: 'full: an answered write survives a power cut; process: a crash of the process',
    embed: true,
  }),
  queueSize: setting({
    schema: intFrom(1, 1_000_000).default(10_000),
    env: 'ALARM_CENTER_QUEUE_SIZE',
    flag: 'queue-size',
    doc: 'most writes waiting; past it 429001',
    embed: true,
  }),
  maxBatch: setting({
    schema: intFrom(1, 100_000).default(1024),
    env: 'ALARM_CENTER_MAX_BATCH',
    flag: 'max-batch',
    doc: 'most writes per transaction',
    embed: true,
  }),
  unhealthyAlarmIds: setting({
    schema: z
      .array(z.string().regex(ID_PATTERN, 'must be alarm ids matching [A-Za-z0-9._:-]{1,128}'))
      .min(1)
      .default(['BackendConnectionRefuse']),
    env: 'ALARM_CENTER_UNHEALTHY_ALARM_IDS',
    flag: 'unhealthy-alarm-ids',
    arg: 'ID,…',
    doc: 'comma-separated alarm ids that make the cluster unhealthy',
    embed: true,
    kind: 'list',
  }),
  watchdogAlerts: setting({
    schema: z.array(z.string().regex(ID_PATTERN, 'must be alert names matching [A-Za-z0-9._:-]{1,128}')).default(['Watchdog']),
    env: 'ALARM_CENTER_WATCHDOG_ALERTS',
    flag: 'watchdog-alerts',
    arg: 'NAME,…',
    doc: 'alerts expected to keep arriving; AlertingPipelineDown is raised when one expires',
    embed: true,
    kind: 'list',
  }),
  resolveTimeoutSeconds: setting({
    schema: intFrom(1, 366 * 24 * 3600).default(300),
    env: 'ALARM_CENTER_RESOLVE_TIMEOUT_SECONDS',
    flag: 'resolve-timeout-seconds',
    doc: "an alert sent without endsAt expires after this (Alertmanager's resolve_timeout)",
    embed: false,
  }),
  pagerdutyAlarmId: setting({
    schema: z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9._:-]{1,128}').default('PagerDutyEvent'),
    env: 'ALARM_CENTER_PAGERDUTY_ALARM_ID',
    flag: 'pagerduty-alarm-id',
    doc: "id of alarms from PagerDuty events whose payload.class is not an alarm id",
    embed: false,
  }),
  intakeThreads: setting({
    schema: intFrom(0, 16).default(() => Math.max(0, Math.min(2, os.availableParallelism() - 1))),
    env: 'ALARM_CENTER_INTAKE_THREADS',
    flag: 'intake-threads',
    doc: 'threads that read Alertmanager API bodies off the event loop; 0 reads them on it',
    defaultText: 'cores − 1, at most 2',
    embed: false,
  }),
  alertmanagers: setting({
    schema: AlertmanagersSchema.default([]),
    env: 'ALARM_CENTER_ALERTMANAGER_URLS',
    flag: 'alertmanager-url',
    arg: 'URL',
    doc: 'Alertmanager to forward active alarms to, as Prometheus does; repeat the flag or separate URLs with commas (config file: a list of URLs or {url, bearerToken, basicAuth})',
    embed: false,
    kind: 'list',
    defaultText: 'none',
    secret: true,
  }),
  alertmanagerResendSeconds: setting({
    schema: intFrom(1, 86_400).default(60),
    env: 'ALARM_CENTER_ALERTMANAGER_RESEND_SECONDS',
    flag: 'alertmanager-resend-seconds',
    doc: 'every active alarm is sent to the Alertmanagers again this often; a sent alert ends 4 times this later',
    embed: false,
  }),
  externalUrl: setting({
    schema: z
      .string()
      .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http:// or https:// URL without query or fragment')
      .optional(),
    env: 'ALARM_CENTER_EXTERNAL_URL',
    flag: 'external-url',
    arg: 'URL',
    doc: 'the URL people reach Alarm Center at (behind a proxy or load balancer), for the links of forwarded alerts',
    embed: false,
    defaultText: 'the listen URL',
  }),
  bodyLimitBytes: setting({
    schema: intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
    env: 'ALARM_CENTER_BODY_LIMIT_BYTES',
    flag: 'body-limit-bytes',
    doc: 'largest request body',
    embed: false,
  }),
  shutdownTimeoutMs: setting({
    schema: intFrom(0, 600_000).default(10_000),
    env: 'ALARM_CENTER_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    doc: 'how long shutdown waits for requests in flight',
    embed: false,
  }),
  watchQueueSize: setting({
    schema: intFrom(1, 1_000_000).default(5000),
    env: 'ALARM_CENTER_WATCH_QUEUE_SIZE',
    flag: 'watch-queue-size',
    doc: 'most messages waiting per watcher; past it RESYNC',
    embed: true,
  }),
  watchHeartbeatMs: setting({
    schema: intFrom(10, 3_600_000).default(30_000),
    env: 'ALARM_CENTER_WATCH_HEARTBEAT_MS',
    flag: 'watch-heartbeat-ms',
    doc: 'ping (WebSocket) or comment (SSE) interval of watchers',
    embed: true,
  }),
  watchSendTimeoutMs: setting({
    schema: intFrom(10, 600_000).default(5000),
    env: 'ALARM_CENTER_WATCH_SEND_TIMEOUT_MS',
    flag: 'watch-send-timeout-ms',
    doc: 'a watcher whose writes stall this long is closed',
    embed: true,
  }),
  tokens: setting({
    schema: z.array(TokenSpecSchema).default([]),
    env: 'ALARM_CENTER_TOKENS',
    flag: null,
    doc: 'bearer tokens, role:TOKEN,…; no flag, since a command line is visible to every user',
    embed: false,
    kind: 'tokens',
    defaultText: 'none, authentication off',
  }),
  insecure: setting({
    schema: booleanish.default(false),
    env: 'ALARM_CENTER_INSECURE',
    flag: 'insecure',
    doc: 'allow a non-loopback host without tokens',
    embed: false,
    kind: 'switch',
  }),
  probesOpen: setting({
    schema: booleanish.default(true),
    env: 'ALARM_CENTER_PROBES_OPEN',
    flag: 'probes-open',
    doc: 'cluster health, probes and /metrics need no token',
    embed: false,
  }),
  writeRateLimit: setting({
    schema: intFrom(0, 10_000_000).default(10_000),
    env: 'ALARM_CENTER_WRITE_RATE_LIMIT',
    flag: 'write-rate-limit',
    doc: 'writes per second per token or address; 0 is off',
    embed: false,
  }),
  maxWatchersPerDomain: setting({
    schema: intFrom(0, 10_000_000).default(20_000),
    env: 'ALARM_CENTER_MAX_WATCHERS_PER_DOMAIN',
    flag: 'max-watchers-per-domain',
    doc: 'open watchers per domain; 0 is no limit',
    embed: true,
  }),
  maxAlarmsPerScope: setting({
    schema: intFrom(0, 100_000_000).default(1_000_000),
    env: 'ALARM_CENTER_MAX_ALARMS_PER_SCOPE',
    flag: 'max-alarms-per-scope',
    doc: 'alarms per domain/project; 0 is no limit',
    embed: true,
  }),
  maxWatchers: setting({
    schema: intFrom(0, 10_000_000).default(MAX_WATCHERS_DEFAULT),
    env: 'ALARM_CENTER_MAX_WATCHERS',
    flag: 'max-watchers',
    doc: 'open watchers in all domains; 0 is no limit',
    embed: true,
  }),
  maxAlarms: setting({
    schema: intFrom(0, 100_000_000).default(MAX_ALARMS_DEFAULT),
    env: 'ALARM_CENTER_MAX_ALARMS',
    flag: 'max-alarms',
    doc: 'alarms held in all domains and projects; 0 is no limit',
    embed: true,
  }),
  maxFieldsBytes: setting({
    schema: intFrom(0, 64 * 1024 * 1024 * 1024).default(MAX_FIELDS_BYTES_DEFAULT),
    env: 'ALARM_CENTER_MAX_FIELDS_BYTES',
    flag: 'max-fields-bytes',
    doc: 'bytes of alarm fields held in all; 0 is no limit',
    embed: true,
  }),
  headerLimitBytes: setting({
    schema: intFrom(1024, 1024 * 1024).default(16 * 1024),
    env: 'ALARM_CENTER_HEADER_LIMIT_BYTES',
    flag: 'header-limit-bytes',
    doc: 'largest request head',
    embed: false,
  }),
  requestTimeoutMs: setting({
    schema: intFrom(100, 600_000).default(15_000),
    env: 'ALARM_CENTER_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    doc: 'a request whose head and body take longer is answered 408001 and closed',
    embed: false,
  }),
  historyRetentionDays: setting({
    schema: intFrom(0, 36_500).default(30),
    env: 'ALARM_CENTER_HISTORY_RETENTION_DAYS',
    flag: 'history-retention-days',
    doc: 'history older than this is pruned; 0 keeps it',
    embed: true,
  }),
  historyMaxEntries: setting({
    schema: intFrom(0, 1_000_000_000).default(0),
    env: 'ALARM_CENTER_HISTORY_MAX_ENTRIES',
    flag: 'history-max-entries',
    doc: 'most history entries kept; 0 is no limit',
    embed: true,
  }),
  clearedRetentionSeconds: setting({
    schema: intFrom(0, 3_153_600_000).default(0),
    env: 'ALARM_CENTER_CLEARED_RETENTION_SECONDS',
    flag: 'cleared-retention-seconds',
    doc: 'CLEARED alarms leave the list after this; 0 keeps them',
    embed: true,
  }),
  notifyNice: setting({
    schema: intFrom(0, 19).default(19),
    env: 'ALARM_CENTER_NOTIFY_NICE',
    flag: 'notify-nice',
    doc: 'scheduling priority (nice, 0–19) on Linux of the thread that sends webhooks and forwards to Alertmanagers: at 19 raises go first when the CPU runs out, and notifications catch up after',
    embed: false,
  }),
  webhooks: setting({
    schema: WebhooksSchema,
    env: 'ALARM_CENTER_WEBHOOKS',
    flag: null,
    doc: 'durable webhooks: one signed POST per alarm change, in revision order, at least once; in the config file only',
    embed: false,
    defaultText: 'none',
    secret: true,
  }),
  checks: setting({
    schema: ChecksSchema,
    env: 'ALARM_CENTER_CHECKS',
    flag: null,
    doc: 'active checks of backends (http: URL or tcp: host:port) raising and clearing BackendConnectionRefuse by themselves; in the config file only',
    embed: false,
    defaultText: 'none',
    secret: true,
  }),
};

type Table = typeof SETTING_TABLE;
export type SettingKey = keyof Table;

/** A row of the table with its key. */
export type SettingRow = Setting & { key: SettingKey };

/** The rows of the table, in its order. */
export const SETTINGS: readonly SettingRow[] = Object.entries(SETTING_TABLE).map(([key, s]) => ({ key: key as SettingKey, ...s }));

/** Every setting's schema, strict: a key the table lacks is an error. */
export const SettingsSchema = z.strictObject(
  Object.fromEntries(SETTINGS.map((s) => [s.key, s.schema])) as { [K in SettingKey]: Table[K]['schema'] },
);

/** Every setting's value, after defaults. */
export type SettingValues = z.output<typeof SettingsSchema>;

type EmbeddedKey = { [K in SettingKey]: Table[K]['embed'] extends true ? K : never }[SettingKey];

/** The settings `createAlarmCenter` takes as options, each optional. */
export type EmbeddedSettings = { [K in EmbeddedKey]?: SettingValues[K] };

/** The keys of `EmbeddedSettings`, at run time. */
export const EMBEDDED_SETTING_KEYS: readonly EmbeddedKey[] = SETTINGS.filter((s) => s.embed).map((s) => s.key as EmbeddedKey);

/** The embedded settings after defaults. */
export type EmbeddedValues = { [K in EmbeddedKey]: SettingValues[K] };

const EmbeddedSchema = SettingsSchema.pick(Object.fromEntries(EMBEDDED_SETTING_KEYS.map((k) => [k, true])) as { [K in EmbeddedKey]: true });

/**
 * `createAlarmCenter`'s settings from its options: each checked by the table's schema, the
 * table's default where an option is left out. Throws the zod error of a bad option.
 */
export function embeddedSettings(options: EmbeddedSettings): EmbeddedValues {
  const given: Record<string, unknown> = {};
  for (const key of EMBEDDED_SETTING_KEYS) if (options[key] !== undefined) given[key] = options[key];
  return EmbeddedSchema.parse(given) as EmbeddedValues;
}

function plainDefault(s: Setting): unknown {
  return s.schema.safeParse(undefined).data;
}

/** The default as the README and `--help` write it, in backquotes where it is a value. */
export function defaultText(s: Setting, quote = (v: string) => `\`${v}\``): string {
  if (s.defaultText !== undefined) return s.defaultText;
  const value = plainDefault(s);
  const text = quote(Array.isArray(value) ? value.join(',') : String(value));
  return s.onTerminal === undefined ? text : `${text}; ${quote(String(s.onTerminal))} when stdout is a terminal`;
}

/** What the flag takes, as `--help` shows it: nothing for a switch, the choices, N, or a name. */
export function flagArg(s: Setting): string {
  if (s.kind === 'switch') return '';
  if (s.arg !== undefined) return s.arg;
  const value = plainDefault(s);
  if (typeof value === 'number') return 'N';
  if (typeof value === 'boolean') return 'true|false';
  const inner = s.schema instanceof z.ZodDefault ? s.schema.unwrap() : s.schema;
  if (inner instanceof z.ZodEnum) return (inner.options as string[]).join('|');
  return 'TEXT';
}
