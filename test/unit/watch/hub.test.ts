import { expect } from 'chai';
import { Registry } from 'prom-client';
import { openCore, partsOf } from '../../helpers/core.js';
import { AlarmCenterError } from '../../../src/errors.js';

const SCOPE = { domain: 'default', project: 'fan' };

describe('WatchHub', () => {
  it('writes one change to many watchers a chunk of 256 per event-loop turn, reaching them all', async () => {
    const center = await openCore({ dataDir: ':memory:' });
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

  describe('#admit', () => {
    it('refuses a watcher past maxWatchers with 429002 whatever domains the watchers name, until one closes', async () => {
      const registry = new Registry();
      const center = await openCore({ dataDir: ':memory:', registry, maxWatchers: 3, maxWatchersPerDomain: 1000 });
      try {
        let firstEnded!: () => void;
        const ended = new Promise<void>((resolve) => (firstEnded = resolve));
        const handles = [0, 1, 2].map((n) =>
          center.watch({ domain: `made-up-${n}`, project: 'p' }, { onMessage: () => undefined, onEnd: n === 0 ? () => firstEnded() : undefined }),
        );

        const err = (() => {
          try {
            center.watch({ domain: 'made-up-3', project: 'p' }, { onMessage: () => undefined });
          } catch (e) {
            return e;
          }
          return expect.fail('the fourth watcher was opened');
        })();

        expect(err).to.be.instanceOf(AlarmCenterError);
        expect(err).to.include({ code: '429002', detail: 'watchers: more than 3 watchers open in all (maxWatchers)' });
        expect(partsOf(center).hub.size).to.equal(3);
        expect(await registry.getSingleMetricAsString('alarm_center_watch_quota_refusals_total')).to.contain(
          'alarm_center_watch_quota_refusals_total{limit="maxWatchers"} 1',
        );
        handles[0]?.close();
        // A closed watch ends once the changes committed before its close are delivered.
        await ended;
        center.watch({ domain: 'made-up-3', project: 'p' }, { onMessage: () => undefined });
        expect(partsOf(center).hub.size).to.equal(3);
      } finally {
        await center.close();
      }
    });
  });
});
