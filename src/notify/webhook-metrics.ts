import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a delivery attempt ended: `success` (2xx), `retry` (to be tried again), `failed` (a dead letter). */
export type DeliveryOutcome = 'success' | 'retry' | 'failed';

/** What webhooks report; labelled by the webhook's name, never its URL or headers. */
export interface WebhookMetrics {
  attempted(webhook: string, outcome: DeliveryOutcome): void;
  /** An attempt that repeats an earlier one of the same change. */
  retried(webhook: string): void;
  /** A change delivered `seconds` after its commit. */
  delivered(webhook: string, seconds: number): void;
  lag(webhook: string, revisions: number): void;
  deadLetters(webhook: string, count: number): void;
  /** Changes retention removed before the webhook delivered them. */
  lost(webhook: string, count: number): void;
}

export const noopWebhookMetrics: WebhookMetrics = {
  attempted() {},
  retried() {},
  delivered() {},
  lag() {},
  deadLetters() {},
  lost() {},
};

/** The webhook metrics, registered whether or not webhooks are configured, so the set of families is fixed. */
export function createWebhookMetrics(registry: Registry, prefix = 'alarm_center_'): WebhookMetrics {
  const registers = [registry];
  const labelNames = ['webhook'] as const;
  const deliveries = new Counter({
    name: `${prefix}webhook_deliveries_total`,
    help: 'Webhook delivery attempts, by webhook and outcome: success (2xx), retry (tried again later), failed (given up: a dead letter).',
    labelNames: ['webhook', 'outcome'],
    registers,
  });
  const retries = new Counter({ name: `${prefix}webhook_retries_total`, help: 'Webhook attempts that repeat an earlier attempt of the same change.', labelNames, registers });
  const lag = new Gauge({ name: `${prefix}webhook_lag_revisions`, help: "Revisions between the store's last durable change and the webhook's cursor.", labelNames, registers });
  const dead = new Gauge({ name: `${prefix}webhook_dead_letters`, help: 'Changes a webhook gave up on, kept to be sent again.', labelNames, registers });
  const lost = new Counter({
    name: `${prefix}webhook_pruned_changes_total`,
    help: 'Changes retention removed from the history before the webhook delivered them.',
    labelNames,
    registers,
  });
  const delay = new Histogram({
    name: `${prefix}webhook_delivery_delay_seconds`,
    help: "Time from a change's commit to the webhook's 2xx for it.",
    labelNames,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600],
    registers,
  });
  return {
    attempted: (webhook, outcome) => deliveries.inc({ webhook, outcome }),
    retried: (webhook) => retries.inc({ webhook }),
    delivered: (webhook, seconds) => delay.observe({ webhook }, Math.max(0, seconds)),
    lag: (webhook, revisions) => lag.set({ webhook }, Math.max(0, revisions)),
    deadLetters: (webhook, count) => dead.set({ webhook }, count),
    lost: (webhook, count) => lost.inc({ webhook }, count),
  };
}
