import crypto from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_SOURCE_LENGTH } from '../../../src/alarm/model.js';
import { alertSource, labelFingerprint, labelSetText, severityOfLabel, type LabelSet } from '../../../src/intake/labels.js';

/** Label sets with few names and values rich in the characters escaping must keep apart. */
const labelSet: fc.Arbitrary<LabelSet> = fc.dictionary(
  fc.constantFrom('alertname', 'instance', 'job', 'a', 'b', '_x'),
  fc.string({ unit: fc.constantFrom('a', 'b', '"', '\\', '\n', ',', '=', '{', '}', 'n', 'é'), maxLength: 12 }),
  { maxKeys: 5 },
);

/** FNV-1a 64 over the label pairs with BigInt arithmetic: a second, slower computation of the fingerprint. */
function referenceFingerprint(labels: LabelSet): string {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const add = (bytes: Iterable<number>) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & mask;
  };
  for (const name of Object.keys(labels).sort()) {
    add(Buffer.from(name));
    add([0xff]);
    add(Buffer.from(labels[name] as string));
    add([0xff]);
  }
  return h.toString(16).padStart(16, '0');
}

describe('labels', () => {
  describe('labelSetText', () => {
    it("writes the labels sorted by name in Prometheus's text form", () => {
      expect(labelSetText({ job: 'node', instance: 'host:9100' })).to.equal('{instance="host:9100",job="node"}');
    });

    it('escapes backslash, double quote and line feed in values', () => {
      expect(labelSetText({ a: 'x\\y"z\nw' })).to.equal('{a="x\\\\y\\"z\\nw"}');
    });

    it('writes an empty set as {}', () => {
      expect(labelSetText({})).to.equal('{}');
    });
  });

  describe('alertSource', () => {
    it('is the labels but alertname in text form', () => {
      expect(alertSource({ alertname: 'HostDown', job: 'node', instance: 'host:9100' })).to.equal('{instance="host:9100",job="node"}');
    });

    it('is {} for an alert with no label but alertname', () => {
      expect(alertSource({ alertname: 'Watchdog' })).to.equal('{}');
    });

    it('is sha256: and the hex hash of the text when the text is longer than MAX_SOURCE_LENGTH', () => {
      const labels = { alertname: 'X', description: 'd'.repeat(MAX_SOURCE_LENGTH) };
      const text = labelSetText({ description: labels.description });

      const source = alertSource(labels);

      expect(source).to.equal(`sha256:${crypto.createHash('sha256').update(text).digest('hex')}`);
      expect(source).to.match(/^sha256:[0-9a-f]{64}$/);
    });

    it('keeps a text of exactly MAX_SOURCE_LENGTH characters as is', () => {
      const value = 'v'.repeat(MAX_SOURCE_LENGTH - '{a=""}'.length);

      expect(alertSource({ alertname: 'X', a: value })).to.have.length(MAX_SOURCE_LENGTH).and.to.equal(`{a="${value}"}`);
    });

    it('is the same for the same label set, whatever the order of its keys', () => {
      fc.assert(
        fc.property(labelSet, (labels) => {
          const reversed = Object.fromEntries(Object.entries(labels).reverse());
          expect(alertSource(reversed)).to.equal(alertSource(labels));
        }),
      );
    });

    it('differs for label sets that differ in any label but alertname, short or hashed', () => {
      const entries = (labels: LabelSet) => JSON.stringify(Object.entries(labels).filter(([name]) => name !== 'alertname').sort());
      fc.assert(
        fc.property(labelSet, labelSet, fc.boolean(), fc.boolean(), (a, other, copy, long) => {
          const b = copy ? { ...a, alertname: 'Other' } : other;
          const pad: LabelSet = long ? { pad: 'p'.repeat(MAX_SOURCE_LENGTH) } : {};
          expect(alertSource({ ...a, ...pad }) === alertSource({ ...b, ...pad })).to.equal(entries(a) === entries(b));
        }),
      );
    });

    it('keeps apart sets whose values would read alike without escaping', () => {
      expect(alertSource({ a: 'x",b="y' })).not.to.equal(alertSource({ a: 'x', b: 'y' }));
      expect(alertSource({ a: 'x\\', b: 'y' })).not.to.equal(alertSource({ a: 'x\\",b=\\"y' }));
    });
  });

  describe('severityOfLabel', () => {
    const table: [string | undefined, string][] = [
      ['critical', 'critical'],
      ['CRITICAL', 'critical'],
      ['error', 'major'],
      ['high', 'major'],
      ['Major', 'major'],
      ['medium', 'minor'],
      ['minor', 'minor'],
      ['warning', 'warning'],
      ['warn', 'warning'],
      ['LOW', 'warning'],
      ['info', 'indeterminate'],
      ['page', 'indeterminate'],
      ['', 'indeterminate'],
      ['constructor', 'indeterminate'],
      [undefined, 'indeterminate'],
    ];
    for (const [label, severity] of table) {
      it(`maps ${JSON.stringify(label)} to ${severity}`, () => {
        expect(severityOfLabel(label)).to.equal(severity);
      });
    }
  });

  describe('labelFingerprint', () => {
    it("gives Alertmanager's fingerprint of a label set (from a real webhook body)", () => {
      const labels = { acc_id: '130', acn_id: '0007', alertname: 'V2 Sites offline metric', consumer: 'axcess', severity: 'critical', team: 'hit' };

      expect(labelFingerprint(labels)).to.equal('f0c999b2bd0ee34c');
    });

    it("gives FNV-1a's offset basis for the empty set, as Prometheus does", () => {
      expect(labelFingerprint({})).to.equal('cbf29ce484222325');
    });

    it('agrees with a BigInt computation of 64-bit FNV-1a, for any labels', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 6 }), (labels) => {
          expect(labelFingerprint(labels)).to.equal(referenceFingerprint(labels));
        }),
      );
    });

    it('is 16 lowercase hex digits, the same whatever the key order', () => {
      const fp = labelFingerprint({ job: 'node', alertname: 'HostDown' });

      expect(fp).to.match(/^[0-9a-f]{16}$/);
      expect(labelFingerprint({ alertname: 'HostDown', job: 'node' })).to.equal(fp);
    });
  });
});
