import { expect } from 'chai';
import { backoffMs } from '../../../src/notify/webhook-loop.js';
import { retryAfterMs } from '../../../src/notify/webhook-sender.js';

describe('webhook retries', () => {
  describe('backoffMs', () => {
    const timing = (random: number) => ({ retryBaseMs: 1000, retryMaxMs: 300_000, random: () => random });

    it('waits up to a ceiling that doubles from a second, capped at five minutes', () => {
      expect([1, 2, 3, 4, 9, 10, 40].map((n) => backoffMs(n, timing(0.999_999)))).to.deep.equal([999, 1999, 3999, 7999, 255_999, 299_999, 299_999]);
    });

    it('draws the wait anywhere below the ceiling (full jitter)', () => {
      expect(backoffMs(3, timing(0))).to.equal(0);
      expect(backoffMs(3, timing(0.5))).to.equal(2000);
    });
  });

  describe('retryAfterMs', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');

    it('reads delay-seconds', () => {
      expect(retryAfterMs('120', now)).to.equal(120_000);
      expect(retryAfterMs(' 0 ', now)).to.equal(0);
    });

    it('reads an HTTP date, never below zero', () => {
      expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).to.equal(30_000);
      expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).to.equal(0);
    });

    it('ignores what is neither', () => {
      expect(retryAfterMs(undefined, now)).to.equal(undefined);
      expect(retryAfterMs('soon', now)).to.equal(undefined);
      expect(retryAfterMs('-5', now)).to.equal(undefined);
    });
  });
});
