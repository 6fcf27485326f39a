import type { Logger } from 'winston';
import { Bus, type BusStats, type BusTypeOptions, type FireResult } from './bus.js';
import { BusError } from './bus-error.js';
import type { BusEvent } from './event.js';
import { noopBusMetrics, type BusMetrics } from './metrics.js';
import { INNER, SubscriberChecker, createUnhealthyEvent } from './subscriber-checker.js';
import type { Subscriber } from './subscriber.js';

/** Options of a BusService; everything is injected, nothing is global. */
export interface BusServiceOptions {
  logger: Logger;
  metrics?: BusMetrics;
  /** Queue of the INNER type that carries unhealthy-subscriber reports. */
  innerQueueSize?: number;
}

/**
 * BusService: one Bus per registered event type, and the INNER bus whose checker evicts
 * subscribers that fail. Types are registered on the instance, so two services in one process
 * share nothing. Contract: `fire()` rejects with a BusError when the service is stopped, the type
 * is unknown or (policy `reject`) the type's queue is full; otherwise it resolves when every
 * targeted subscriber has handled the event.
 */
export class BusService {
  private readonly buses = new Map<string, Bus>();
  private readonly logger: Logger;
  private readonly metrics: BusMetrics;
  private started = false;
  private closed = false;

  constructor(options: BusServiceOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics ?? noopBusMetrics;
    this.register(INNER, { queueSize: options.innerQueueSize ?? 1000, overflow: 'reject' });
    this.addSubscriber(new SubscriberChecker((s) => this.removeSubscriber(s), this.logger));
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.started && !this.closed;
  }

  /** Registers an event type with its queue size and overflow policy. */
  register(type: string, options: BusTypeOptions): Bus {
    if (this.buses.has(type)) throw new BusError('ERR_BUS_TYPE_EXISTS', `event type ${type} is already registered`);
    const bus = new Bus(type, options, {
      onQueued: (e, depth) => this.metrics.queued(e, depth),
      onDispatched: (e) => this.metrics.dispatched(e, bus.depth),
      onHandled: (e, ok) => this.metrics.handled(e, ok),
      onDropped: (e) => this.metrics.dropped(e),
      onNoSubscriber: (e) => this.metrics.noSubscriber(e),
      onSubscriberError: (s, err, e) => this.reportUnhealthy(s, err, e),
    });
    this.buses.set(type, bus);
    return bus;
  }

  bus(type: string): Bus | undefined {
    return this.buses.get(type);
  }

  start(): void {
    if (this.closed) throw new BusError('ERR_BUS_STOPPED', 'a stopped bus service cannot start again');
    this.started = true;
  }

  addSubscriber(subscriber: Subscriber): void {
    const bus = this.buses.get(subscriber.type);
    if (!bus) throw new BusError('ERR_BUS_UNKNOWN_TYPE', `unknown event type ${subscriber.type}`);
    subscriber.onAccept?.();
    bus.addSubscriber(subscriber);
    this.metrics.subscribers(subscriber.domain ?? '', subscriber.scheme ?? 'internal', 1);
  }

  /** Removes and closes the subscriber; a no-op when it is not attached. */
  removeSubscriber(subscriber: Subscriber): void {
    const bus = this.buses.get(subscriber.type);
    if (!bus || !bus.removeSubscriber(subscriber)) return;
    this.metrics.subscribers(subscriber.domain ?? '', subscriber.scheme ?? 'internal', -1);
    try {
      subscriber.close?.();
    } catch (err) {
      this.logger.warn('subscriber close failed', { subscriber: subscriber.id, error: String(err) });
    }
  }

  fire<P>(event: BusEvent<P>): Promise<FireResult> {
    if (!this.running) {
      return Promise.reject(new BusError('ERR_BUS_STOPPED', 'bus service is not running'));
    }
    const bus = this.buses.get(event.type);
    if (!bus) return Promise.reject(new BusError('ERR_BUS_UNKNOWN_TYPE', `unknown event type ${event.type}`));
    return bus.fire(event);
  }

  stats(): BusStats[] {
    return [...this.buses.values()].map((b) => b.stats());
  }

  /**
   * Refuses new events, delivers everything already queued (user types first, then INNER, so
   * evictions caused by the drain still happen), and closes every subscriber.
   */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inner = this.buses.get(INNER) as Bus;
    const others = [...this.buses.values()].filter((b) => b !== inner);
    await Promise.all(others.map((b) => b.stop()));
    await inner.stop();
    for (const b of this.buses.values()) for (const s of b.subscribers()) this.removeSubscriber(s);
  }

  /** Logs a failed subscriber and asks the INNER checker to evict it; INNER subscribers stay. */
  private reportUnhealthy(subscriber: Subscriber, error: unknown, event: BusEvent): boolean {
    this.logger.error('subscriber failed', {
      type: event.type,
      subject: event.subject,
      subscriber: subscriber.id,
      error: error instanceof Error ? error.message : String(error),
    });
    // An INNER subscriber is never evicted: the checker would remove itself, and reporting it
    // would only loop through INNER again.
    if (subscriber.type === INNER) return false;
    const inner = this.buses.get(INNER) as Bus;
    // The INNER bus stays open while user buses drain, so failures during stop are handled too.
    inner.fire(createUnhealthyEvent(subscriber, error)).catch((err: unknown) => {
      this.logger.error('unhealthy subscriber report lost', { subscriber: subscriber.id, error: String(err) });
    });
    return true;
  }
}
