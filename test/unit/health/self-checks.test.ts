import { expect } from 'chai';
import type { AlarmStore, StoreFailure } from '../../../src/alarm/store.js';
import { createStoreChecker } from '../../../src/health/checkers/self-checks.js';
import { DEFAULT_SCOPE } from '../../../src/alarm/model.js';

function pingingStore(ping: () => Promise<void>): AlarmStore {
  return {
    load: async () => ({ alarms: [], revision: 0 }),
    commit: async () => {},
    history: async () => [],
    ping,
    close: async () => {},
  };
}

describe('createStoreChecker', () => {
  it('fails with the store error while the failure is recent', async () => {
    let now = 1_000;
    const failure: StoreFailure = { error: new Error('database or disk is full'), at: 1_000 };
    const checker = createStoreChecker(pingingStore(async () => {}), () => failure, { holdMs: 5_000, clock: () => now });

    now = 5_999;
    expect(await checker.check(DEFAULT_SCOPE)).to.deep.equal({ healthy: false, detail: 'database or disk is full' });
  });

  it('lets traffic probe the store again once the hold is over, if the store answers', async () => {
    let now = 1_000;
    const failure: StoreFailure = { error: new Error('database or disk is full'), at: 1_000 };
    const checker = createStoreChecker(pingingStore(async () => {}), () => failure, { holdMs: 5_000, clock: () => now });

    now = 6_000;
    expect(await checker.check(DEFAULT_SCOPE)).to.deep.equal({ healthy: true });
  });

  it('fails with the ping error when the store does not answer', async () => {
    const checker = createStoreChecker(
      pingingStore(async () => {
        throw new Error('database is locked');
      }),
      () => undefined,
    );
    expect(await checker.check(DEFAULT_SCOPE)).to.deep.equal({ healthy: false, detail: 'database is locked' });
  });
});
