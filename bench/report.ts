/**
 * The results of a bench run: table rows, notes, and the raw figures behind them, printed as a
 * markdown table and written as JSON.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The verdict of a row: its target met or missed, or no verdict (skipped, informational, error). */
export type Verdict = 'pass' | 'FAIL' | 'skipped' | 'info' | 'error';

/** One line of the results table; `ratio` is always the Alarm Center figure ÷ the comparison figure. */
export interface Row {
  what: string;
  alarmCenter: string;
  comparison: string;
  ratio?: number;
  target: string;
  verdict: Verdict;
}

/** What one part of the bench contributes to the report. */
export interface Section {
  rows: Row[];
  notes: string[];
  figures: Record<string, unknown>;
}

/** The whole report, as written to JSON. */
export interface Report extends Section {
  startedAt: string;
  finishedAt?: string;
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
}

/** An empty section, filled by a part of the bench. */
export function newSection(): Section {
  return { rows: [], notes: [], figures: {} };
}

/** Appends a section's rows, notes and figures to the report. */
export function addSection(report: Report, section: Section): void {
  report.rows.push(...section.rows);
  report.notes.push(...section.notes);
  Object.assign(report.figures, section.figures);
}

/** A row that could not be measured, saying why. */
export function skippedRow(what: string, target: string, reason: string): Row {
  return { what, alarmCenter: `skipped: ${reason}`, comparison: '—', target, verdict: 'skipped' };
}

/** A row for a measurement that threw. */
export function errorRow(what: string, target: string, err: unknown): Row {
  const message = err instanceof Error ? err.message : String(err);
  return { what, alarmCenter: `error: ${message.split('\n')[0]}`, comparison: '—', target, verdict: 'error' };
}

/** `pass` or `FAIL` from a condition. */
export function verdict(ok: boolean): Verdict {
  return ok ? 'pass' : 'FAIL';
}

/** An integer with thousands separators. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A number with a fixed count of decimals and thousands separators. */
export function dec(n: number, decimals: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A byte count in the largest fitting binary unit. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${dec(value, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function ratioText(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${dec(ratio, ratio >= 10 ? 1 : 2)}×`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The rows as a markdown table, followed by the notes as a list. */
export function formatTable(rows: readonly Row[], notes: readonly string[]): string {
  const header = ['what', 'Alarm Center', 'comparison', 'ratio', 'target', 'result'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const cells = [r.what, r.alarmCenter, r.comparison, ratioText(r.ratio), r.target, r.verdict];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

/** Writes the report as JSON, creating the folder when needed. */
export function writeReport(file: string, report: Report): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
