/**
 * The notifications of a core, built from what the composition root has: the forwarding to
 * Alertmanagers and the durable webhooks. Sent by a thread of their own (notify-thread.ts) when
 * there is something to send, the store is a SQLite file and no clock is injected (a test's clock
 * does not reach a thread); else from this event loop. The metric families of both are
 * registered whenever there is a registry, so the set of families does not depend on the
 * configuration.
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { AlarmIndex } from '../alarm/alarm-index.js';
import type { AlarmChange } from '../alarm/model.js';
import { keepsWebhooks, type AlarmStore, type Lease } from '../alarm/store.js';
import { AlertmanagerForwarder, type ForwardingSettings } from './alertmanager-forwarder.js';
import { createForwardMetrics } from './metrics.js';
import { NotifyThread } from './notify-thread.js';
import type { WebhookConfig } from './webhook-config.js';
import { createWebhookMetrics, noopWebhookMetrics } from './webhook-metrics.js';
import { WebhookDispatcher, type Webhooks } from './webhooks.js';

/** What the server's settings give the webhooks: the configured ones, Alarm Center's URL and the thread's priority. */
export interface WebhookSettings {
  hooks: readonly WebhookConfig[];
  externalUrl(): string;
  /** The nice value of the thread that sends the notifications (notify-thread.ts). */
  nice?: number;
}

export interface NotificationsOptions {
  forwarding: ForwardingSettings | undefined;
  webhooks: WebhookSettings | undefined;
  store: AlarmStore;
  /** The SQLite database file of the store, when it is one. */
  file: string | undefined;
  index: AlarmIndex;
  lease: Lease | undefined;
  registry: Registry | undefined;
  logger: Logger;
  clock: (() => number) | undefined;
}

/** The notifications of a core. */
export interface Notifications {
  /** The webhooks' state and dead letters; absent on a store that keeps no webhook state. */
  readonly webhooks?: Webhooks;
  /** The forwarder, when it runs on this event loop. */
  readonly forwarder?: AlertmanagerForwarder;
  /** Committed changes made durable, in commit order. */
  changed(changes: readonly AlarmChange[]): void;
  /** Starts forwarding (once Alarm Center's URL is known); webhooks start at once. */
  start(): void;
  close(): Promise<void>;
}

/** Builds the notifications; throws when webhooks are configured on a store that cannot keep them. */
export function createNotifications(o: NotificationsOptions): Notifications {
  const hooks = o.webhooks?.hooks ?? [];
  const externalUrl = o.webhooks?.externalUrl ?? (() => '');
  const forwarding = o.forwarding && o.forwarding.alertmanagers.length > 0 ? o.forwarding : undefined;
  const store = o.store;
  const threadFailures =
    o.registry &&
    new Counter({
      name: 'alarm_center_notify_thread_failures_total',
      help: 'Times the thread that sends notifications (webhooks, Alertmanagers) ended unasked; it is started again after a backoff.',
      registers: [o.registry],
    });
  if (!keepsWebhooks(store)) {
    if (hooks.length > 0) throw new Error('webhooks: this store keeps no webhook cursors');
  } else if ((hooks.length > 0 || forwarding) && o.file !== undefined && o.clock === undefined) {
    const thread = new NotifyThread({
      hooks,
      ...(forwarding && { forwarding: { alertmanagers: forwarding.alertmanagers, resendSeconds: forwarding.resendSeconds } }),
      index: o.index,
      store,
      file: o.file,
      lease: o.lease,
      externalUrl,
      nice: o.webhooks?.nice ?? 0,
      registry: o.registry,
      ...(threadFailures && { threadFailures }),
      logger: o.logger,
    });
    return {
      webhooks: thread,
      changed: (changes) => thread.notify(changes[changes.length - 1]?.alarm.revision ?? 0),
      start: () => thread.start(),
      close: () => thread.close(),
    };
  }
  const forwarder = o.forwarding && new AlertmanagerForwarder({ ...o.forwarding, index: o.index, lease: o.lease, logger: o.logger.child({ component: 'notify' }), registry: o.registry, clock: o.clock });
  if (!forwarder && o.registry) createForwardMetrics(o.registry);
  const webhooks = keepsWebhooks(store)
    ? new WebhookDispatcher({
        hooks,
        store,
        lease: o.lease,
        revision: o.index.revision,
        externalUrl,
        metrics: o.registry ? createWebhookMetrics(o.registry) : noopWebhookMetrics,
        logger: o.logger.child({ component: 'webhook' }),
        clock: o.clock ?? Date.now,
      })
    : undefined;
  if (!webhooks && o.registry) createWebhookMetrics(o.registry);
  return {
    ...(webhooks && { webhooks }),
    ...(forwarder && { forwarder }),
    changed(changes) {
      forwarder?.changed(changes);
      webhooks?.notify(changes[changes.length - 1]?.alarm.revision ?? 0);
    },
    start: () => forwarder?.start(),
    async close() {
      forwarder?.close();
      await webhooks?.close();
    },
  };
}
