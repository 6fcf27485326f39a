import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { expectError, fillStore, onFileStore, waitFor } from '../helpers/integration.js';

const ALARMS = '/v4/p/admin/alarms';
const HISTORY = `${ALARMS}/history`;
const P = { domain: 'default', project: 'p' };
const RANK = ['critical', 'major', 'minor', 'warning', 'indeterminate'];

interface AlarmJson {
  id: string;
  status: string;
  source: string;
  severity: string;
  count: number;
  raisedAt: string;
  updatedAt: string;
  revision: number;
  acknowledged: boolean;
}

interface ListBody {
  alarms: AlarmJson[];
  revision: number;
  total?: number;
  next?: string;
}

interface EntryJson {
  revision: number;
  action: string;
  alarm: AlarmJson;
}

interface HistoryBody {
  history: EntryJson[];
  revision: number;
  total?: number;
  next?: string;
}

const keyOf = (a: { id: string; source: string }) => `${a.id}/${a.source}`;
const keys = (body: ListBody) => body.alarms.map(keyOf);
/** The (id, source) order of pages: by id, then source, as JavaScript compares strings. */
const byKey = (a: AlarmJson, b: AlarmJson) => (a.id !== b.id ? (a.id < b.id ? -1 : 1) : a.source < b.source ? -1 : a.source > b.source ? 1 : 0);

