import { expect } from 'chai';
import fc from 'fast-check';
import { ZERO_TIME_MS, parseRfc3339 } from '../../../src/intake/rfc3339.js';

describe('parseRfc3339', () => {
  it('reads a UTC time with milliseconds', () => {
    expect(parseRfc3339('2026-01-15T12:00:00.250Z')).to.equal(Date.UTC(2026, 0, 15, 12, 0, 0, 250));
  });

  it('reads an offset and drops digits below the millisecond', () => {
    expect(parseRfc3339('2018-08-03T09:52:26.739266876+02:00')).to.equal(Date.UTC(2018, 7, 3, 7, 52, 26, 739));
    expect(parseRfc3339('2018-08-03T09:52:26-01:30')).to.equal(Date.UTC(2018, 7, 3, 11, 22, 26));
  });

  it('accepts lower-case t and z, as RFC 3339 does', () => {
    expect(parseRfc3339('2026-01-15t12:00:00z')).to.equal(Date.UTC(2026, 0, 15, 12));
  });

  it("reads Go's zero time, in both the forms Alertmanager and amtool send", () => {
    expect(parseRfc3339('0001-01-01T00:00:00Z')).to.equal(ZERO_TIME_MS);
    expect(parseRfc3339('0001-01-01T00:00:00.000Z')).to.equal(ZERO_TIME_MS);
    expect(ZERO_TIME_MS).to.equal(-62135596800000);
  });

  it('refuses what is not an RFC 3339 date-time', () => {
    for (const text of ['', '2026-01-15', '2026-01-15 12:00:00Z', '2026-01-15T12:00:00', '2026-13-01T00:00:00Z', '2026-02-29T00:00:00Z', '2026-01-15T24:00:00Z', '2026-01-15T12:60:00Z', '2026-01-15T12:00:60Z', '2026-01-15T12:00:00+24:00', '1768478400000', 'Thu, 15 Jan 2026 12:00:00 GMT']) {
      expect(parseRfc3339(text), text).to.equal(undefined);
    }
  });

  it('accepts the 29th of February in a leap year', () => {
    expect(parseRfc3339('2024-02-29T00:00:00Z')).to.equal(Date.UTC(2024, 1, 29));
  });

  it('agrees with toISOString for any time from year 1 to 9999', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(ZERO_TIME_MS), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (d) => {
        expect(parseRfc3339(d.toISOString())).to.equal(d.getTime());
      }),
    );
  });
});
