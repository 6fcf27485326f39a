/**
 * The checks' state machine with its probes given (`probeOf`) and its timers faked: the counts,
 * the raise at the failure threshold, the clear at the success threshold, and nothing counted
 * from a probe that settles after the checks stopped.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import winston from 'winston';
import type { ValidAlarmInput } from '../../../src/alarm/model.js';
import type { CheckConfig } from '../../../src/checks/check-config.js';
import { Checks } from '../../../src/checks/checks.js';

const SCOPE = { domain: 'default', project: 'default' };

const config = (over: Partial<CheckConfig> = {}): CheckConfig =>
  ({ name: 'db', tcp: '127.0.0.1:5432', intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1, severity: 'major', domain: 'default', project: 'default', ...over }) as CheckConfig;

describe('Checks', () => {
  let clock: FakeTimers.Clock;
  let applied: ValidAlarmInput[];
  let active: boolean;
  let checks: Checks | undefined;

  beforeEach(() => {
    clock = FakeTimers.install({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    applied = [];
    active = false;
  });
  afterEach(() => {
    checks?.close();
    checks = undefined;
    clock.uninstall();
  });

  /** Checks of `c` whose probe answers the next of `verdicts` (then the last one again). */
  function start(c: CheckConfig, verdicts: (string | undefined)[]): void {
    let n = 0;
    checks = new Checks({
      checks: [c],
      alarms: {
        apply: async (_scope, inputs) => {
          applied.push(...inputs);
          active = inputs.at(-1)?.status === 'ACTIVATED';
        },
      },
      index: { get: () => (active ? ({ status: 'ACTIVATED' } as never) : undefined) },
      logger: winston.createLogger({ silent: true }),
      probeOf: () => async () => verdicts[Math.min(n++, verdicts.length - 1)],
    });
    checks.start();
  }

  const status = () => (checks as Checks).list(SCOPE)[0];

  describe('#start', () => {
    it('raises at the failure threshold and clears at the success threshold, one interval apart', async () => {
      start(config(), ['refused', 'refused', 'refused', undefined]);

      await clock.tickAsync(0);
      expect(status()).to.deep.include({ consecutiveFailures: 1, raised: false });
      expect(applied).to.deep.equal([]);
      await clock.tickAsync(10_000);
      expect(applied.map((a) => `${a.status} ${a.fields.detail as string}`)).to.deep.equal(['ACTIVATED refused']);
      await clock.tickAsync(10_000);
      expect(status()).to.deep.include({ consecutiveFailures: 3, raised: true });
      await clock.tickAsync(10_000);

      expect(applied.map((a) => a.status)).to.deep.equal(['ACTIVATED', 'CLEARED']);
      expect(status()).to.deep.include({ consecutiveFailures: 0, consecutiveSuccesses: 1, raised: false });
    });
  });

  describe('#close', () => {
    it('counts nothing of a probe that settles after the checks stopped', async () => {
      let settle: (v: string | undefined) => void = () => undefined;
      checks = new Checks({
        checks: [config({ failureThreshold: 1 })],
        alarms: { apply: async (_scope, inputs) => void applied.push(...inputs) },
        index: { get: () => undefined },
        logger: winston.createLogger({ silent: true }),
        probeOf: () => () => new Promise((resolve) => (settle = resolve)),
      });
      checks.start();
      await clock.tickAsync(0);

      checks.close();
      settle('refused');
      await clock.tickAsync(60_000);

      expect(applied).to.deep.equal([]);
      expect(status()).to.deep.include({ running: false, consecutiveFailures: 0 });
    });
  });
});
