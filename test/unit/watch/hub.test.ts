import { expect } from 'chai';
import { createAlarmCenter } from '../../../src/center.js';

const SCOPE = { domain: 'default', project: 'fan' };

describe('WatchHub', () => {
  it('writes one change to many watchers a chunk of 256 per event-loop turn, reaching them all', async () => {
    const center = await createAlarmCenter({ dataDir: ':memory:' });
    try {
      let received = 0;
      for (let i = 0; i < 600; i += 1) center.watch(SCOPE, { onMessage: () => void (received += 1) });
      const raised = center.raise(SCOPE, { id: 'A' });
      // Watch the deliveries turn by turn until every watcher has the change.
      const perTurn: number[] = [];
      let seen = 0;
      for (let turn = 0; turn < 1000 && received < 600; turn += 1) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        perTurn.push(received - seen);
        seen = received;
      }
      await raised;
      expect(received).to.equal(600);
      expect(Math.max(...perTurn), 'never more than one chunk in a turn').to.be.at.most(256);
      expect(perTurn.filter((n) => n > 0).length, 'spread over several turns').to.be.at.least(3);
    } finally {
      await center.close();
    }
  });
});
