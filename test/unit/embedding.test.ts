import { expect } from 'chai';
import { createAlarmCenter, type AlarmCenter } from '../../src/center.js';
import { AlarmCenterError } from '../../src/errors.js';
import { rejection } from '../helpers/promises.js';

const SCOPE = { domain: 'default', project: 'p1' };

describe('createAlarmCenter', () => {
  const opened: AlarmCenter[] = [];

  async function open(): Promise<AlarmCenter> {
    const center = await createAlarmCenter({ dataDir: ':memory:' });
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

      expect(await one.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'one is cut off' });
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
});
