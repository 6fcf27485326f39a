import { expect } from 'chai';
import { watchLoad } from '../../../src/notify/notify-thread.js';

describe('watchLoad (what the notifications thread paces itself on)', () => {
  it('reports a saturated event loop as such, and an idle one as idle', async () => {
    const seen: number[] = [];
    let done!: () => void;
    const twice = new Promise<void>((resolve) => (done = resolve));
    const timer = watchLoad((u) => {
      seen.push(u);
      if (seen.length === 2) done();
    }, 50);
    try {
      // The first interval: the event loop never idles.
      const end = performance.now() + 120;
      while (performance.now() < end);
      await twice;
    } finally {
      clearInterval(timer);
    }
    expect(seen[0], 'busy').to.be.at.least(0.8);
    expect(seen[1], 'idle').to.be.below(0.5);
  });
});
