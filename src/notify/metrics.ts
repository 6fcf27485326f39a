import { Counter, Gauge, type Registry } from 'prom-client';

/** What forwarding to Alertmanagers reports, each by the Alertmanager's name (its URL without credentials). */
export interface ForwardMetrics {
  /** An Alertmanager took `n` alerts. */
  sent(alertmanager: string, n: number, at: number): void;
  /** A request to an Alertmanager failed (no answer, a timeout, or not 2xx). */
  failed(alertmanager: string): void;
  /** `n` alerts were let go of unsent: a full queue, an alert the Alertmanager refused, or a shutdown. */
  dropped(alertmanager: string, n: number): void;
  /** Reads the queue lengths at scrape time. */
  queueLengths(read: () => Iterable<[alertmanager: string, length: number]>): void;
  /** Durable revisions the forwarding has not read yet (the notifications thread reads the history). */
  backlog(revisions: number): void;
}

export const noopForwardMetrics: ForwardMetrics = { sent() {}, failed() {}, dropped() {}, queueLengths() {}, backlog() {} };

/**
 * Forwarding metrics, as Prometheus's notifier has them: alerts sent, failed requests, alerts
 * dropped, the queue length, and the time of the last success per Alertmanager.
 */
export function createForwardMetrics(registry: Registry, prefix = 'alarm_center_'): ForwardMetrics {
  const registers = [registry];
  const labelNames = ['alertmanager'] as const;
  const sent = new Counter({ name: `${prefix}alertmanager_alerts_sent_total`, help: 'Alerts an Alertmanager took, by Alertmanager.', labelNames, registers });
  const failed = new Counter({
    name: `${prefix}alertmanager_requests_failed_total`,
    help: 'Requests to an Alertmanager that failed (no answer, a timeout, or a status other than 2xx), by Alertmanager.',
    labelNames,
    registers,
  });
  const dropped = new Counter({
    name: `${prefix}alertmanager_alerts_dropped_total`,
    help: 'Alerts let go of unsent (a full queue, alerts an Alertmanager refused with 4xx, a shutdown); the next resend restores the active ones.',
    labelNames,
    registers,
  });
  const success = new Gauge({
    name: `${prefix}alertmanager_last_success_timestamp_seconds`,
    help: 'When an Alertmanager last took alerts (seconds since the epoch), by Alertmanager.',
    labelNames,
    registers,
  });
  const backlog = new Gauge({
    name: `${prefix}alertmanager_backlog_revisions`,
    help: 'Durable revisions not read yet for forwarding: the notifications thread reads the history no faster than the Alertmanagers take alerts.',
    registers,
  });
  let readLengths: () => Iterable<[string, number]> = () => [];
  new Gauge({
    name: `${prefix}alertmanager_queue_length`,
    help: 'Alerts waiting to be sent to an Alertmanager, by Alertmanager.',
    labelNames,
    registers,
    collect() {
      for (const [alertmanager, length] of readLengths()) this.set({ alertmanager }, length);
    },
  });
  return {
    sent(alertmanager, n, at) {
      sent.inc({ alertmanager }, n);
      success.set({ alertmanager }, at / 1000);
    },
    failed(alertmanager) {
      failed.inc({ alertmanager });
    },
    dropped(alertmanager, n) {
      dropped.inc({ alertmanager }, n);
    },
    backlog(revisions) {
      backlog.set(Math.max(0, revisions));
    },
    queueLengths(read) {
      readLengths = read;
      // Every Alertmanager has its series from the start, at 0.
      for (const [alertmanager] of read()) {
        sent.inc({ alertmanager }, 0);
        failed.inc({ alertmanager }, 0);
        dropped.inc({ alertmanager }, 0);
      }
    },
  };
}
