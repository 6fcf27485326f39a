/**
 * The console's pure parts, without a browser: the Server-Sent Events parser, the list kept in
 * step with watch messages, and the view written to and read from the URL.
 */
import { expect } from 'chai';
import { SEVERITIES as ALARM_SEVERITIES, type AlarmJson } from '../../src/alarm/model.js';
import { AlarmBook, SEVERITIES, type Alarm } from '../../web/src/model.js';
import { SseParser } from '../../web/src/sse.js';
import { DEFAULT_VIEW, readView, rowsOf, writeView, type ViewState } from '../../web/src/view.js';

function alarm(id: string, source: string, revision: number, more: Partial<Alarm> = {}): Alarm {
  const at = new Date(1_800_000_000_000 + revision * 1000).toISOString();
  return { id, source, status: 'ACTIVATED', fields: {}, severity: 'major', count: 1, raisedAt: at, updatedAt: at, revision, acknowledged: false, ...more };
}

/**
 * The console keeps its own copy of the API's alarm (its sources are built for the browser,
 * without the server's modules): the type check fails when the two drift apart.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const ALARM_MATCHES_THE_API: Same<Alarm, AlarmJson> = true;

describe('console model', () => {
  it("keeps the API's alarm shape and severities", () => {
    expect(ALARM_MATCHES_THE_API).to.equal(true);
    expect(SEVERITIES).to.deep.equal(ALARM_SEVERITIES);
  });

  describe('SseParser', () => {
    it('reads events split anywhere, with comments, CRLF and several data lines', () => {
      const parser = new SseParser();
      const text = ': watching\r\n\r\nid: 7\r\ndata: {"a":1}\r\n\r\n: heartbeat\n\nid: 8\ndata: x\ndata: y\n\n';
      const events = [...text].flatMap((ch) => parser.push(ch));
      expect(events).to.deep.equal([
        { id: '7', data: '{"a":1}' },
        { id: '8', data: 'x\ny' },
      ]);
    });
  });

  describe('AlarmBook', () => {
    it('applies changes after the listed revision, by id and source, and skips older and unknown ones', () => {
      const book = new AlarmBook();
      book.reset([alarm('A', 's1', 3), alarm('A', 's2', 4)], 4);
      expect(book.apply({ action: 'RAISE', alarm: alarm('A', 's2', 4), revision: 4 }), 'a replay of what was listed').to.equal('skipped');
      expect(book.apply({ action: 'CLEAR', alarm: alarm('A', 's1', 5, { status: 'CLEARED' }), revision: 5 })).to.equal('changed');
      expect(book.apply({ action: 'SOMETHING_NEW', alarm: alarm('B', '', 6), revision: 6 })).to.equal('skipped');
      expect(book.apply({ action: 'PURGE', alarm: alarm('A', 's2', 7), revision: 7 })).to.equal('changed');
      expect(book.apply({ action: 'RESYNC', revision: 9 })).to.equal('resync');
      expect([...book.alarms.values()].map((a) => [a.id, a.source, a.status])).to.deep.equal([['A', 's1', 'CLEARED']]);
      expect(book.revision).to.equal(7);
      expect(book.activeCount()).to.equal(0);
    });
  });

  describe('view', () => {
    it('writes only what differs from the default, and reads back the same view', () => {
      expect(writeView(DEFAULT_VIEW)).to.equal('');
      const view: ViewState = { ...DEFAULT_VIEW, project: 'payments', minSeverity: 'major', acknowledged: 'false', source: 'web 1&2', sort: 'time', descending: false, group: true, open: { id: 'A', source: 'x=y' } };
      expect(readView(writeView(view))).to.deep.equal(view);
    });

    it('falls back to the default for what a hand-edited URL gets wrong', () => {
      expect(readView('?project=../../etc&status=NOPE&minSeverity=loud&sort=color')).to.deep.equal(DEFAULT_VIEW);
    });

    it('filters, sorts, and groups by id with the groups in the order of their leading alarm', () => {
      const alarms = [
        alarm('B', 'x', 1, { severity: 'critical' }),
        alarm('A', 'x', 2, { severity: 'warning' }),
        alarm('A', 'y', 3, { severity: 'critical', acknowledged: true }),
        alarm('C', 'x', 4, { status: 'CLEARED' }),
      ];
      const flat = rowsOf(alarms, DEFAULT_VIEW, new Set());
      expect(flat.map((r) => (r.kind === 'alarm' ? `${r.alarm.id}/${r.alarm.source}` : r.id))).to.deep.equal(['A/y', 'B/x', 'A/x']);
      const grouped = rowsOf(alarms, { ...DEFAULT_VIEW, group: true }, new Set(['A']));
      expect(grouped.map((r) => (r.kind === 'alarm' ? `${r.alarm.id}/${r.alarm.source}` : `group ${r.id} (${r.alarms.length})`))).to.deep.equal([
        'group A (2)',
        'A/y',
        'A/x',
        'group B (1)',
      ]);
      expect(rowsOf(alarms, { ...DEFAULT_VIEW, acknowledged: 'false', source: 'X' }, new Set()).map((r) => r.key)).to.deep.equal(['B\u0000x', 'A\u0000x']);
    });
  });
});
