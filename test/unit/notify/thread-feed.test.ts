import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { makeAlarm, type Alarm, type AlarmChange } from '../../../src/alarm/model.js';
import { ActiveAlarms, ChangeFeed } from '../../../src/notify/thread-feed.js';

function alarm(id: string, revision: number, status: 'ACTIVATED' | 'CLEARED' = 'ACTIVATED'): Alarm {
  return makeAlarm({ domain: 'd', project: 'p', id, source: 's', status, severity: 'major', fieldsJson: '{}', count: 1, raisedAt: 1, updatedAt: 1, revision });
}

const change = (a: Alarm, removed = false): AlarmChange => ({ action: removed ? 'purge' : a.status === 'ACTIVATED' ? 'raise' : 'clear', alarm: a, removed, at: a.revision });


describe('the notifications thread’s active alarms and change feed', () => {
  describe('ActiveAlarms', () => {
    it('keeps the ACTIVATED alarms only: a raise adds, a clear and a removal take away', () => {
      const active = new ActiveAlarms([alarm('A', 1), alarm('B', 2, 'CLEARED')]);
      expect(active.size).to.equal(1);
      active.apply([change(alarm('C', 3)), change(alarm('A', 4, 'CLEARED'))]);
      expect([...active.allAlarms()].map((a) => a.id)).to.deep.equal(['C']);
      active.apply([change(alarm('C', 5), true)]);
      expect(active.size).to.equal(0);
      active.apply([change(alarm('D', 6))]);
      expect(active.get({ domain: 'd', project: 'p' }, 'D', 's')?.revision).to.equal(6);
      expect(active.get({ domain: 'd', project: 'other' }, 'D', 's')).to.equal(undefined);
    });
  });

  describe('ChangeFeed', () => {
    let clock: FakeTimers.Clock;
    beforeEach(() => {
      clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    });
    afterEach(() => clock.uninstall());
    /** Runs the feed's scheduled reads (immediates, and the busy poll's timers): all of them, or those of `ms` of fake time. */
    const settled = (ms?: number) => (ms === undefined ? clock.runAllAsync() : clock.tickAsync(ms));

    /** A history of revisions 1..n, of which retention removed up to `pruned`. */
    function history(n: number) {
      const h = { pruned: 0, reads: [] as [number, number, number][], taken: [] as number[], lost: [] as [number, number][], backlog: [] as number[], busy: false };
      const feed = new ChangeFeed({
        read: (after, upTo, limit) => {
          h.reads.push([after, upTo, limit]);
          const out: AlarmChange[] = [];
          for (let r = Math.max(after, h.pruned) + 1; r <= Math.min(upTo, n) && out.length < limit; r += 1) out.push(change(alarm(`A${r}`, r)));
          return out;
        },
        pruned: () => h.pruned,
        from: 0,
        take: (changes) => h.taken.push(...changes.map((c) => c.alarm.revision)),
        lost: (from, to) => h.lost.push([from, to]),
        busy: () => h.busy,
        backlog: (n) => h.backlog.push(n),
      });
      return { h, feed };
    }

    it('reads every change up to the durable revision, in order, in pages, and no further', async () => {
      const { h, feed } = history(2000);
      feed.notify(1200);
      await settled();
      expect(h.taken).to.deep.equal(Array.from({ length: 1200 }, (_, i) => i + 1));
      expect(h.reads.every(([, upTo, limit]) => upTo === 1200 && limit === 512)).to.equal(true);
      expect(h.backlog.at(-1)).to.equal(0);
    });

    it('reads nothing while its taker is busy, and goes on when it is not', async () => {
      const { h, feed } = history(10);
      h.busy = true;
      feed.notify(10);
      await settled(60);
      expect(h.taken).to.deep.equal([]);
      expect(h.backlog.at(-1)).to.equal(10);
      h.busy = false;
      await settled(40);
      expect(h.taken).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('reports changes retention removed before they were read, and starts again where it is told', async () => {
      const { h, feed } = history(100);
      h.pruned = 40;
      feed.notify(100);
      await settled();
      expect(h.lost).to.deep.equal([[1, 40]]);
      expect(h.taken).to.deep.equal([]);
      feed.restart(90);
      await settled();
      expect(h.taken).to.deep.equal([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    });
  });
});
