/**
 * Intake: alerts sent in other systems' formats (Alertmanager's API v2 and webhook, PagerDuty's
 * Events API v2) turned into alarm operations, and alarms turned back into Alertmanager's answers
 * for its tools (amtool, dashboards).
 *
 * Design note.
 * - Pure: no I/O, no clock (the time is passed in as `now`, clock milliseconds), no HTTP. The
 *   routes that accept these bodies and apply the operations live in the web layer.
 * - Identity: an Alertmanager alert is the alarm `id` = its `alertname`, `source` = its other
 *   labels in Prometheus's text form (labels.ts), so one label set is one alarm. A PagerDuty
 *   event is the alarm `source` = its `dedup_key` (pagerduty.ts says which id).
 * - Errors: each names what is wrong by its path in the body (`alerts[3].labels.alertname: …`);
 *   a batch gives the operations of its valid alerts and the errors of the others, and what to
 *   answer for a partial success is the caller's choice.
 * - Limits: the model's (MAX_BATCH, ID_PATTERN, MAX_SOURCE_LENGTH, MAX_FIELDS_BYTES,
 *   MAX_TTL_SECONDS) apply as to any raise.
 */
import type { AlarmFields, Severity } from '../alarm/model.js';

/**
 * One operation derived from an intake body; the same shape as the matching `AlarmOp` kinds, so
 * it is assignable to them once they exist.
 */
export type IntakeOp =
  | {
      kind: 'raise';
      id: string;
      source: string;
      severity: Severity;
      fields: AlarmFields;
      /** `fields` as the JSON text stored, serialized once (its size was checked on it). */
      fieldsJson?: string;
      /** Absolute expiry, clock milliseconds; absent: the alarm never clears by itself. */
      expiresAt?: number;
      /**
       * Set for Alertmanager alerts, which their sender repeats while they fire: a re-send that
       * changes nothing but the expiry only moves the expiry (no count, no history). Absent, a
       * raise of an active alarm is an ordinary re-raise (count + 1).
       */
      resend?: true;
    }
  | { kind: 'clear'; id: string; source: string; mustExist: false }
  | { kind: 'ack'; id: string; source: string; by: string; comment: string };

/** What a batch body gave: the operations of its valid alerts, in body order, and one error per invalid alert. */
export interface IntakeBatch {
  ops: IntakeOp[];
  errors: string[];
}
