import { expect } from 'chai';
import { type AlarmCenter, type WatchEvent } from '../../src/center.js';
import { openCore, partsOf } from '../helpers/core.js';
import { AlarmCenterError } from '../../src/errors.js';
import { rejection } from '../helpers/promises.js';

const SCOPE = { domain: 'default', project: 'p1' };

describe('createAlarmCenter', () => {
  const opened: AlarmCenter[] = [];

  async function open(): Promise<AlarmCenter> {
    const center = await openCore({ dataDir: ':memory:' });
    opened.push(center);
    return center;
  }

  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  describe('two instances in one process', () => {
    it('keep their alarms and revisions apart', async () => {
      const one = await open();
      const two = await open();

      await one.raise(SCOPE, { id: 'A' });
      await one.raise(SCOPE, { id: 'B' });
      await two.raise(SCOPE, { id: 'C' });

      expect(one.list(SCOPE).alarms.map((a) => a.id)).to.deep.equal(['A', 'B']);
      expect(two.list(SCOPE).alarms.map((a) => a.id)).to.deep.equal(['C']);
      expect(one.list(SCOPE).revision).to.equal(2);
      expect(two.list(SCOPE).revision).to.equal(1);
    });

    it('keep their health apart', async () => {
      const one = await open();
      const two = await open();

      await one.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'one is cut off' } });

      expect(await one.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse: one is cut off' });
      expect(await two.health(SCOPE)).to.deep.equal({ healthy: true });
    });

    it('keep working when the other one is closed', async () => {
      const one = await open();
      const two = await open();

      await one.close();
      const alarm = await two.raise(SCOPE, { id: 'A' });

      expect(alarm.status).to.equal('ACTIVATED');
      expect((await two.ready()).healthy).to.equal(true);
    });
  });

  describe('#close', () => {
    it('can be called more than once', async () => {
      const center = await open();
      await center.raise(SCOPE, { id: 'A' });

      await Promise.all([center.close(), center.close()]);
      await center.close();

      expect(center.state).to.equal('stopping');
    });

    it('commits the writes already queued before it resolves', async () => {
      const center = await open();
      const raises = Array.from({ length: 50 }, (_, i) => center.raise(SCOPE, { id: `A${i}` }));

      await center.close();

      const settled = await Promise.allSettled(raises);
      expect(settled.every((r) => r.status === 'fulfilled')).to.equal(true);
      expect(center.list(SCOPE).alarms).to.have.length(50);
    });

    it('makes later raises, clears and clear-alls reject with 503001', async () => {
      const center = await open();
      await center.raise(SCOPE, { id: 'A' });

      await center.close();

      for (const p of [center.raise(SCOPE, { id: 'B' }), center.clear(SCOPE, 'A'), center.clearAll(SCOPE)]) {
        expect(await rejection(p)).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
      }
    });

    it('makes readiness fail', async () => {
      const center = await open();

      await center.close();

      const ready = await center.ready();
      expect(ready.healthy).to.equal(false);
      expect(ready.results.filter((r) => !r.healthy).map((r) => r.name)).to.have.members(['store', 'bus', 'lifecycle']);
    });
  });

  describe('#beginShutdown', () => {
    it('fails readiness on the lifecycle check while still taking writes', async () => {
      const center = await open();

      center.beginShutdown();
      const alarm = await center.raise(SCOPE, { id: 'A' });

      const ready = await center.ready();
      expect(alarm.status).to.equal('ACTIVATED');
      expect(ready.results.find((r) => r.name === 'lifecycle')).to.deep.equal({
        name: 'lifecycle',
        healthy: false,
        detail: 'Alarm Center is stopping',
      });
      expect((await center.ready(['lifecycle'])).healthy).to.equal(true);
    });
  });

  describe('#watch', () => {
    /** Resolves once `events` holds `n` items, checked on every message. */
    function collect(center: AlarmCenter, scope: typeof SCOPE, since?: number) {
      const events: WatchEvent[] = [];
      const waiters: (() => void)[] = [];
      const ends: string[] = [];
      let onEnded!: () => void;
      const ended = new Promise<void>((resolve) => (onEnded = resolve));
      const handle = center.watch(scope, {
        since,
        onMessage(e) {
          events.push(e);
          for (const w of waiters.splice(0)) w();
        },
        onEnd: (reason) => {
          ends.push(reason);
          onEnded();
        },
      });
      const count = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => (events.length >= n ? resolve() : waiters.push(check));
          check();
        });
      return { events, count, handle, ends, ended };
    }

    it('replays after since, then delivers live changes of its scope only', async () => {
      const center = await open();
      await center.raise(SCOPE, { id: 'A' });
      await center.raise(SCOPE, { id: 'B' });
      const w = collect(center, SCOPE, 1);
      await center.raise({ domain: 'default', project: 'other' }, { id: 'X' });
      await center.clear(SCOPE, 'A');
      await w.count(2);
      expect(w.events.map((e) => [e.action, e.alarm?.id, e.revision])).to.deep.equal([
        ['RAISE', 'B', 2],
        ['CLEAR', 'A', 4],
      ]);
      expect(w.events[1]?.alarm?.status).to.equal('CLEARED');
    });

    it('stops on close and ends with shutdown when the center closes', async () => {
      const center = await open();
      const closed = collect(center, SCOPE);
      closed.handle.close();
      const open_ = collect(center, SCOPE);
      await center.raise(SCOPE, { id: 'A' });
      await open_.count(1);
      expect(closed.events).to.deep.equal([]);
      expect(closed.ends).to.deep.equal(['peer']);
      await center.close();
      expect(open_.ends).to.deep.equal(['shutdown']);
      expect(partsOf(center).hub.size).to.equal(0);
    });

    it('sends RESYNC to the watchers of a change event the bus could not queue', async () => {
      const center = await openCore({ dataDir: ':memory:', watchFeedQueueSize: 1 });
      opened.push(center);
      const other = { domain: 'default', project: 'p2' };
      const mine = collect(center, SCOPE);
      const theirs = collect(center, other);
      // One commit with changes of two scopes fires two change events; the queue holds one.
      await Promise.all([center.raise(SCOPE, { id: 'A' }), center.raise(other, { id: 'B' })]);
      await Promise.all([mine.count(1), theirs.count(1)]);
      expect(mine.events.map((e) => e.action)).to.deep.equal(['RAISE']);
      expect(theirs.events).to.deep.equal([{ action: 'RESYNC', revision: 2 }]);
    });

    it('delivers the changes committed before close(), CLEAR_ALL included, then ends', async () => {
      const center = await open();
      const w = collect(center, SCOPE);
      await center.raise(SCOPE, { id: 'A', source: 'db-1' });
      await center.clear(SCOPE, 'A', 'db-1');
      await center.raise(SCOPE, { id: 'B' });
      await center.clearAll(SCOPE);
      w.handle.close();
      await w.ended;
      expect(w.events.map((e) => [e.action, e.alarm?.id])).to.deep.equal([
        ['RAISE', 'A'],
        ['CLEAR', 'A'],
        ['RAISE', 'B'],
        ['CLEAR_ALL', 'A'],
        ['CLEAR_ALL', 'B'],
      ]);
      expect(w.ends).to.deep.equal(['peer']);
    });

    it('delivers the changes committed before the instance closes, then ends with shutdown', async () => {
      const center = await open();
      const w = collect(center, SCOPE);
      await center.raise(SCOPE, { id: 'A' });
      await center.clearAll(SCOPE);
      await center.close();
      expect(w.events.map((e) => e.action)).to.deep.equal(['RAISE', 'CLEAR_ALL']);
      expect(w.ends).to.deep.equal(['shutdown']);
    });

    it('refuses a since that is not a revision with 400001', async () => {
      const center = await open();
      expect(() => center.watch(SCOPE, { since: -1, onMessage: () => undefined }))
        .to.throw(AlarmCenterError)
        .with.property('code', '400001');
    });
  });
});
