import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect } from 'chai';
import { BusService } from '../../../src/event/bus-service.js';
import { BusError } from '../../../src/event/bus-error.js';
import { createEvent, type BusEvent } from '../../../src/event/event.js';
import {
  CHECKER_GROUP,
  CHECKER_SUBJECT,
  INNER,
  type UnhealthyPayload,
} from '../../../src/event/subscriber-checker.js';
import type { Subscriber } from '../../../src/event/subscriber.js';
import { createSilentLogger } from '../../../src/logger.js';
import { rejection } from '../../helpers/promises.js';

const TYPE = 'T';

interface Probe extends Subscriber<number> {
  readonly received: number[];
  closed: number;
}

/** A subscriber that records payloads and close() calls, then runs `handle`. */
function probe(id: string, handle?: (event: BusEvent<number>) => void | Promise<void>, type = TYPE): Probe {
  const received: number[] = [];
  const p: Probe = {
    id,
    type,
    subject: 's',
    group: 'g',
    received,
    closed: 0,
    onMessage(event) {
      received.push(event.payload);
      return handle?.(event);
    },
    close() {
      p.closed += 1;
    },
  };
  return p;
}

function newService(): BusService {
  const service = new BusService({ logger: createSilentLogger() });
  service.register(TYPE, { queueSize: 1000, overflow: 'reject' });
  return service;
}

/** Records the unhealthy-subscriber reports travelling on the INNER bus. */
function watchInner(service: BusService): UnhealthyPayload[] {
  const reports: UnhealthyPayload[] = [];
  service.addSubscriber({
    id: 'inner-spy',
    type: INNER,
    subject: CHECKER_SUBJECT,
    group: CHECKER_GROUP,
    onMessage: (e: BusEvent) => void reports.push(e.payload as UnhealthyPayload),
  });
  return reports;
}

/** Resolves once the INNER bus has handled every report queued so far. */
async function innerIdle(service: BusService): Promise<void> {
  await service.bus(INNER)?.idle();
}

function event(payload: number, type = TYPE): BusEvent<number> {
  return createEvent(type, 's', '', payload);
}

