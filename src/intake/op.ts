/**
 * Intake: alerts sent in other systems' formats (Alertmanager's API v2 and webhook, PagerDuty's
 * Events API v2) turned into alarm operations, and alarms turned back into Alertmanager's answers
 * for its tools (amtool, dashboards).
 *
 * Design note.
 * - Pure: no I/O, no clock (the time is passed in as `now`, clock milliseconds), no HTTP. The
 *   routes that accept these bodies and apply the operations live in the web layer. One part
 *   runs elsewhere, not otherwise: parser-pool.ts runs the API v2 mapping on worker threads and
 *   hands the operations back in a flat form (wire.ts).
 * - Identity: an Alertmanager alert is the alarm `id` = its `alertname`, `source` = its other
 *   labels in Prometheus's text form (labels.ts), so one label set is one alarm. A PagerDuty
 *   event is the alarm `source` = its `dedup_key` (pagerduty.ts says which id).
 * - Errors: each names what is wrong by its path in the body (`alerts[3].labels.alertname: …`);
 *   a batch gives the operations of its valid alerts and the errors of the others, and what to
 *   answer for a partial success is the caller's choice.
 * - Limits: the model's (MAX_BATCH, ID_PATTERN, MAX_SOURCE_LENGTH, MAX_FIELDS_BYTES,
 *   MAX_TTL_SECONDS) apply as to any raise.
 */
import type { AlarmOp } from '../alarm/event.js';

/**
 * One operation derived from an intake body: a raise (Alertmanager's with its `expiresAt`, a
 * `resend` and the `fieldsJson` it checked; PagerDuty's without either), a clear, or an ack.
 */
export type IntakeOp = Extract<AlarmOp, { kind: 'raise' | 'clear' | 'ack' }>;

/** What a batch body gave: the operations of its valid alerts, in body order, and one error per invalid alert. */
export interface IntakeBatch {
  ops: IntakeOp[];
  errors: string[];
}
