import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect } from 'chai';
import { Bus, type BusHooks, type BusTypeOptions, type FireResult } from '../../../src/event/bus.js';
import { BusError } from '../../../src/event/bus-error.js';
import { createEvent, type BusEvent } from '../../../src/event/event.js';
import type { Subscriber } from '../../../src/event/subscriber.js';
import { rejection } from '../../helpers/promises.js';

const TYPE = 'T';

/** Hooks that remember what the bus reported; `evict` is their answer to a failing subscriber. */
function recordingHooks(evict = true) {
  const seen = {
    dropped: [] as BusEvent[],
    noSubscriber: [] as BusEvent[],
    handled: [] as { event: BusEvent; ok: boolean }[],
    errors: [] as { subscriber: Subscriber; error: unknown; event: BusEvent }[],
  };
  const hooks: BusHooks = {
    onQueued() {},
    onDispatched() {},
    onHandled: (event, ok) => void seen.handled.push({ event, ok }),
    onDropped: (event) => void seen.dropped.push(event),
    onNoSubscriber: (event) => void seen.noSubscriber.push(event),
    onSubscriberError(subscriber, error, event) {
      seen.errors.push({ subscriber, error, event });
      return evict;
    },
  };
  return { hooks, seen };
}

function newBus(options: Partial<BusTypeOptions> = {}, evict = true) {
  const { hooks, seen } = recordingHooks(evict);
  const bus = new Bus(TYPE, { queueSize: 1000, overflow: 'reject', ...options }, hooks);
  return { bus, seen };
}

interface Recorder extends Subscriber<number> {
  readonly received: number[];
}

/** A subscriber that records payloads, then runs `handle` (which may throw or be async). */
function recorder(
  id: string,
  where: { subject?: string; group?: string } = {},
  handle?: (event: BusEvent<number>) => void | Promise<void>,
): Recorder {
  const received: number[] = [];
  return {
    id,
    type: TYPE,
    subject: where.subject ?? 's',
    group: where.group ?? 'g',
    received,
    onMessage(event) {
      received.push(event.payload);
      return handle?.(event);
    },
  };
}

function event(payload: number, subject = 's', group = ''): BusEvent<number> {
  return createEvent(TYPE, subject, group, payload);
}

/** A subscriber that takes events only in batches and records each batch's payloads. */
function batcher(calls: number[][]): Subscriber {
  return {
    id: 'batcher',
    type: TYPE,
    subject: 's',
    group: 'g',
    onMessage: () => expect.fail('onBatch is preferred'),
    onBatch: (events: BusEvent[]) => void calls.push(events.map((e) => e.payload as number)),
  };
}

