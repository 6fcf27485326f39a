import { Counter, Gauge, Summary, type Registry } from 'prom-client';
import type { BusEvent } from './event.js';

/** What the bus reports; the no-op default keeps the bus free of any metrics library. */
export interface BusMetrics {
  queued(event: BusEvent, depth: number): void;
  dispatched(event: BusEvent, depth: number): void;
  handled(event: BusEvent, ok: boolean): void;
  dropped(event: BusEvent): void;
  noSubscriber(event: BusEvent): void;
  /**
   * Subscribers of a domain and scheme attached (delta > 0) or removed (delta < 0). A domain is
   * any `x-domain-name` a client sends, so its series exists only while it has subscribers.
   */
  subscribers(domain: string, scheme: string, delta: number): void;
  /**
   * Messages a subscriber holds in its own queue (a watcher, by scheme as `source`): taken in
   * (delta > 0) or let go of (delta < 0), as service-center's websocket reports pending events.
   */
  pending(source: string, delta: number): void;
  /** Messages a subscriber wrote out to its peer, by outcome. */
  published(source: string, ok: boolean, n: number): void;
}

export const noopBusMetrics: BusMetrics = {
  queued() {},
  dispatched() {},
  handled() {},
  dropped() {},
  noSubscriber() {},
  subscribers() {},
  pending() {},
  published() {},
};

const PERCENTILES = [0.5, 0.9, 0.99];

/**
 * Prometheus metrics of the bus, named as service-center names its event metrics
 * (`notify_*`), plus queue depth and loss counters by type.
 */
export function createBusMetrics(registry: Registry, prefix = 'alarm_center_'): BusMetrics {
  const registers = [registry];
  const publishTotal = new Counter({
    name: `${prefix}notify_publish_total`,
    help: 'Events handled by subscribers, by event type (source) and outcome (status); for a watcher scheme (Websocket, SSE), messages written to watchers.',
    labelNames: ['source', 'status'],
    registers,
  });
  const publishLatency = new Summary({
    name: `${prefix}notify_publish_durations_microseconds`,
    help: 'Time from firing an event to its handling by every subscriber, in microseconds.',
    labelNames: ['source', 'status'],
    percentiles: PERCENTILES,
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers,
  });
  const pending = new Gauge({
    name: `${prefix}notify_pending_total`,
    help: 'Events fired and not yet handled, by event type; for a watcher scheme (Websocket, SSE), messages queued for watchers and not yet written.',
    labelNames: ['source'],
    registers,
  });
  const pendingLatency = new Summary({
    name: `${prefix}notify_pending_durations_microseconds`,
    help: 'Time an event waited in its queue before dispatch, in microseconds.',
    labelNames: ['source'],
    percentiles: PERCENTILES,
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers,
  });
  const subscriberGauge = new Gauge({
    name: `${prefix}notify_subscriber_total`,
    help: 'Subscribers attached to the bus, by domain and scheme.',
    labelNames: ['domain', 'scheme'],
    registers,
  });
  const depth = new Gauge({
    name: `${prefix}bus_queue_depth`,
    help: 'Events waiting in the queue of each bus, by event type.',
    labelNames: ['type'],
    registers,
  });
  const droppedTotal = new Counter({
    name: `${prefix}bus_dropped_events_total`,
    help: 'Events discarded by a drop-oldest queue, by event type.',
    labelNames: ['type'],
    registers,
  });
  const failedTotal = new Counter({
    name: `${prefix}bus_failed_events_total`,
    help: 'Events on which at least one subscriber threw, by event type.',
    labelNames: ['type'],
    registers,
  });
  const noSubscriberTotal = new Counter({
    name: `${prefix}bus_no_subscriber_events_total`,
    help: 'Events whose subject had no subscriber, by event type.',
    labelNames: ['type'],
    registers,
  });
  // Subscribers per domain and scheme, so the series is removed when the last one goes: label
  // values stay bounded by the subscribers open, however many domains came and went.
  const attached = new Map<string, number>();
  const micros = (e: BusEvent) => (Date.now() - e.createdAt) * 1000;
  // The per-event metrics of one type, resolved once: a label lookup per event would cost more
  // than the observation itself on the hot ALARM path.
  const perType = new Map<string, ReturnType<typeof children>>();
  function children(type: string) {
    return {
      pending: pending.labels({ source: type }),
      success: publishTotal.labels({ source: type, status: 'SUCCESS' }),
      failure: publishTotal.labels({ source: type, status: 'FAILURE' }),
    };
  }
  /** Children only a bus type has (a watcher scheme has no queue depth or event latencies). */
  const perBus = new Map<string, ReturnType<typeof busChildren>>();
  function busChildren(type: string) {
    return {
      pendingLatency: pendingLatency.labels({ source: type }),
      depth: depth.labels({ type }),
      successLatency: publishLatency.labels({ source: type, status: 'SUCCESS' }),
      failureLatency: publishLatency.labels({ source: type, status: 'FAILURE' }),
    };
  }
  const ofBus = (type: string) => {
    let c = perBus.get(type);
    if (!c) {
      c = busChildren(type);
      perBus.set(type, c);
    }
    return c;
  };
  const of = (type: string) => {
    let c = perType.get(type);
    if (!c) {
      c = children(type);
      perType.set(type, c);
    }
    return c;
  };
  return {
    queued(event, d) {
      of(event.type).pending.inc();
      ofBus(event.type).depth.set(d);
    },
    dispatched(event, d) {
      const b = ofBus(event.type);
      b.pendingLatency.observe(micros(event));
      b.depth.set(d);
    },
    handled(event, ok) {
      const c = of(event.type);
      (ok ? c.success : c.failure).inc();
      const b = ofBus(event.type);
      (ok ? b.successLatency : b.failureLatency).observe(micros(event));
      c.pending.dec();
      if (!ok) failedTotal.inc({ type: event.type });
    },
    dropped(event) {
      droppedTotal.inc({ type: event.type });
      pending.dec({ source: event.type });
    },
    noSubscriber(event) {
      noSubscriberTotal.inc({ type: event.type });
      pending.dec({ source: event.type });
    },
    subscribers(domain, scheme, delta) {
      const key = `${domain}\u0000${scheme}`;
      const left = (attached.get(key) ?? 0) + delta;
      if (left > 0) {
        attached.set(key, left);
        subscriberGauge.inc({ domain, scheme }, delta);
        return;
      }
      attached.delete(key);
      subscriberGauge.remove({ domain, scheme });
    },
    pending(source, delta) {
      of(source).pending.inc(delta);
    },
    published(source, ok, n) {
      const c = of(source);
      (ok ? c.success : c.failure).inc(n);
    },
  };
}
