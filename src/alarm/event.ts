import type { Alarm, AlarmFields, Scope, Severity } from './model.js';

/** The bus type, subject and group of alarm writes. */
export const ALARM = 'ALARM';
export const ALARM_SUBJECT = 'alarm';

/** One operation of a write. */
export type AlarmOp =
  | { kind: 'raise'; id: string; source: string; severity?: Severity; fields: AlarmFields }
  | { kind: 'clear'; id: string; source: string; fields?: AlarmFields; mustExist: boolean }
  | { kind: 'clearAll' };

/** What the ALARM subscriber reports back for one write. */
export type WriteOutcome =
  | { ok: true; alarms: Alarm[]; revision: number; durable: Promise<void> }
  | { ok: false; error: Error };

/** Payload of an ALARM event: the operations of one write, applied atomically, and its outcome. */
export interface AlarmWrite {
  readonly scope: Scope;
  readonly ops: readonly AlarmOp[];
  /** Set by the ALARM subscriber before the event counts as handled. */
  outcome?: WriteOutcome;
}