describe('Bus', () => {
  describe('constructor', () => {
    it('refuses a queue size below 1 with ERR_BUS_INVALID_OPTIONS', () => {
      const { hooks } = recordingHooks();
      expect(() => new Bus(TYPE, { queueSize: 0, overflow: 'reject' }, hooks))
        .to.throw(BusError)
        .with.property('code', 'ERR_BUS_INVALID_OPTIONS');
    });

    it('refuses an unknown overflow policy with ERR_BUS_INVALID_OPTIONS', () => {
      const { hooks } = recordingHooks();
      const options = { queueSize: 10, overflow: 'block' } as unknown as BusTypeOptions;
      expect(() => new Bus(TYPE, options, hooks))
        .to.throw(BusError)
        .with.property('code', 'ERR_BUS_INVALID_OPTIONS');
    });
  });

  describe('#fire', () => {
    it('delivers 5,000 concurrently fired events in firing order, across many batches', async () => {
      const { bus } = newBus({ queueSize: 5000, maxBatch: 64 });
      const slow = recorder('slow', {}, async (e) => {
        if (e.payload % 7 === 0) await nextTurn();
      });
      const batches: number[][] = [];
      const batcher: Subscriber<number> = {
        id: 'batcher',
        type: TYPE,
        subject: 's',
        group: 'other',
        onMessage: () => expect.fail('onBatch is preferred'),
        async onBatch(events) {
          batches.push(events.map((e) => e.payload));
          await nextTurn();
        },
      };
      bus.addSubscriber(slow);
      bus.addSubscriber(batcher);

      const fired: Promise<FireResult>[] = [];
      for (let i = 0; i < 5000; i += 1) {
        fired.push(bus.fire(event(i)));
        // Let the dispatcher run now and then, so later events arrive while earlier ones are delivered.
        if (i % 500 === 499) await nextTurn();
      }
      const results = await Promise.all(fired);

      const expected = Array.from({ length: 5000 }, (_, i) => i);
      expect(slow.received).to.deep.equal(expected);
      expect(batches.flat()).to.deep.equal(expected);
      expect(batches.length).to.be.greaterThan(5000 / 64 - 1);
      expect(results.every((r) => r.status === 'delivered' && r.delivered === 2 && r.failed === 0)).to.equal(true);
    });

    it('delivers an event with an empty group to every group of its subject', async () => {
      const { bus } = newBus();
      const a1 = recorder('a1', { group: 'a' });
      const a2 = recorder('a2', { group: 'a' });
      const b1 = recorder('b1', { group: 'b' });
      const elsewhere = recorder('x1', { subject: 'other', group: 'a' });
      for (const s of [a1, a2, b1, elsewhere]) bus.addSubscriber(s);

      const result = await bus.fire(event(1, 's', ''));

      expect(result).to.deep.equal({ status: 'delivered', delivered: 3, failed: 0 });
      expect([a1.received, a2.received, b1.received]).to.deep.equal([[1], [1], [1]]);
      expect(elsewhere.received).to.deep.equal([]);
    });

    it('delivers an event with a named group to that group only', async () => {
      const { bus } = newBus();
      const a1 = recorder('a1', { group: 'a' });
      const a2 = recorder('a2', { group: 'a' });
      const b1 = recorder('b1', { group: 'b' });
      for (const s of [a1, a2, b1]) bus.addSubscriber(s);

      const result = await bus.fire(event(2, 's', 'a'));

      expect(result).to.deep.equal({ status: 'delivered', delivered: 2, failed: 0 });
      expect([a1.received, a2.received, b1.received]).to.deep.equal([[2], [2], []]);
    });

    it('resolves with no-subscriber and counts the event when its subject has no subscriber', async () => {
      const { bus, seen } = newBus();
      bus.addSubscriber(recorder('a1', { subject: 's' }));

      const result = await bus.fire(event(3, 'nobody'));

      expect(result).to.deep.equal({ status: 'no-subscriber', delivered: 0, failed: 0 });
      expect(bus.stats().noSubscriber).to.equal(1);
      expect(seen.noSubscriber.map((e) => e.subject)).to.deep.equal(['nobody']);
    });

    it('resolves with no-subscriber when the named group has no member', async () => {
      const { bus } = newBus();
      const a1 = recorder('a1', { group: 'a' });
      bus.addSubscriber(a1);

      const result = await bus.fire(event(4, 's', 'missing'));

      expect(result.status).to.equal('no-subscriber');
      expect(a1.received).to.deep.equal([]);
      expect(bus.stats().noSubscriber).to.equal(1);
    });

    it('still delivers to the others when one subscriber throws and another rejects', async () => {
      const { bus, seen } = newBus();
      const throwing = recorder('throwing', {}, () => {
        throw new Error('sync failure');
      });
      const rejecting = recorder('rejecting', {}, async () => {
        throw new Error('async failure');
      });
      const healthy = recorder('healthy');
      for (const s of [throwing, rejecting, healthy]) bus.addSubscriber(s);

      const result = await bus.fire(event(5));

      expect(result).to.deep.equal({ status: 'delivered', delivered: 1, failed: 2 });
      expect(healthy.received).to.deep.equal([5]);
      expect(seen.errors.map((e) => [e.subscriber.id, (e.error as Error).message])).to.have.deep.members([
        ['throwing', 'sync failure'],
        ['rejecting', 'async failure'],
      ]);
      expect(bus.stats()).to.include({ delivered: 1, failed: 2 });
    });

    it('reports a failing subscriber once and stops calling it for the rest of the batch', async () => {
      const { bus, seen } = newBus();
      const failing = recorder('failing', {}, () => {
        throw new Error('boom');
      });
      const healthy = recorder('healthy');
      bus.addSubscriber(failing);
      bus.addSubscriber(healthy);

      const results = await Promise.all([bus.fire(event(1)), bus.fire(event(2)), bus.fire(event(3))]);

      expect(failing.received).to.deep.equal([1]);
      expect(healthy.received).to.deep.equal([1, 2, 3]);
      expect(seen.errors).to.have.length(1);
      expect(results.map((r) => r.failed)).to.deep.equal([1, 1, 1]);
    });

    it('keeps calling a failing subscriber its owner does not evict, reporting each failure', async () => {
      const { bus, seen } = newBus({}, false);
      const failing = recorder('failing', {}, () => {
        throw new Error('boom');
      });
      bus.addSubscriber(failing);

      await Promise.all([bus.fire(event(1)), bus.fire(event(2))]);

      expect(failing.received).to.deep.equal([1, 2]);
      expect(seen.errors).to.have.length(2);
    });

    it('rejects with ERR_BUS_QUEUE_FULL under the reject policy and still delivers what it accepted', async () => {
      const { bus } = newBus({ queueSize: 3, overflow: 'reject' });
      const sub = recorder('sub');
      bus.addSubscriber(sub);

      const accepted = [bus.fire(event(1)), bus.fire(event(2)), bus.fire(event(3))];
      const err = await rejection(bus.fire(event(4)));
      const results = await Promise.all(accepted);

      expect(err).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_QUEUE_FULL');
      expect(sub.received).to.deep.equal([1, 2, 3]);
      expect(results.map((r) => r.status)).to.deep.equal(['delivered', 'delivered', 'delivered']);
      expect(bus.stats().dropped).to.equal(0);
    });

    it('drops the oldest queued event under drop-oldest, resolving its fire() with dropped', async () => {
      const { bus, seen } = newBus({ queueSize: 3, overflow: 'drop-oldest' });
      const sub = recorder('sub');
      bus.addSubscriber(sub);

      const fired = [1, 2, 3, 4, 5].map((n) => bus.fire(event(n)));
      const results = await Promise.all(fired);

      expect(results.map((r) => r.status)).to.deep.equal(['dropped', 'dropped', 'delivered', 'delivered', 'delivered']);
      expect(sub.received).to.deep.equal([3, 4, 5]);
      expect(bus.stats().dropped).to.equal(2);
      expect(seen.dropped.map((e) => e.payload)).to.deep.equal([1, 2]);
    });

    it('hands onBatch subscribers every queued event in one call, in order', async () => {
      const { bus } = newBus();
      const calls: number[][] = [];
      bus.addSubscriber(batcher(calls));

      await Promise.all(Array.from({ length: 10 }, (_, i) => bus.fire(event(i))));

      expect(calls).to.deep.equal([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    });

    it('splits the queued events into batches of at most maxBatch', async () => {
      const { bus } = newBus({ maxBatch: 4 });
      const calls: number[][] = [];
      bus.addSubscriber(batcher(calls));

      await Promise.all(Array.from({ length: 10 }, (_, i) => bus.fire(event(i))));

      expect(calls).to.deep.equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    });
  });

  describe('#stop', () => {
    it('delivers everything queued, then refuses fire() with ERR_BUS_STOPPED', async () => {
      const { bus } = newBus();
      const sub = recorder('sub', {}, async () => {
        await nextTurn();
      });
      bus.addSubscriber(sub);
      const fired = Array.from({ length: 50 }, (_, i) => bus.fire(event(i)));

      await bus.stop();

      expect(sub.received).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      const results = await Promise.all(fired);
      expect(results.every((r) => r.status === 'delivered')).to.equal(true);
      const err = await rejection(bus.fire(event(99)));
      expect(err).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_STOPPED');
      expect(bus.isStopped).to.equal(true);
    });
  });

  describe('#removeSubscriber', () => {
    it('stops delivering to a removed subscriber and forgets its empty subject', async () => {
      const { bus } = newBus();
      const sub = recorder('sub');
      bus.addSubscriber(sub);

      expect(bus.removeSubscriber(sub)).to.equal(true);
      const result = await bus.fire(event(1));

      expect(result.status).to.equal('no-subscriber');
      expect(sub.received).to.deep.equal([]);
      expect(bus.subject('s')).to.equal(undefined);
      expect(bus.removeSubscriber(sub)).to.equal(false);
    });

    it('says whether any subscriber is left, whatever its subject', () => {
      const { bus } = newBus();
      const a = recorder('a');
      expect(bus.hasSubscribers).to.equal(false);
      bus.addSubscriber(a);
      expect(bus.hasSubscribers).to.equal(true);
      bus.removeSubscriber(a);
      expect(bus.hasSubscribers).to.equal(false);
    });
  });
});