describe('filters and paging API', () => {
  let server: RunningServer;
  /** The time the server stamps alarms with; it moves only when a test moves it. */
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-03-02T09:00:00.000Z'));
    server = await startServer({ port: 0, dataDir: ':memory:' }, { clock: clock.now });
  });

  afterEach(() => server.close());

  const api = () => request(server.url);
  const raise = async (body: unknown) => (await api().post(ALARMS).send(body as object).expect(200)).body as ListBody;
  const list = async (query = ''): Promise<ListBody> =>
    (await api().get(`${ALARMS}${query}`).expect(200).expect('content-type', /^application\/json/)).body as ListBody;
  const history = async (query = ''): Promise<HistoryBody> =>
    (await api().get(`${HISTORY}${query}`).expect(200).expect('content-type', /^application\/json/)).body as HistoryBody;

  /** Follows `next` from the first page of `query` to the last; answers every page. */
  async function allPages(path: string, query: string): Promise<(ListBody & HistoryBody)[]> {
    const pages: (ListBody & HistoryBody)[] = [];
    let url = `${path}?${query}`;
    for (;;) {
      const page = (await api().get(url).expect(200)).body as ListBody & HistoryBody;
      pages.push(page);
      if (page.next === undefined) return pages;
      url = `${path}?${query.replace(/(^|&)(since|cursor)=[^&]*/g, '')}&cursor=${encodeURIComponent(page.next)}`;
    }
  }

  /**
   * A.s1 major (acknowledged), A.s2 minor, B.s1 critical (cleared), C. indeterminate, D.s3 warning;
   * D.s3 is raised a second after every other alarm's last update.
   */
  async function raiseFixture(): Promise<{ before: number }> {
    await raise({
      alarms: [
        { id: 'A', source: 's1', severity: 'major' },
        { id: 'A', source: 's2', severity: 'minor' },
        { id: 'B', source: 's1', severity: 'critical' },
        { id: 'C' },
      ],
    });
    await api().post(`${ALARMS}/A/ack?source=s1`).send({ by: 'ops' }).expect(200);
    const cleared = (await raise({ id: 'B', source: 's1', status: 'CLEARED' })).alarms[0] as AlarmJson;
    const before = Date.parse(cleared.updatedAt);
    expect(before, 'the time the clear was stamped with').to.equal(clock.now());
    clock.advance(1000);
    await raise({ id: 'D', source: 's3', severity: 'warning' });
    return { before };
  }

  describe('GET /v4/:project/admin/alarms', () => {
    describe('filters', () => {
      let before: number;

      beforeEach(async () => {
        ({ before } = await raiseFixture());
      });

      it('takes several ids, repeated or comma-separated', async () => {
        expect(keys(await list('?id=A&id=C'))).to.have.members(['A/s1', 'A/s2', 'C/']);
        expect(keys(await list('?id=A,C'))).to.have.members(['A/s1', 'A/s2', 'C/']);
        expect(keys(await list('?id=B,C&id=D'))).to.have.members(['B/s1', 'C/', 'D/s3']);
        expect(keys(await list('?id=Nobody'))).to.deep.equal([]);
      });

      it('filters by source, the empty source matching alarms raised without one', async () => {
        expect(keys(await list('?source=s1'))).to.have.members(['A/s1', 'B/s1']);
        expect(keys(await list('?source='))).to.deep.equal(['C/']);
      });

      it('filters by exact severity', async () => {
        expect(keys(await list('?severity=minor'))).to.deep.equal(['A/s2']);
      });

      it('filters by minimum severity, critical > major > minor > warning > indeterminate', async () => {
        expect(keys(await list('?minSeverity=critical'))).to.deep.equal(['B/s1']);
        expect(keys(await list('?minSeverity=major'))).to.have.members(['A/s1', 'B/s1']);
        expect(keys(await list('?minSeverity=warning'))).to.have.members(['A/s1', 'A/s2', 'B/s1', 'D/s3']);
        expect(keys(await list('?minSeverity=indeterminate'))).to.have.members(['A/s1', 'A/s2', 'B/s1', 'C/', 'D/s3']);
      });

      it('applies severity and minSeverity together', async () => {
        expect(keys(await list('?severity=minor&minSeverity=warning'))).to.deep.equal(['A/s2']);
        expect(keys(await list('?severity=minor&minSeverity=major'))).to.deep.equal([]);
      });

      it('filters by acknowledgement', async () => {
        expect(keys(await list('?acknowledged=true'))).to.deep.equal(['A/s1']);
        expect(keys(await list('?acknowledged=false'))).to.have.members(['A/s2', 'B/s1', 'C/', 'D/s3']);
      });

      it('filters by updatedSince, as an ISO 8601 date-time or milliseconds since the epoch', async () => {
        const after = before + 1;
        expect(keys(await list(`?updatedSince=${after}`))).to.deep.equal(['D/s3']);
        expect(keys(await list(`?updatedSince=${new Date(after).toISOString()}`))).to.deep.equal(['D/s3']);
        const offset = new Date(after + 2 * 3600_000).toISOString().replace('Z', '+02:00');
        expect(keys(await list(`?updatedSince=${encodeURIComponent(offset)}`))).to.deep.equal(['D/s3']);
        expect(keys(await list(`?updatedSince=${before}`))).to.include.members(['B/s1', 'D/s3']);
        expect(keys(await list('?updatedSince=0'))).to.have.length(5);
      });

      it('applies every given filter, status included, in the order of the plain list', async () => {
        const all = await list();
        const expected = all.alarms.filter((a) => a.id !== 'B' && a.status === 'ACTIVATED' && !a.acknowledged).map(keyOf);
        expect(keys(await list('?id=A,C,D&status=ACTIVATED&acknowledged=false'))).to.deep.equal(expected);
        expect(keys(await list('?id=A&source=s1&minSeverity=major&acknowledged=true&status=ACTIVATED'))).to.deep.equal(['A/s1']);
      });

      it('answers no total and no next without limit or cursor', async () => {
        expect(Object.keys(await list('?minSeverity=minor'))).to.deep.equal(['alarms', 'revision']);
      });
    });

    describe('a plain GET', () => {
      it('answers {"alarms","revision"} as before, in raise order, without total or next', async () => {
        for (const input of [{ id: 'Z', severity: 'major' }, { id: 'A', source: 'late' }, { id: 'M' }]) {
          await raise(input);
          clock.advance(1000);
        }
        const res = await api().get(ALARMS).expect(200);
        const body = res.body as ListBody;

        expect(Object.keys(body)).to.deep.equal(['alarms', 'revision']);
        expect(keys(body)).to.deep.equal(['Z/', 'A/late', 'M/']);
        expect(body.revision).to.equal(3);
        expect(res.text).to.equal((await api().get(ALARMS).expect(200)).text);
      });
    });

    describe('pages', () => {
      beforeEach(async () => {
        await raise({
          alarms: [
            { id: 'm', source: 'b', severity: 'major' },
            { id: 'M' },
            { id: 'z', severity: 'major' },
            { id: 'a', source: 'x' },
            { id: 'm', source: 'a', severity: 'major' },
            { id: 'a', source: '', severity: 'major' },
            { id: 'Q', source: 'q' },
          ],
        });
      });

      it('orders a page by id, then source, with total and next', async () => {
        const first = await list('?limit=3');
        expect(Object.keys(first)).to.deep.equal(['alarms', 'revision', 'total', 'next']);
        expect(keys(first)).to.deep.equal(['M/', 'Q/q', 'a/']);
        expect(first.total).to.equal(7);
        expect(first.next).to.be.a('string').and.match(/^[A-Za-z0-9_-]+$/);

        const second = await list(`?limit=3&cursor=${first.next}`);
        expect(keys(second)).to.deep.equal(['a/x', 'm/a', 'm/b']);
        expect(second.total).to.equal(7);

        const last = await list(`?limit=3&cursor=${second.next}`);
        expect(keys(last)).to.deep.equal(['z/']);
        expect(Object.keys(last)).to.deep.equal(['alarms', 'revision', 'total']);
      });

      it('leaves next out when the page ends exactly at the last alarm', async () => {
        const page = await list('?limit=7');
        expect(page.alarms).to.have.length(7);
        expect(page).to.not.have.property('next');
        expect(page.total).to.equal(7);
      });

      it('pages the filtered alarms, total counting every match', async () => {
        const pages = await allPages(ALARMS, 'severity=major&limit=2');
        expect(pages.map(keys)).to.deep.equal([['a/', 'm/a'], ['m/b', 'z/']]);
        for (const p of pages) expect(p.total).to.equal(4);
      });

      it('takes a cursor without a limit, answering up to 1,000 alarms', async () => {
        const first = await list('?limit=1');
        const rest = await list(`?cursor=${first.next}`);
        expect(keys(rest)).to.deep.equal(['Q/q', 'a/', 'a/x', 'm/a', 'm/b', 'z/']);
        expect(rest.total).to.equal(7);
        expect(rest).to.not.have.property('next');
      });

      it('answers an empty page with total 0 when nothing matches', async () => {
        expect(await list('?id=nobody&limit=5')).to.deep.equal({ alarms: [], revision: 7, total: 0 });
      });

      it('keeps a cursor valid across writes: a new alarm after it is on a later page, one before it is not', async () => {
        const first = await list('?limit=3');
        await raise({ alarms: [{ id: 'B' }, { id: 'b' }] });
        await raise({ id: 'a', source: 'x', status: 'CLEARED' });
        const rest = (await allPages(ALARMS, `limit=3&cursor=${first.next}`)).flatMap(keys);
        expect(rest).to.deep.equal(['a/x', 'b/', 'm/a', 'm/b', 'z/']);
      });
    });

    describe('when the store fails', () => {
      onFileStore('paging-api', { get: () => server, set: (s) => (server = s) });

      it("merges Alarm Center's own alarm into the (id, source) order, before a stored one with its key", async () => {
        await raise({ alarms: [{ id: 'A' }, { id: 'BackendConnectionRefuse', source: 'alarm-center' }, { id: 'C' }] });
        await fillStore(server);

        const pages = await allPages(ALARMS, 'limit=1&id=A,BackendConnectionRefuse,C');
        expect(pages.map(keys)).to.deep.equal([
          ['A/'],
          ['BackendConnectionRefuse/alarm-center'],
          ['BackendConnectionRefuse/alarm-center'],
          ['C/'],
        ]);
        expect(pages[1]?.alarms[0]?.revision).to.equal(0);
        expect(pages[2]?.alarms[0]?.revision).to.be.above(0);
        for (const p of pages) expect(p.total).to.equal(4);
      });
    });

    describe('pagination while writes continue', () => {
      it('visits every alarm that exists throughout exactly once, and no alarm twice', async function () {
        this.timeout(60_000);
        const initial = Array.from({ length: 2000 }, (_, i) => ({ id: `a${String(i * 5).padStart(5, '0')}`, source: `s${i % 3}` }));
        await raise({ alarms: initial.slice(0, 1000) });
        await raise({ alarms: initial.slice(1000) });
        let writes = 0;
        let writing = true;
        let fresh = 0;
        const writer = (async () => {
          while (writing) {
            const pick = () => initial[Math.floor(Math.random() * initial.length)] as { id: string; source: string };
            // New ids fall between existing ones, before and after wherever the pages have got to.
            const born = Array.from({ length: 3 }, () => ({ id: `a${String(Math.floor(Math.random() * 10_000)).padStart(5, '0')}x${fresh++}` }));
            await raise({ alarms: [pick(), pick(), { ...pick(), status: 'CLEARED' }, ...born] });
            writes += 1;
          }
        })();

        const seen: AlarmJson[] = [];
        let cursor: string | undefined;
        let pages = 0;
        try {
          do {
            const at = writes;
            await waitFor('a write between pages', () => writes > at, 10_000);
            const page = await list(`?limit=97${cursor ? `&cursor=${cursor}` : ''}`);
            expect(page.alarms.length).to.be.at.most(97);
            seen.push(...page.alarms);
            cursor = page.next;
            pages += 1;
          } while (cursor !== undefined);
        } finally {
          writing = false;
          await writer;
        }

        expect(pages).to.be.at.least(21);
        expect(writes).to.be.at.least(pages);
        const counts = new Map<string, number>();
        for (const a of seen) counts.set(keyOf(a), (counts.get(keyOf(a)) ?? 0) + 1);
        expect([...counts].filter(([, n]) => n > 1), 'alarms seen twice').to.deep.equal([]);
        expect(initial.map(keyOf).filter((k) => counts.get(k) !== 1), 'alarms existing throughout, not seen once').to.deep.equal([]);
        expect(seen.map(keyOf), 'the pages follow one another in key order').to.deep.equal([...seen].sort(byKey).map(keyOf));
        expect(seen.length, 'alarms raised while paging are seen too').to.be.above(initial.length);
      });
    });

    describe('bad parameters', () => {
      beforeEach(() => raise({ id: 'Baseline' }));

      const queries: [string, RegExp][] = [
        ['?id=bad%20id', /^query\.id: /],
        ['?id=A,,B', /^query\.id: /],
        ['?id=A&id=bad%20id', /^query\.id: .*bad id/],
        ['?id=', /^query\.id: /],
        [`?source=${'s'.repeat(257)}`, /^query\.source: /],
        ['?source=a&source=b', /^query\.source: /],
        ['?severity=loud', /^query\.severity: /],
        ['?minSeverity=loud', /^query\.minSeverity: /],
        ['?acknowledged=yes', /^query\.acknowledged: /],
        ['?updatedSince=yesterday', /^query\.updatedSince: /],
        ['?updatedSince=2026-11-22', /^query\.updatedSince: /],
        ['?updatedSince=2026-11-22T10:00:00', /^query\.updatedSince: /],
        ['?updatedSince=-5', /^query\.updatedSince: /],
        ['?limit=0', /^query\.limit: .*at least 1/],
        ['?limit=10001', /^query\.limit: .*at most 10000/],
        ['?limit=ten', /^query\.limit: /],
        ['?limit=5&limit=6', /^query\.limit: /],
        ['?cursor=not%20a%20cursor', /^query\.cursor: /],
        ['?cursor=', /^query\.cursor: /],
        ['?cursor=QUJD', /^query\.cursor: /],
        [`?cursor=${Buffer.from('H12').toString('base64url')}`, /^query\.cursor: /],
        [`?cursor=${Buffer.from('La\u0000s').toString('base64url')}`, /^query\.cursor: /],
        ['?since=3', /^query: .*since/],
        ['?bogus=1&limit=5', /^query: .*bogus/],
      ];
      for (const [query, detail] of queries) {
        it(`answers 400001 naming the parameter for ${query.slice(0, 48)}`, async () => {
          expectError(await api().get(`${ALARMS}${query}`), '400001', detail);
        });
      }
    });
  });

  describe('GET /v4/:project/admin/alarms/history', () => {
    describe('filters', () => {
      let before: number;
      let all: EntryJson[];

      beforeEach(async () => {
        ({ before } = await raiseFixture());
        await raise({ id: 'A', source: 's2', severity: 'critical' });
        all = (await history()).history;
      });

      /** The entries of the whole history whose alarm state `take` accepts. */
      const expected = (take: (a: AlarmJson) => boolean) => all.filter((e) => take(e.alarm)).map((e) => e.revision);
      const revisions = async (query: string) => (await history(query)).history.map((e) => e.revision);

      it('takes several ids, repeated or comma-separated', async () => {
        expect(await revisions('?id=A&id=C')).to.deep.equal(expected((a) => a.id === 'A' || a.id === 'C'));
        expect(await revisions('?id=A,C')).to.deep.equal(expected((a) => a.id === 'A' || a.id === 'C'));
      });

      it('filters by source', async () => {
        expect(await revisions('?source=s1')).to.deep.equal(expected((a) => a.source === 's1'));
        expect(await revisions('?source=')).to.deep.equal(expected((a) => a.source === ''));
      });

      it('filters by the severity of the alarm after each change', async () => {
        expect(await revisions('?severity=minor')).to.deep.equal(expected((a) => a.severity === 'minor'));
        expect(await revisions('?severity=critical')).to.have.length(3);
      });

      it('filters by minimum severity', async () => {
        for (const min of RANK) {
          const rank = RANK.indexOf(min);
          expect(await revisions(`?minSeverity=${min}`), min).to.deep.equal(expected((a) => RANK.indexOf(a.severity) <= rank));
        }
      });

      it('filters by acknowledgement of the alarm after each change', async () => {
        const acked = await history('?acknowledged=true');
        expect(acked.history.map((e) => [e.action, keyOf(e.alarm)])).to.deep.equal([['ACK', 'A/s1']]);
        expect(await revisions('?acknowledged=false')).to.deep.equal(expected((a) => !a.acknowledged));
      });

      it('filters by updatedSince', async () => {
        expect(await revisions(`?updatedSince=${before + 1}`)).to.deep.equal(expected((a) => Date.parse(a.updatedAt) > before));
        expect(await revisions(`?updatedSince=${new Date(before + 1).toISOString()}`)).to.deep.equal(expected((a) => Date.parse(a.updatedAt) > before));
      });

      it('applies every given filter after since, in revision order', async () => {
        const take = (a: AlarmJson) => a.id === 'A' && RANK.indexOf(a.severity) <= RANK.indexOf('minor');
        expect(await revisions('?id=A&minSeverity=minor&since=2')).to.deep.equal(expected(take).filter((r) => r > 2));
      });

      it('answers no total without limit or cursor', async () => {
        expect(Object.keys(await history('?source=s1'))).to.deep.equal(['history', 'revision']);
      });
    });

    describe('pages', () => {
      beforeEach(async () => {
        for (let i = 0; i < 12; i += 1) await raise({ id: `E${i % 4}`, severity: i % 2 === 0 ? 'major' : 'minor' });
      });

      it('answers next when more entries remain, and total with a limit, whatever since', async () => {
        const first = await history('?limit=5&since=2');
        expect(first.history.map((e) => e.revision)).to.deep.equal([3, 4, 5, 6, 7]);
        expect(first.total).to.equal(12);
        expect(first.next).to.be.a('string');
        expect(Object.keys(first)).to.deep.equal(['history', 'revision', 'total', 'next']);

        const pages = await allPages(HISTORY, 'limit=5&since=2');
        expect(pages.flatMap((p) => p.history.map((e) => e.revision))).to.deep.equal([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(pages.at(-1)).to.not.have.property('next');
      });

      it('pages the filtered entries, total counting every match', async () => {
        const pages = await allPages(HISTORY, 'severity=major&limit=4');
        expect(pages.map((p) => p.history.map((e) => e.revision))).to.deep.equal([[1, 3, 5, 7], [9, 11]]);
        for (const p of pages) expect(p.total).to.equal(6);
      });

      it('takes a cursor without a limit, with total', async () => {
        const first = await history('?limit=10');
        const rest = await history(`?cursor=${first.next}`);
        expect(rest.history.map((e) => e.revision)).to.deep.equal([11, 12]);
        expect(rest.total).to.equal(12);
        expect(rest).to.not.have.property('next');
      });

      it('answers next without a limit when more than 1,000 entries remain', async () => {
        for (let i = 0; i < 2; i += 1) await raise({ alarms: Array.from({ length: 500 }, (_, j) => ({ id: `F${j}` })) });
        const page = await history();
        expect(page.history).to.have.length(1000);
        expect(page).to.not.have.property('total');
        const rest = await history(`?cursor=${page.next}`);
        expect(rest.history.map((e) => e.revision)).to.deep.equal([1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012]);
      });
    });

    describe('bad parameters', () => {
      const queries: [string, RegExp][] = [
        ['?id=bad%20id', /^query\.id: /],
        ['?severity=loud', /^query\.severity: /],
        ['?minSeverity=loud', /^query\.minSeverity: /],
        ['?acknowledged=1', /^query\.acknowledged: /],
        ['?updatedSince=soon', /^query\.updatedSince: /],
        ['?limit=0', /^query\.limit: /],
        ['?limit=10001', /^query\.limit: /],
        ['?cursor=%3F%3F', /^query\.cursor: /],
        [`?cursor=${Buffer.from('La\u0000s').toString('base64url')}`, /^query\.cursor: /],
        [`?since=1&cursor=${Buffer.from('H3').toString('base64url')}`, /^query\.cursor: .*since/],
        ['?status=ACTIVATED', /^query: .*status/],
        ['?bogus=1', /^query: .*bogus/],
      ];
      for (const [query, detail] of queries) {
        it(`answers 400001 naming the parameter for ${query.slice(0, 48)}`, async () => {
          expectError(await api().get(`${HISTORY}${query}`), '400001', detail);
        });
      }
    });
  });

  describe('the embedding API', () => {
    beforeEach(() => raiseFixture());

    it('lists with the same filters, typed, and pages with limit and cursor', async () => {
      const { center } = server;
      expect(center.list(P, { id: ['A', 'C'], minSeverity: 'minor' }).alarms.map(keyOf)).to.have.members(['A/s1', 'A/s2']);
      expect(center.list(P, { id: 'A', acknowledged: true }).alarms.map(keyOf)).to.deep.equal(['A/s1']);
      expect(center.list(P, { updatedSince: new Date(0) }).alarms).to.have.length(5);
      const first = center.list(P, { limit: 2 });
      expect(first.alarms.map(keyOf)).to.deep.equal(['A/s1', 'A/s2']);
      expect(first.total).to.equal(5);
      const second = center.list(P, { cursor: first.next });
      expect(second.alarms.map(keyOf)).to.deep.equal(['B/s1', 'C/', 'D/s3']);
      expect(second.next).to.equal(undefined);
    });

    it('reads the history with the same filters', async () => {
      const r = await server.center.history(P, { source: 's1', limit: 2 });
      expect(r.history.map((e) => [e.action, keyOf(e.alarm)])).to.deep.equal([
        ['RAISE', 'A/s1'],
        ['RAISE', 'B/s1'],
      ]);
      expect(r.total).to.equal(4);
      const rest = await server.center.history(P, { source: 's1', cursor: r.next });
      expect(rest.history.map((e) => e.action)).to.deep.equal(['ACK', 'CLEAR']);
    });

    it('refuses a bad filter with 400001 naming it', () => {
      expect(() => server.center.list(P, { minSeverity: 'loud' as 'major' })).to.throw(/minSeverity/);
      expect(() => server.center.list(P, { cursor: 'nope' })).to.throw(/cursor/);
    });
  });
});
