/**
 * A property test of the bus under the `reject` overflow policy. Random programs interleave
 * fire, addSubscriber and removeSubscriber with turns of the event loop, over random queue
 * sizes and batch limits, and subscribers that answer synchronously, after a microtask, after
 * setImmediate, or only when the program releases them (which holds the dispatcher and fills
 * the queue). The model checks that:
 * - no accepted event is lost for a subscriber that stayed subscribed from before the event was
 *   fired until its fire() resolved, and no subscriber gets events out of firing order or twice;
 * - fire() rejects only with ERR_BUS_QUEUE_FULL, only when the queue was full (and so at least
 *   `queueSize` accepted events were unresolved), and a rejected event reaches nobody;
 * - an accepted fire() resolves with the number of subscribers that received the event.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Bus, FireResult } from '../../../src/event/bus.js';
import { BusService } from '../../../src/event/bus-service.js';
import { BusError } from '../../../src/event/bus-error.js';
import { createEvent, type BusEvent } from '../../../src/event/event.js';
import type { Subscriber } from '../../../src/event/subscriber.js';
import { createSilentLogger } from '../../../src/logger.js';

const TYPE = 'T';
const SUBJECTS = ['s1', 's2'] as const;
const GROUPS = ['g1', 'g2'] as const;

/** How a subscriber's handling of an event completes. */
type Delay = 'sync' | 'microtask' | 'immediate' | 'released';

interface SubscriberSpec {
  subject: string;
  group: string;
  delay: Delay;
  /** Takes a dispatcher turn's events in one onBatch call. */
  batch: boolean;
}

type Step =
  | { kind: 'fire'; subject: string; group: string; count: number }
  | { kind: 'add' | 'remove' | 'release'; sub: number }
  | { kind: 'turn' | 'microtask' };

/** A subscriber that records the payloads (fire sequence numbers) it receives. */
class Recorder implements Subscriber<number> {
  readonly type = TYPE;
  readonly received: number[] = [];
  /** Handlings waiting for the program to release them, oldest first. */
  readonly held: (() => void)[] = [];
  readonly onBatch?: (events: BusEvent<number>[]) => void | Promise<void>;
  /** The model's view: attached or not, and which subscription (each add after a remove is a new one). */
  subscribed = false;
  subscription = 0;

  constructor(
    readonly id: string,
    readonly subject: string,
    readonly group: string,
    private readonly delay: Delay,
    batch: boolean,
  ) {
    if (batch) {
      this.onBatch = (events) => {
        for (const e of events) this.received.push(e.payload);
        return this.complete();
      };
    }
  }

  onMessage(event: BusEvent<number>): void | Promise<void> {
    this.received.push(event.payload);
    return this.complete();
  }

  /** Whether an event for `subject`/`group` targets this subscriber. */
  targetedBy(subject: string, group: string): boolean {
    return this.subject === subject && (group === '' || group === this.group);
  }

  private complete(): void | Promise<void> {
    switch (this.delay) {
      case 'sync':
        return undefined;
      case 'microtask':
        return Promise.resolve();
      case 'immediate':
        return new Promise((resolve) => setImmediate(resolve));
      case 'released':
        return new Promise((resolve) => this.held.push(resolve));
    }
  }
}

/** One fire() and what the model knows of it; times are ticks of the program's logical clock. */
interface Fired {
  n: number;
  subject: string;
  group: string;
  firedAt: number;
  /** The queue depth just before fire(). */
  depth: number;
  settledAt?: number;
  result?: FireResult;
  error?: unknown;
  /** Subscribers that must receive it: subscribed at fire() and still, in the same subscription, when it resolved. */
  mustReach: Set<Recorder>;
}

interface ProgramSpec {
  queueSize: number;
  maxBatch?: number;
  subs: readonly SubscriberSpec[];
  steps: readonly Step[];
}

/** One program run against a fresh BusService, recording what the model needs. */
class Run {
  readonly service = new BusService({ logger: createSilentLogger() });
  readonly bus: Bus;
  readonly recorders: Recorder[];
  readonly fired: Fired[] = [];
  /** A logical clock, ticking at every fire() and every settlement. */
  private clock = 0;

  constructor(spec: ProgramSpec) {
    this.bus = this.service.register(TYPE, { queueSize: spec.queueSize, overflow: 'reject', maxBatch: spec.maxBatch });
    this.service.start();
    this.recorders = spec.subs.map((s, i) => new Recorder(`sub${i}`, s.subject, s.group, s.delay, s.batch));
  }

  fire(subject: string, group: string): void {
    const f: Fired = { n: this.fired.length, subject, group, firedAt: (this.clock += 1), depth: this.bus.depth, mustReach: new Set() };
    this.fired.push(f);
    const candidates = this.recorders.filter((r) => r.subscribed && r.targetedBy(subject, group)).map((r) => [r, r.subscription] as const);
    this.service.fire(createEvent(TYPE, subject, group, f.n)).then(
      (result) => {
        f.settledAt = this.clock += 1;
        f.result = result;
        for (const [r, subscription] of candidates) if (r.subscribed && r.subscription === subscription) f.mustReach.add(r);
      },
      (error: unknown) => {
        f.settledAt = this.clock += 1;
        f.error = error;
      },
    );
  }

