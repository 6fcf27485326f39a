/**
 * Settings: the schema of the settings table (`settings.ts`), filled from defaults, then a config
 * file (`--config FILE`, JSON or YAML), then `ALARM_CENTER_*` environment variables, then
 * command-line flags; later sources win. A bad setting stops start-up with a message naming the
 * setting and where it came from. This is the only module that reads the environment.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { z } from 'zod';
import { parseTokenList } from './http/auth.js';
import { SETTINGS, SETTING_TABLE, SettingsSchema, defaultText, flagArg, type SettingRow } from './settings.js';

export { EMBEDDED_SETTING_KEYS, SETTINGS, type EmbeddedSettings } from './settings.js';

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

/** Whether an address to listen on only takes connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

/**
 * Every setting, with the safe default: listening beyond this machine without tokens would let
 * anyone who reaches the port change alarms, so it needs tokens or an explicit `insecure`.
 */
export const ConfigSchema = SettingsSchema.superRefine((c, ctx) => {
  if (c.store === 'postgres' && c.postgresUrl === undefined) {
    ctx.addIssue({ code: 'custom', path: ['postgresUrl'], message: 'is required with store postgres (--postgres-url or ALARM_CENTER_POSTGRES_URL)' });
  }
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

/** The environment variable of tokens, `role:TOKEN,…`; there is no flag: a command line is visible to every user. */
export const TOKENS_ENV = SETTING_TABLE.tokens.env;

/** The environment variable naming a config file, as `--config` does. */
export const CONFIG_ENV = 'ALARM_CENTER_CONFIG';

/** The line printed after a bad setting. */
export const HELP_HINT = 'Run alarm-center --help for the settings.';

/** A setting that failed validation; the message names it and its source. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** What the command line asked for: help, the version, or to run with `config`. */
export interface CliRequest {
  help: boolean;
  version: boolean;
  /** The settings; only the defaults when `help` or `version` is asked, which read nothing else. */
  config: Config;
  /** The config file read, or null when none was. */
  configFile: string | null;
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

const SECRET = new Set<string>(SETTINGS.filter((s) => s.kind === 'tokens' || s.secret).map((s) => s.key));

/** ` (got "…")` for a plain value of a setting that is no secret; nothing otherwise. */
function got(key: string, issue: z.core.$ZodIssue, input: Record<string, unknown>): string {
  const value = input[key];
  if (SECRET.has(key) || issue.path.length !== 1 || issue.code === 'custom') return '';
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return '';
  return ` (got ${JSON.stringify(value)})`;
}

/** A path into the settings as written: `alertmanagers[1].url`. */
function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Validates merged settings; `sources` says where each came from, for the error message. */
export function validateConfig(input: Record<string, unknown>, sources: Partial<Record<string, string>> = {}): Config {
  const r = ConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const from = sources[key] ? ` (from ${sources[key]})` : '';
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) return `unknown setting(s) ${issue.keys.join(', ')}${from}`;
    const message = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
    return `invalid setting ${pathText(issue.path)}${from}: ${message}${got(key, issue, input)}`;
  });
  throw new ConfigError(lines.join('; '));
}

type FlagOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

const FLAG_OPTIONS: FlagOptions = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  ...Object.fromEntries(
    // A list's flag may be repeated: its values join.
    SETTINGS.filter((s) => s.flag !== null).map((s) => [s.flag, { type: s.kind === 'switch' ? 'boolean' : 'string', multiple: s.kind === 'list' }]),
  ),
};

/** `--port -1` as `--port=-1`: after a flag that takes a value, a negative number is that value. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && FLAG_OPTIONS[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else out.push(arg);
  }
  return out;
}

/** parseArgs' complaint as one line: which flag, and what is wrong with it. */
function flagError(err: unknown): ConfigError {
  const { code, message } = err as { code?: string; message: string };
  const named = /'([^' ]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new ConfigError(`unknown flag ${named}`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new ConfigError(`unexpected argument ${JSON.stringify(named)}: settings are given as --flag VALUE`);
  if (/does not take an argument/.test(message)) return new ConfigError(`${named}: takes no value`);
  if (/argument missing/.test(message)) return new ConfigError(`${named}: needs a value`);
  if (/ambiguous/.test(message)) return new ConfigError(`${named}: needs a value; one starting with - is written ${named}=-…`);
  return new ConfigError(message.split('\n')[0] as string);
}

