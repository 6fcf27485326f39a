/**
 * Prometheus label sets: their names, their text form (an alarm's source), the severity they
 * carry, and Alertmanager's fingerprint of them.
 */
import crypto from 'node:crypto';
import { MAX_SOURCE_LENGTH, type Severity } from '../alarm/model.js';

/** A label set: label name → value. */
export type LabelSet = Record<string, string>;

/** Prometheus's label name syntax. */
export const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The label that names an alert; it becomes the alarm id. */
export const ALERTNAME = 'alertname';

/** A label value escaped as in Prometheus's text format: backslash, double quote, line feed. */
function escapeLabelValue(value: string): string {
  // Most values need nothing: three scans cost less than a replacement that calls back.
  if (!value.includes('\\') && !value.includes('"') && !value.includes('\n')) return value;
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** The label names of a set in byte order, as Prometheus sorts them. */
function sortedNames(labels: LabelSet): string[] {
  return Object.keys(labels).sort();
}

/** A label set in Prometheus's text form, sorted by name: `{instance="host:9100",job="node"}`, `{}` when empty. */
export function labelSetText(labels: LabelSet): string {
  return textOf(labels, undefined);
}

/** labelSetText of the labels but `except`. */
function textOf(labels: LabelSet, except: string | undefined): string {
  let text = '{';
  for (const name of sortedNames(labels)) {
    if (name === except) continue;
    if (text.length > 1) text += ',';
    text += `${name}="${escapeLabelValue(labels[name] as string)}"`;
  }
  return `${text}}`;
}

/**
 * The alarm source of an alert: its labels but `alertname` in text form, or, when that is longer
 * than MAX_SOURCE_LENGTH, `sha256:` and the 64 lowercase hex digits of the text's hash. One label
 * set gives one source; sets that differ in any label give different ones.
 */
export function alertSource(labels: LabelSet): string {
  const text = textOf(labels, ALERTNAME);
  if (text.length <= MAX_SOURCE_LENGTH) return text;
  return `sha256:${crypto.createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

const SEVERITY_BY_LABEL: Readonly<Record<string, Severity>> = {
  critical: 'critical',
  error: 'major',
  high: 'major',
  major: 'major',
  medium: 'minor',
  minor: 'minor',
  warning: 'warning',
  warn: 'warning',
  low: 'warning',
};

/** The alarm severity of a `severity` label value, case-insensitive; `indeterminate` when absent or unknown. */
export function severityOfLabel(value: string | undefined): Severity {
  if (value === undefined) return 'indeterminate';
  return Object.hasOwn(SEVERITY_BY_LABEL, value.toLowerCase()) ? (SEVERITY_BY_LABEL[value.toLowerCase()] as Severity) : 'indeterminate';
}

const TWO_32 = 4_294_967_296;
const SEPARATOR = 0xff;

/**
 * Alertmanager's fingerprint of a label set (Prometheus's `LabelSet.Fingerprint`): 64-bit FNV-1a
 * over each name, a 0xff byte, its value and a 0xff byte, in name order, as 16 lowercase hex
 * digits. The hash is kept as two 32-bit halves; multiplying by the FNV prime 2^40 + 0x1b3 is
 * `h * 0x1b3 + (h << 40)` modulo 2^64.
 */
export function labelFingerprint(labels: LabelSet): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const add = (byte: number) => {
    lo = (lo ^ byte) >>> 0;
    const low = lo * 0x1b3;
    hi = (hi * 0x1b3 + Math.floor(low / TWO_32) + ((lo << 8) >>> 0)) % TWO_32;
    lo = low % TWO_32;
  };
  // Its UTF-8 bytes: ASCII read as it is, the rest (from the first other character) encoded.
  const addText = (text: string) => {
    for (let i = 0; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        for (const byte of Buffer.from(text.slice(i), 'utf8')) add(byte);
        return;
      }
      add(c);
    }
  };
  for (const name of sortedNames(labels)) {
    addText(name);
    add(SEPARATOR);
    addText(labels[name] as string);
    add(SEPARATOR);
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
