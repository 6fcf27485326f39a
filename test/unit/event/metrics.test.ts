import { expect } from 'chai';
import { Registry } from 'prom-client';
import { BusService } from '../../../src/event/bus-service.js';
import { createEvent } from '../../../src/event/event.js';
import { createBusMetrics } from '../../../src/event/metrics.js';
import { INNER } from '../../../src/event/subscriber-checker.js';
import type { Subscriber } from '../../../src/event/subscriber.js';
import { createSilentLogger } from '../../../src/logger.js';

/** The value of one sample of a metric, or undefined when the series does not exist. */
async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return expect.fail(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit?.value;
}

function subscriber(id: string, type: string, onMessage: () => void = () => {}): Subscriber {
  return { id, type, subject: 's', group: 'g', onMessage };
}

function newWorld() {
  const registry = new Registry();
  const service = new BusService({ logger: createSilentLogger(), metrics: createBusMetrics(registry) });
  return { registry, service };
}

describe('createBusMetrics', () => {
  it('counts handled events in notify_publish_total by source and status', async () => {
    const { registry, service } = newWorld();
    service.register('T', { queueSize: 100, overflow: 'reject' });
    service.addSubscriber(subscriber('ok', 'T'));
    service.start();

    await Promise.all([1, 2, 3].map((n) => service.fire(createEvent('T', 's', '', n))));

    expect(await sample(registry, 'alarm_center_notify_publish_total', { source: 'T', status: 'SUCCESS' })).to.equal(3);
    expect(await sample(registry, 'alarm_center_notify_publish_total', { source: 'T', status: 'FAILURE' })).to.equal(
      undefined,
    );
    expect(await sample(registry, 'alarm_center_notify_pending_total', { source: 'T' })).to.equal(0);
  });

  it('counts an event a subscriber failed on as FAILURE and in bus_failed_events_total', async () => {
    const { registry, service } = newWorld();
    service.register('T', { queueSize: 100, overflow: 'reject' });
    service.addSubscriber(
      subscriber('failing', 'T', () => {
        throw new Error('boom');
      }),
    );
    service.start();

    await service.fire(createEvent('T', 's', '', 1));
    await service.bus(INNER)?.idle();

    expect(await sample(registry, 'alarm_center_notify_publish_total', { source: 'T', status: 'FAILURE' })).to.equal(1);
    expect(await sample(registry, 'alarm_center_bus_failed_events_total', { type: 'T' })).to.equal(1);
    expect(await sample(registry, 'alarm_center_notify_subscriber_total', { domain: '', scheme: 'internal' })).to.equal(
      1,
      'only the INNER checker is left once the failing subscriber is evicted',
    );
  });

  it('counts events discarded by a drop-oldest queue in bus_dropped_events_total', async () => {
    const { registry, service } = newWorld();
    service.register('W', { queueSize: 2, overflow: 'drop-oldest' });
    service.addSubscriber(subscriber('watcher', 'W'));
    service.start();

    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => service.fire(createEvent('W', 's', '', n))));

    expect(results.filter((r) => r.status === 'dropped')).to.have.length(3);
    expect(await sample(registry, 'alarm_center_bus_dropped_events_total', { type: 'W' })).to.equal(3);
    expect(service.stats().find((s) => s.type === 'W')?.dropped).to.equal(3);
    expect(await sample(registry, 'alarm_center_notify_publish_total', { source: 'W', status: 'SUCCESS' })).to.equal(2);
    expect(await sample(registry, 'alarm_center_notify_pending_total', { source: 'W' })).to.equal(0);
  });

  it('counts events without a subscriber in bus_no_subscriber_events_total', async () => {
    const { registry, service } = newWorld();
    service.register('T', { queueSize: 100, overflow: 'reject' });
    service.start();

    await service.fire(createEvent('T', 'nobody', '', 1));

    expect(await sample(registry, 'alarm_center_bus_no_subscriber_events_total', { type: 'T' })).to.equal(1);
    expect(await sample(registry, 'alarm_center_notify_pending_total', { source: 'T' })).to.equal(0);
  });

  it('removes the subscriber series of a domain and scheme when its last subscriber goes', async () => {
    const { registry, service } = newWorld();
    service.register('W', { queueSize: 10, overflow: 'reject' });
    const watcher = (id: string, domain: string) => ({ ...subscriber(id, 'W'), domain, scheme: 'SSE' });
    const a = watcher('a', 'made-up-1');
    const b = watcher('b', 'made-up-1');
    const c = watcher('c', 'made-up-2');
    for (const w of [a, b, c]) service.addSubscriber(w);
    const series = () => registry.getSingleMetricAsString('alarm_center_notify_subscriber_total');
    expect(await series()).to.contain('{domain="made-up-1",scheme="SSE"} 2');

    service.removeSubscriber(a);
    expect(await series()).to.contain('{domain="made-up-1",scheme="SSE"} 1');
    service.removeSubscriber(b);
    service.removeSubscriber(c);

    const text = await series();
    expect(text).not.to.contain('made-up-1');
    expect(text).not.to.contain('made-up-2');
    expect(text).to.contain('{domain="",scheme="internal"} 1');
  });

  it('keeps two registries apart', async () => {
    const one = newWorld();
    const two = newWorld();
    for (const w of [one, two]) {
      w.service.register('T', { queueSize: 10, overflow: 'reject' });
      w.service.addSubscriber(subscriber('ok', 'T'));
      w.service.start();
    }

    await one.service.fire(createEvent('T', 's', '', 1));

    expect(await sample(one.registry, 'alarm_center_notify_publish_total', { source: 'T', status: 'SUCCESS' })).to.equal(1);
    expect(await sample(two.registry, 'alarm_center_notify_publish_total', { source: 'T', status: 'SUCCESS' })).to.equal(
      undefined,
    );
  });
});
