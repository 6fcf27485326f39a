import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import { Expirer } from '../../../src/alarm/expirer.js';
import { makeAlarm, type Alarm } from '../../../src/alarm/model.js';
import { createSilentLogger } from '../../../src/logger.js';

function alarm(id: string, expiresAt: number): Alarm {
  return makeAlarm({
    domain: 'd', project: 'p', id, source: '', status: 'ACTIVATED', severity: 'minor', fieldsJson: '{}',
    count: 1, raisedAt: 0, updatedAt: 0, revision: 1, expiresAt,
  });
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
    const calls: { at: number; due: { id: string; expiresAt: number }[] }[] = [];
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

  it('drops an entry whose alarm was raised again with a new expiry', async () => {
    const index = new AlarmIndex();
    const first = alarm('A', 1000);
    index.load([first], 1);
    const calls: number[] = [];
    const expirer = new Expirer({
      index,
      logger: createSilentLogger(),
      async expire(_scope, due) {
        calls.push(...due.map((d) => d.expiresAt));
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
});
