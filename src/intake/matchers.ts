/**
 * Alertmanager's label matchers, as its tools send them in the `filter` query parameter of
 * GET /api/v2/alerts (`alertname="X"`, `job=~"node.*"`, `severity!=info`, `{instance!~"a|b"}`).
 *
 * Regular expressions are RE2's, as Prometheus's and Alertmanager's are (Go's regexp), and match
 * whole values, as they anchor them: RE2JS, so that a crafted filter cannot hold the event loop
 * (it matches in linear time, where JavaScript's engine backtracks for seconds on `.*.*.*x`).
 */
import { RE2JS } from 're2js';

/** Equal, not equal, matches the regex, does not match it. */
export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

/** One label matcher; `regex` is set for `=~` and `!~`. */
export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  readonly regex?: RE2JS;
}

/** Alertmanager's classic matcher syntax: name, operator, value (quoted or not), spaces around each. */
const MATCHER = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*?)\s*$/;

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A matcher's value unescaped as Alertmanager does: `\"`, `\\`, `\n`; other backslashes are literal. */
function unescapeValue(raw: string): Parsed<string> {
  const quoted = raw.startsWith('"');
  const chars = [...(quoted ? raw.slice(1) : raw)];
  let value = '';
  let closed = !quoted;
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i] as string;
    if (c === '\\' && i < chars.length - 1) {
      const next = chars[(i += 1)] as string;
      value += next === 'n' ? '\n' : next === '"' || next === '\\' ? next : `\\${next}`;
    } else if (c === '"') {
      if (closed || i < chars.length - 1) return { ok: false, error: `matcher value contains unescaped double quote: ${raw}` };
      closed = true;
    } else {
      value += c;
    }
  }
  return closed ? { ok: true, value } : { ok: false, error: `matcher value contains unescaped double quote: ${raw}` };
}

/** One matcher in Alertmanager's classic syntax. */
function parseMatcher(text: string): Parsed<Matcher> {
  const m = MATCHER.exec(text);
  if (!m) return { ok: false, error: `bad matcher format: ${text}` };
  const [, name, op, raw] = m as unknown as [string, string, MatchOp, string];
  const value = unescapeValue(raw);
  if (!value.ok) return value;
  if (op === '=' || op === '!=') return { ok: true, value: { name, op, value: value.value } };
  try {
    return { ok: true, value: { name, op, value: value.value, regex: RE2JS.compile(value.value) } };
  } catch (err) {
    return { ok: false, error: `invalid regular expression ${JSON.stringify(value.value)}: ${(err as Error).message}` };
  }
}

/** The comma-separated matchers inside braces, as Alertmanager splits them (commas inside quotes do not count). */
function splitBraced(inner: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let quoted = false;
  let escaped = false;
  for (const c of inner) {
    if (c === ',' && !quoted) {
      tokens.push(token);
      token = '';
      continue;
    }
    if (c === '"') {
      if (!escaped) quoted = !quoted;
      escaped = false;
    } else if (c === '\\') escaped = !escaped;
    else escaped = false;
    token += c;
  }
  if (token.trim() !== '') tokens.push(token.trim());
  return tokens;
}

/**
 * The matchers of the `filter` query parameter's values. A value is one matcher, or, wrapped in
 * braces, any number of comma-separated ones; all must match. The error names the value by its
 * position: `filter[1]: bad matcher format: …`.
 */
export function parseMatchers(filter: readonly string[]): { ok: true; matchers: Matcher[] } | { ok: false; error: string } {
  const matchers: Matcher[] = [];
  for (const [i, text] of filter.entries()) {
    const trimmed = text.trim();
    const parts = trimmed.startsWith('{') && trimmed.endsWith('}') ? splitBraced(trimmed.slice(1, -1)) : [text];
    for (const part of parts) {
      const parsed = parseMatcher(part);
      if (!parsed.ok) return { ok: false, error: `filter[${i}]: ${parsed.error}` };
      matchers.push(parsed.value);
    }
  }
  return { ok: true, matchers };
}

/** Whether a value satisfies one matcher. */
export function matchesValue(m: Matcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return (m.regex as RE2JS).matches(value);
    case '!~':
      return !(m.regex as RE2JS).matches(value);
  }
}

/** Whether a label set satisfies every matcher; a missing label has the empty value, as in Alertmanager. */
export function matches(labels: Readonly<Record<string, string>>, matchers: readonly Matcher[]): boolean {
  return matchers.every((m) => matchesValue(m, Object.hasOwn(labels, m.name) ? (labels[m.name] as string) : ''));
}