  /** Takes one step; only `turn` and `microtask` answer a promise, so other steps run back to back. */
  step(step: Step): Promise<unknown> | undefined {
    const r = 'sub' in step ? (this.recorders[step.sub] as Recorder) : undefined;
    switch (step.kind) {
      case 'fire':
        for (let i = 0; i < step.count; i += 1) this.fire(step.subject, step.group);
        return;
      case 'add':
        this.service.addSubscriber(r as Recorder);
        if (!r?.subscribed) (r as Recorder).subscription += 1;
        (r as Recorder).subscribed = true;
        return;
      case 'remove':
        this.service.removeSubscriber(r as Recorder);
        (r as Recorder).subscribed = false;
        return;
      case 'release':
        // The subscriber's oldest held handling, or else the first one held by anyone.
        (r?.held.length ? r : this.recorders.find((x) => x.held.length > 0))?.held.shift()?.();
        return;
      case 'turn':
        return nextTurn();
      case 'microtask':
        return Promise.resolve();
    }
  }

  /** Releases every held handling, turn after turn, until each fire() has settled; then stops. */
  async drain(): Promise<void> {
    for (let turns = 0; this.fired.some((f) => f.settledAt === undefined); turns += 1) {
      if (turns > 10_000) expect.fail('the bus stalled with fire() calls unresolved');
      for (const r of this.recorders) r.held.splice(0).forEach((release) => release());
      await nextTurn();
    }
    await this.bus.idle();
    await this.service.stop();
  }
}

/** Refusals: ERR_BUS_QUEUE_FULL exactly when the queue was full, with that many accepted events unresolved. */
function expectRefusals(run: Run, queueSize: number): void {
  const accepted = run.fired.filter((f) => f.error === undefined);
  for (const f of run.fired) {
    if (f.error === undefined) {
      expect(f.depth, `queue depth when fire #${f.n} was accepted`).to.be.below(queueSize);
      continue;
    }
    expect(f.error, `refusal of fire #${f.n}`).to.be.instanceOf(BusError).with.property('code', 'ERR_BUS_QUEUE_FULL');
    expect(f.depth, `queue depth when fire #${f.n} was refused`).to.equal(queueSize);
    const unresolved = accepted.filter((a) => a.firedAt < f.firedAt && (a.settledAt as number) > f.firedAt).length;
    expect(unresolved, `accepted events unresolved when fire #${f.n} was refused`).to.be.at.least(queueSize);
  }
}

/** Deliveries: in firing order, once each, none lost for a subscriber that stayed, none refused, counted right. */
function expectDeliveries(run: Run): void {
  for (const r of run.recorders) {
    const got = r.received;
    expect(got.every((n, k) => k === 0 || n > (got[k - 1] as number)), `${r.id} receives in firing order, once each: ${got.join(',')}`).to.equal(true);
    const gotSet = new Set(got);
    for (const f of run.fired) {
      if (f.error !== undefined) expect(gotSet.has(f.n), `${r.id} received refused event #${f.n}`).to.equal(false);
      else if (f.mustReach.has(r)) expect(gotSet.has(f.n), `${r.id} lost accepted event #${f.n}`).to.equal(true);
    }
  }
  for (const f of run.fired.filter((x) => x.error === undefined)) {
    const receivers = run.recorders.filter((r) => r.received.includes(f.n)).length;
    expect(f.result, `result of fire #${f.n}`).to.deep.equal(
      receivers > 0 ? { status: 'delivered', delivered: receivers, failed: 0 } : { status: 'no-subscriber', delivered: 0, failed: 0 },
    );
  }
}

/** Runs one program against a fresh BusService and checks the model's properties. */
async function runProgram(spec: ProgramSpec): Promise<void> {
  const run = new Run(spec);
  for (const step of spec.steps) {
    const yielding = run.step(step);
    if (yielding) await yielding;
  }
  await run.drain();
  expectRefusals(run, spec.queueSize);
  expectDeliveries(run);
}

const subscriberSpec: fc.Arbitrary<SubscriberSpec> = fc.record({
  subject: fc.constantFrom(...SUBJECTS),
  group: fc.constantFrom(...GROUPS),
  delay: fc.oneof({ weight: 2, arbitrary: fc.constantFrom<Delay>('sync', 'microtask', 'immediate') }, { weight: 1, arbitrary: fc.constant<Delay>('released') }),
  batch: fc.boolean(),
});

const program = fc
  .record({
    queueSize: fc.integer({ min: 1, max: 8 }),
    maxBatch: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    subs: fc.array(subscriberSpec, { minLength: 1, maxLength: 4 }),
  })
  .chain((setup) => {
    const sub = fc.nat({ max: setup.subs.length - 1 });
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('fire' as const),
          subject: fc.constantFrom(...SUBJECTS),
          group: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 3, arbitrary: fc.constantFrom(...GROUPS) }, { weight: 1, arbitrary: fc.constant('g3') }),
          count: fc.integer({ min: 1, max: 3 }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), sub }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), sub }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), sub }) },
      { weight: 4, arbitrary: fc.constant<Step>({ kind: 'turn' }) },
      { weight: 1, arbitrary: fc.constant<Step>({ kind: 'microtask' }) },
    );
    // Every subscriber starts attached; the program removes and re-adds them.
    const attachAll: Step[] = setup.subs.map((_, i) => ({ kind: 'add', sub: i }));
    return fc.array(step, { minLength: 1, maxLength: 80, size: 'medium' }).map((steps) => ({ ...setup, steps: [...attachAll, ...steps] }));
  });

describe('Bus (property)', () => {
  describe('#fire with the reject policy', () => {
    it('loses and reorders no accepted event, and refuses only when the queue is full, under random interleavings', async () => {
      // An interrupted run keeps going; it must end here, and its failure must count.
      let last: Promise<void> = Promise.resolve();
      const replay = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {};
      try {
        await fc.assert(
          fc.asyncProperty(program, (p) => (last = runProgram(p))),
          { numRuns: 1000, plugins: [fc.interruptAfterTimeLimit(5000)], ...replay },
        );
      } finally {
        await last.catch(() => undefined);
      }
      await last;
    });
  });
});