function parseFlags(argv: readonly string[]): Record<string, string | boolean | (string | boolean)[] | undefined> {
  try {
    return parseArgs({ args: joinNegativeValues(argv), options: FLAG_OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw flagError(err);
  }
}

/** The value a setting's text (from the environment or a flag) stands for. */
function fromText(s: SettingRow, text: string): unknown {
  return s.kind === 'list' ? splitList(text) : text;
}

/**
 * Builds the configuration from the command line and the environment; `terminal` says whether
 * stdout is a terminal, for the defaults that depend on it. Help and the version read nothing
 * else. Throws ConfigError on a bad flag, an unreadable config file or an invalid setting.
 */
export function loadConfig(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  terminal: boolean = process.stdout.isTTY === true,
): CliRequest {
  const values = parseFlags(argv);
  const help = values.help === true;
  const version = values.version === true;
  if (help || version) return { help, version, config: ConfigSchema.parse({}), configFile: null };
  const merged: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  if (terminal) for (const s of SETTINGS) if (s.onTerminal !== undefined) merged[s.key] = s.onTerminal;
  const configFile = (values.config as string | undefined) || env[CONFIG_ENV] || null;
  if (configFile) {
    for (const [k, v] of Object.entries(readConfigFile(configFile))) {
      merged[k] = v;
      sources[k] = `config file ${configFile}`;
    }
  }
  for (const s of SETTINGS) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      if (s.kind === 'tokens') {
        // Tokens from the environment join those of the config file, hashed before anything else sees them.
        merged[s.key] = [...((merged[s.key] as unknown[] | undefined) ?? []), ...tokensFrom(s, fromEnv)];
        sources[s.key] ??= s.env;
      } else {
        merged[s.key] = fromText(s, fromEnv);
        sources[s.key] = s.env;
      }
    }
    const fromFlag = s.flag === null ? undefined : values[s.flag];
    if (fromFlag === undefined) continue;
    merged[s.key] = Array.isArray(fromFlag) ? fromFlag.flatMap((text) => fromText(s, String(text))) : typeof fromFlag === 'string' ? fromText(s, fromFlag) : fromFlag;
    sources[s.key] = `--${s.flag}`;
  }
  return { help, version, config: validateConfig(merged, sources), configFile };
}

function tokensFrom(s: SettingRow, text: string): unknown[] {
  try {
    return parseTokenList(text);
  } catch (err) {
    throw new ConfigError(`invalid setting ${s.key} (from ${s.env}): ${(err as Error).message}`);
  }
}

/** `text` broken at spaces into lines of at most `width` characters (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** One option of `--help`: flag and value, environment variable, then what it means, indented below. */
function usageEntry(flag: string, env: string, doc: string): string[] {
  return [`  ${flag.padEnd(36)} ${env}`.trimEnd(), ...wrap(doc, 72).map((l) => `      ${l}`)];
}

/** The text of `alarm-center --help`, derived from the settings table. */
export function usage(): string {
  const settings = SETTINGS.map((s) => {
    const flag = s.flag === null ? (s.key === 'webhooks' || s.key === 'checks' ? '(config file only)' : '(environment only)') : `--${s.flag} ${flagArg(s)}`;
    return usageEntry(flag, s.env, `${s.doc}. Default: ${defaultText(s, (v) => v)}.`);
  });
  return [
    'Usage: alarm-center [options]',
    '',
    'Settings come from their defaults, then the config file, then the environment,',
    'then the flags; later ones win. Each below: flag, environment variable, meaning.',
    '',
    ...usageEntry('--config FILE, -c FILE', CONFIG_ENV, 'settings file, YAML or JSON, with the keys of the README.'),
    ...settings.flat(),
    ...usageEntry('--help, -h', '', 'print this text and exit.'),
    ...usageEntry('--version', '', 'print the version and exit.'),
  ].join('\n');
}
