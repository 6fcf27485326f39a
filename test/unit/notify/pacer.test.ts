import { expect } from 'chai';
import { Pacer } from '../../../src/notify/pacer.js';

/** A pacer on a fake clock whose sleeps move the clock; records the sleeps. */
function pacerAt(load: { value: number }) {
  const clock = { now: 0 };
  const sleeps: number[] = [];
  const pacer = new Pacer({
    load: () => load.value,
    saturated: 0.8,
    periodMs: 100,
    share: 0.1,
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
    },
  });
  return { pacer, clock, sleeps };
}

describe('Pacer', () => {
  it('never waits while the event loop is not saturated', async () => {
    const { pacer, clock, sleeps } = pacerAt({ value: 0.79 });
    for (let i = 0; i < 100; i += 1) {
      await pacer.pace();
      clock.now += 5;
    }
    expect(sleeps).to.deep.equal([]);
  });

  it('while saturated, lets work start in the first tenth of each period and waits out the rest', async () => {
    const { pacer, clock, sleeps } = pacerAt({ value: 0.95 });
    const started: number[] = [];
    while (clock.now < 300) {
      await pacer.pace();
      started.push(clock.now);
      clock.now += 4;
    }
    // Work starts at 0, 4 and 8 ms into each period (the fourth would start 12 ms in), then waits.
    expect(started).to.deep.equal([0, 4, 8, 100, 104, 108, 200, 204, 208, 300]);
    expect(sleeps).to.deep.equal([88, 88, 88]);
  });

  it('goes at full speed again as soon as the load eases', async () => {
    const load = { value: 0.9 };
    const { pacer, clock, sleeps } = pacerAt(load);
    await pacer.pace();
    clock.now += 20;
    await pacer.pace();
    expect(sleeps).to.deep.equal([80]);
    load.value = 0.5;
    clock.now += 1;
    await pacer.pace();
    clock.now += 50;
    await pacer.pace();
    expect(sleeps).to.deep.equal([80]);
  });
});
