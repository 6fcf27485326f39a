/**
 * Alertmanager's two ways of sending alerts: API v2's `postableAlerts` (what Prometheus and
 * `amtool alert add` POST to /api/v2/alerts) and the body of a `webhook_configs` receiver.
 */
import { MAX_BATCH } from '../alarm/model.js';
import { clearOf, isRecord, raiseOf, readAlert, type AlertmanagerAlert, type Read } from './alert.js';
import type { FieldsJsonCache } from './fields-cache.js';
import type { IntakeBatch, IntakeOp } from './op.js';

/** The webhook body version this reads; Alertmanager has sent "4" since 0.9. */
export const WEBHOOK_VERSION = '4';

/**
 * The field in which an alarm raised by an Alertmanager's webhook keeps that Alertmanager's
 * `externalURL` (empty when the body has none): the mark of an alarm that came from an
 * Alertmanager, which is never forwarded to one (src/notify), so alerts do not loop.
 */
export const ALERTMANAGER_ORIGIN_FIELD = 'externalURL';

/** The operations of the alerts read, and one error per alert that could not be. */
function collect(alerts: readonly unknown[], prefix: string, opOf: (alert: AlertmanagerAlert, raw: Record<string, unknown>, at: string) => Read<IntakeOp>): IntakeBatch {
  const batch: IntakeBatch = { ops: [], errors: [] };
  alerts.forEach((raw, i) => {
    const at = `${prefix}[${i}]`;
    const alert = readAlert(raw, at);
    const op = alert.ok ? opOf(alert.value, raw as Record<string, unknown>, at) : alert;
    if (op.ok) batch.ops.push(op.value);
    else batch.errors.push(op.error);
  });
  return batch;
}

/** A batch refused as a whole. */
const refused = (...errors: string[]): IntakeBatch => ({ ops: [], errors });

/**
 * The operations of an API v2 `postableAlerts` body. An alert whose `endsAt` is at or before
 * `now` clears its alarm; any other raises it until its `endsAt`, or for `resolveTimeoutMs` when
 * it has none (Alertmanager's `resolve_timeout`), and never beyond MAX_TTL_SECONDS. Invalid
 * alerts give errors named `alerts[i]…`; a body that is not an array of at most MAX_BATCH alerts
 * gives one error named `body` and no operation.
 */
export function parsePostableAlerts(body: unknown, now: number, resolveTimeoutMs: number, cache?: FieldsJsonCache): IntakeBatch {
  if (!Array.isArray(body)) return refused('body: must be a JSON array of alerts');
  if (body.length > MAX_BATCH) return refused(`body: must hold at most ${MAX_BATCH} alerts, got ${body.length}`);
  return collect(body, 'alerts', (alert, _raw, at) => {
    if (alert.endsAt && alert.endsAt.ms <= now) return { ok: true, value: clearOf(alert) };
    return raiseOf(alert, at, alert.endsAt?.ms ?? now + resolveTimeoutMs, now, {}, cache);
  });
}

/**
 * The operations of an Alertmanager webhook body (version "4"). A `resolved` alert clears its
 * alarm; a `firing` one raises it until its `endsAt` when that is later than `now` (never beyond
 * MAX_TTL_SECONDS), else with no expiry: Alertmanager sends firing alerts with a zero `endsAt`
 * and repeats them only every `repeat_interval` (4 hours by default), so an expiry would clear
 * alarms that still fire; it sends the resolved alert instead (`send_resolved`, on by default). Each alarm is the one the same alert posted to API v2 makes, with the alert's
 * `fingerprint` and the body's `externalURL` (ALERTMANAGER_ORIGIN_FIELD) added to its fields. Invalid alerts give errors named `body.alerts[i]…`; a body
 * of another version, or without an `alerts` array of at most MAX_BATCH, gives errors named
 * `body…` and no operation.
 */
export function parseAlertmanagerWebhook(body: unknown, now: number): IntakeBatch {
  if (!isRecord(body)) return refused('body: must be a JSON object');
  const errors: string[] = [];
  if (body.version !== WEBHOOK_VERSION) errors.push(`body.version: must be "${WEBHOOK_VERSION}"`);
  if (!Array.isArray(body.alerts)) errors.push('body.alerts: must be an array');
  else if (body.alerts.length > MAX_BATCH) errors.push(`body.alerts: must hold at most ${MAX_BATCH} alerts, got ${body.alerts.length}`);
  if (errors.length > 0) return refused(...errors);
  return collect(body.alerts as unknown[], 'body.alerts', (alert, raw, at) => {
    if (raw.status !== 'firing' && raw.status !== 'resolved') return { ok: false, error: `${at}.status: must be "firing" or "resolved"` };
    if (raw.fingerprint !== undefined && typeof raw.fingerprint !== 'string') return { ok: false, error: `${at}.fingerprint: must be a string` };
    if (raw.status === 'resolved') return { ok: true, value: clearOf(alert) };
    const endsAt = alert.endsAt && alert.endsAt.ms > now ? alert.endsAt.ms : undefined;
    const origin = { [ALERTMANAGER_ORIGIN_FIELD]: typeof body.externalURL === 'string' ? body.externalURL : '' };
    return raiseOf(alert, at, endsAt, now, raw.fingerprint ? { fingerprint: raw.fingerprint, ...origin } : origin);
  });
}
