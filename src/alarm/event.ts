import type { Alarm, AlarmFields, Scope, Severity } from './model.js';

/** The bus type, subject and group of alarm writes. */
export const ALARM = 'ALARM';
export const ALARM_SUBJECT = 'alarm';

/** One operation of a write. */
export type AlarmOp =
  | {
      kind: 'raise';
      id: string;
      source: string;
      severity?: Severity;
      /** The fields; may be left out when `fieldsJson` carries them. */
      fields?: AlarmFields;
      /** `fields` as JSON text, when the writer already serialized them: spares the planner doing it again. */
      fieldsJson?: string;
      ttlSeconds?: number;
      /** The expiry itself (clock milliseconds), for intakes that send one; wins over `ttlSeconds`. */
      expiresAt?: number;
      /**
       * A re-send, as Prometheus re-sends every firing alert: when the alarm is ACTIVATED with the
       * same severity and fields, only its expiry moves (an ExpiryExtension: no new revision, no
       * count, no history entry, no watcher woken); otherwise it is an ordinary raise.
       */
      resend?: boolean;
    }
  | { kind: 'clear'; id: string; source: string; fields?: AlarmFields; mustExist: boolean }
  | { kind: 'clearAll' }
  /** Acknowledges the current activation of an ACTIVATED alarm; with `ttlSeconds`, until then only. */
  | { kind: 'ack'; id: string; source: string; by: string; comment: string; ttlSeconds?: number }
  /**
   * Withdraws the acknowledgement. With `ackExpiresAt`, it is the expiry of the acknowledgement
   * with that deadline: nothing when the alarm has none with it any more (renewed, withdrawn,
   * cleared or gone), and never a refusal.
   */
  | { kind: 'unack'; id: string; source: string; ackExpiresAt?: number }
  /** Clears the alarm as EXPIRE when it is still ACTIVATED with this expiry (not raised since). */
  | { kind: 'expire'; id: string; source: string; expiresAt: number }
  /** Clears every ACTIVATED alarm of the scope matching all the given selectors. */
  | { kind: 'clearMatching'; selector: ClearSelector }
  /** Removes from the list the CLEARED alarms cleared before `before` (retention). */
  | { kind: 'purge'; before: number };

/** Which alarms a bulk clear takes; every given criterion must match. */
export interface ClearSelector {
  ids?: readonly string[];
  source?: string;
  severity?: Severity;
}

/** The operations of one write: applied to one scope atomically, all or none. */
export interface WriteRequest {
  readonly scope: Scope;
  readonly ops: readonly AlarmOp[];
}

/** A write's answer: the alarms it left, and the revision that includes it. */
export interface WriteResult {
  alarms: Alarm[];
  revision: number;
}

/** What the ALARM subscriber reports back for one write; `durable` settles once the answer may be given. */
export type WriteOutcome = ({ ok: true; durable: Promise<void> } & WriteResult) | { ok: false; error: Error };

/**
 * Payload of an ALARM event: a write, and where its outcome goes. The payload is never changed:
 * the ALARM subscriber calls `reply` once per write it handled, before the event counts as handled.
 */
export interface AlarmWrite extends WriteRequest {
  readonly reply: (outcome: WriteOutcome) => void;
  /**
   * Set on a request, without operations, to read first the changes other replicas committed
   * (a store several replicas share); its reply carries the revision reached.
   */
  readonly sync?: boolean;
}