describe('BusService', () => {
  describe('#register', () => {
    it('refuses a type registered twice on the same service with ERR_BUS_TYPE_EXISTS', () => {
      const service = newService();

      expect(() => service.register(TYPE, { queueSize: 10, overflow: 'reject' }))
        .to.throw(BusError)
        .with.property('code', 'ERR_BUS_TYPE_EXISTS');
    });

    it('lets two services register the same type and share nothing', async () => {
      const one = newService();
      const two = newService();
      const sub = probe('sub');
      one.addSubscriber(sub);
      one.start();
      two.start();

      const inTwo = await two.fire(event(1));
      const inOne = await one.fire(event(2));

      expect(inTwo.status).to.equal('no-subscriber');
      expect(inOne.status).to.equal('delivered');
      expect(sub.received).to.deep.equal([2]);
      expect(one.stats().find((s) => s.type === TYPE)).to.include({ delivered: 1, noSubscriber: 0 });
      expect(two.stats().find((s) => s.type === TYPE)).to.include({ delivered: 0, noSubscriber: 1 });
    });
  });

  describe('#addSubscriber', () => {
    it('refuses a subscriber of an unknown type with ERR_BUS_UNKNOWN_TYPE', () => {
      const service = newService();

      expect(() => service.addSubscriber(probe('sub', undefined, 'NOPE')))
        .to.throw(BusError)
        .with.property('code', 'ERR_BUS_UNKNOWN_TYPE');
    });
  });

  describe('#fire', () => {
    it('rejects an event of an unknown type with ERR_BUS_UNKNOWN_TYPE', async () => {
      const service = newService();
      service.start();

      const err = await rejection(service.fire(event(1, 'NOPE')));

      expect(err).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_UNKNOWN_TYPE');
    });

    it('rejects with ERR_BUS_STOPPED before start()', async () => {
      const service = newService();
      service.addSubscriber(probe('sub'));

      const err = await rejection(service.fire(event(1)));

      expect(err).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_STOPPED');
    });

    it('counts an event whose subject has no subscriber in stats()', async () => {
      const service = newService();
      service.start();

      const result = await service.fire(event(1));

      expect(result.status).to.equal('no-subscriber');
      expect(service.stats().find((s) => s.type === TYPE)).to.include({ fired: 1, noSubscriber: 1 });
    });

    it('evicts a throwing subscriber through the INNER unhealthy-subscriber event and closes it', async () => {
      const service = newService();
      const reports = watchInner(service);
      const failing = probe('failing', () => {
        throw new Error('sync failure');
      });
      const healthy = probe('healthy');
      service.addSubscriber(failing);
      service.addSubscriber(healthy);
      service.start();

      const first = await service.fire(event(1));
      await innerIdle(service);
      const second = await service.fire(event(2));

      expect(first).to.deep.equal({ status: 'delivered', delivered: 1, failed: 1 });
      expect(reports.map((r) => [r.subscriber, (r.error as Error).message])).to.deep.equal([[failing, 'sync failure']]);
      expect(service.bus(TYPE)?.subject('s')?.group('g')?.member('failing')).to.equal(undefined);
      expect(failing.closed).to.equal(1);
      expect(failing.received).to.deep.equal([1]);
      expect(healthy.received).to.deep.equal([1, 2]);
      expect(second).to.deep.equal({ status: 'delivered', delivered: 1, failed: 0 });
    });

    it('evicts a rejecting async subscriber the same way while the others still get the event', async () => {
      const service = newService();
      const reports = watchInner(service);
      const failing = probe('rejecting', async () => {
        await nextTurn();
        throw new Error('async failure');
      });
      const healthy = probe('healthy');
      service.addSubscriber(failing);
      service.addSubscriber(healthy);
      service.start();

      const result = await service.fire(event(1));
      await innerIdle(service);

      expect(result).to.deep.equal({ status: 'delivered', delivered: 1, failed: 1 });
      expect(healthy.received).to.deep.equal([1]);
      expect(reports.map((r) => r.subscriber.id)).to.deep.equal(['rejecting']);
      expect(service.bus(TYPE)?.subject('s')?.group('g')?.member('rejecting')).to.equal(undefined);
      expect(failing.closed).to.equal(1);
    });

    it('keeps a failing INNER subscriber, so the checker never evicts itself', async () => {
      const service = newService();
      let innerCalls = 0;
      const failingInner: Subscriber = {
        id: 'failing-inner',
        type: INNER,
        subject: CHECKER_SUBJECT,
        group: CHECKER_GROUP,
        onMessage() {
          innerCalls += 1;
          throw new Error('inner failure');
        },
      };
      service.addSubscriber(failingInner);
      const failing = probe('failing', () => {
        throw new Error('user failure');
      });
      service.addSubscriber(failing);
      service.start();

      await service.fire(event(1));
      await innerIdle(service);

      expect(service.bus(INNER)?.subject(CHECKER_SUBJECT)?.group(CHECKER_GROUP)?.member('failing-inner')).to.equal(
        failingInner,
      );
      expect(service.bus(INNER)?.subject(CHECKER_SUBJECT)?.group(CHECKER_GROUP)?.member('subscriber-checker')).to.not.equal(
        undefined,
      );
      expect(failing.closed).to.equal(1);

      const second = probe('second', () => {
        throw new Error('user failure again');
      });
      service.addSubscriber(second);
      await service.fire(event(2));
      await innerIdle(service);
      expect(innerCalls, 'the failing INNER subscriber is still called').to.equal(2);
      expect(second.closed).to.equal(1);
    });
  });

  describe('#stop', () => {
    it('delivers every queued event, then refuses fire() with ERR_BUS_STOPPED', async () => {
      const service = newService();
      const sub = probe('sub', async () => {
        await nextTurn();
      });
      service.addSubscriber(sub);
      service.start();
      const fired = Array.from({ length: 100 }, (_, i) => service.fire(event(i)));

      await service.stop();

      expect(sub.received).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
      expect((await Promise.all(fired)).every((r) => r.status === 'delivered')).to.equal(true);
      expect(service.running).to.equal(false);
      const err = await rejection(service.fire(event(100)));
      expect(err).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_STOPPED');
    });

    it('closes every subscriber once the queues are drained', async () => {
      const service = newService();
      const seenAtClose: number[] = [];
      const sub = probe('sub');
      sub.close = () => {
        sub.closed += 1;
        seenAtClose.push(sub.received.length);
      };
      service.addSubscriber(sub);
      service.start();
      const fired = Array.from({ length: 10 }, (_, i) => service.fire(event(i)));

      await service.stop();
      await Promise.all(fired);

      expect(sub.closed).to.equal(1);
      expect(seenAtClose).to.deep.equal([10]);
    });

    it('still evicts a subscriber that fails while the queue drains', async () => {
      const service = newService();
      const failing = probe('failing', () => {
        throw new Error('failure during drain');
      });
      service.addSubscriber(failing);
      service.start();
      const fired = service.fire(event(1));

      await service.stop();

      expect((await fired).failed).to.equal(1);
      expect(service.bus(TYPE)?.subject('s')).to.equal(undefined);
      expect(failing.closed).to.equal(1);
    });

    it('can be called twice', async () => {
      const service = newService();
      service.start();

      await service.stop();
      await service.stop();

      expect(service.running).to.equal(false);
      expect(() => service.start()).to.throw(BusError).with.property('code', 'ERR_BUS_STOPPED');
    });
  });
});
