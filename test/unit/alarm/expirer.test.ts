import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import { Expirer, type DueExpiry } from '../../../src/alarm/expirer.js';
import { makeAlarm, type Alarm, type AlarmState } from '../../../src/alarm/model.js';
import { createSilentLogger } from '../../../src/logger.js';

function alarm(id: string, expiresAt: number | undefined, state: Partial<AlarmState> = {}): Alarm {
  return makeAlarm({
    domain: 'd', project: 'p', id, source: '', status: 'ACTIVATED', severity: 'minor', fieldsJson: '{}',
    count: 1, raisedAt: 0, updatedAt: 0, revision: 1, expiresAt, ...state,
  });
}

/** An alarm acknowledged at 0 until `ackExpiresAt`, without an expiry of its own unless given. */
function ackedAlarm(id: string, ackExpiresAt: number, expiresAt?: number, revision = 1): Alarm {
  return alarm(id, expiresAt, { ackedBy: 'ops', ackedAt: 0, ackComment: '', ackExpiresAt, revision });
}

/** An Expirer over `index` recording each call's time and deadlines. */
function recording(index: AlarmIndex): { expirer: Expirer; calls: { at: number; due: DueExpiry[] }[] } {
  const calls: { at: number; due: DueExpiry[] }[] = [];
  const expirer = new Expirer({
    index,
    logger: createSilentLogger(),
    async expire(_scope, due) {
      calls.push({ at: Date.now(), due });
    },
  });
  return { expirer, calls };
}

describe('Expirer', () => {
  let clock: FakeTimers.Clock;

  beforeEach(() => {
    clock = FakeTimers.install({ now: 0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });

  afterEach(() => clock.uninstall());

  it('tries a failed expiry again after the retry pause, with the same expiry', async () => {
    const index = new AlarmIndex();
    const a = alarm('A', 1000);
    index.load([a], 1);
    const calls: { at: number; due: DueExpiry[] }[] = [];
    let fail = true;
    const expirer = new Expirer({
      index,
      logger: createSilentLogger(),
      retryMs: 500,
      async expire(_scope, due) {
        calls.push({ at: Date.now(), due });
        if (fail) throw new Error('store unavailable');
      },
    });
    expirer.track(a);

    await clock.tickAsync(1000);
    expect(calls.map((c) => c.at)).to.deep.equal([1000]);
    fail = false;
    await clock.tickAsync(499);
    expect(calls).to.have.length(1);
    await clock.tickAsync(1);
    expect(calls.map((c) => [c.at, c.due])).to.deep.equal([
      [1000, [{ id: 'A', source: '', expiresAt: 1000 }]],
      [1500, [{ id: 'A', source: '', expiresAt: 1000 }]],
    ]);
    expirer.close();
  });

  it('holds one entry for an expiry moved again and again, and expires the alarm at its last expiry', async () => {
    const index = new AlarmIndex();
    let a = alarm('A', 1000);
    index.load([a], 1);
    const { expirer, calls } = recording(index);
    expirer.track(a);

    // As Prometheus re-sends a firing alert: each re-send moves the expiry later.
    for (let t = 1; t <= 1000; t += 1) {
      a = alarm('A', 1000 + t * 10);
      index.extend([a]);
      expirer.track(a);
    }

    expect(expirer.pending, 'entries on the heap').to.equal(1);
    await clock.tickAsync(10_999);
    expect(calls, 'not before its last expiry').to.deep.equal([]);
    expect(expirer.pending, 'moved to the last expiry').to.equal(1);
    await clock.tickAsync(1);
    expect(calls).to.deep.equal([{ at: 11_000, due: [{ id: 'A', source: '', expiresAt: 11_000 }] }]);
    expect(expirer.pending).to.equal(0);
    expirer.close();
  });

  it('drops an entry whose alarm was raised again with a new expiry', async () => {
    const index = new AlarmIndex();
    const first = alarm('A', 1000);
    index.load([first], 1);
    const calls: number[] = [];
    const expirer = new Expirer({
      index,
      logger: createSilentLogger(),
      async expire(_scope, due) {
        calls.push(...due.map((d) => ('expiresAt' in d ? d.expiresAt : NaN)));
      },
    });
    expirer.track(first);
    // Raised again: the index now holds a later expiry.
    const again = alarm('A', 5000);
    index.load([again], 2);
    expirer.track(again);

    await clock.tickAsync(1000);
    expect(calls).to.deep.equal([]);
    await clock.tickAsync(4000);
    expect(calls).to.deep.equal([5000]);
    expirer.close();
  });

  describe('acknowledgements with a TTL', () => {
    it('tells of an acknowledgement at its deadline, not before', async () => {
      const index = new AlarmIndex();
      const a = ackedAlarm('A', 1000);
      index.load([a], 1);
      const { expirer, calls } = recording(index);
      expirer.track(a);

      await clock.tickAsync(999);
      expect(calls).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(calls).to.deep.equal([{ at: 1000, due: [{ id: 'A', source: '', ackExpiresAt: 1000 }] }]);
      expirer.close();
    });

    it('tracks both deadlines of an alarm, each at its time, and each once however often it was tracked', async () => {
      const index = new AlarmIndex();
      const a = ackedAlarm('A', 1000, 3000);
      index.load([a], 1);
      const { expirer, calls } = recording(index);
      expirer.track(a);
      expirer.track(a);

      await clock.tickAsync(3000);
      expect(calls).to.deep.equal([
        { at: 1000, due: [{ id: 'A', source: '', ackExpiresAt: 1000 }] },
        { at: 3000, due: [{ id: 'A', source: '', expiresAt: 3000 }] },
      ]);
      expirer.close();
    });

    it('drops the deadline of an acknowledgement renewed or withdrawn since', async () => {
      const index = new AlarmIndex();
      const renewed = ackedAlarm('A', 1000);
      const withdrawn = ackedAlarm('B', 1000);
      index.load([renewed, withdrawn], 2);
      const { expirer, calls } = recording(index);
      expirer.track(renewed);
      expirer.track(withdrawn);
      const again = ackedAlarm('A', 5000, undefined, 3);
      index.load([again, alarm('B', undefined, { revision: 4 })], 4);
      expirer.track(again);

      await clock.tickAsync(5000);
      expect(calls).to.deep.equal([{ at: 5000, due: [{ id: 'A', source: '', ackExpiresAt: 5000 }] }]);
      expirer.close();
    });
  });
});
