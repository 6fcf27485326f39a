import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { type AlarmCenter } from '../../../src/center.js';
import { createAlarmCenter } from '../../../src/root.js';
import { AlarmCenterError } from '../../../src/errors.js';
import { rejection } from '../../helpers/promises.js';

const SCOPE = { domain: 'default', project: 'p1' };
/** Larger than a page, so storing it needs pages the database does not have yet. */
const BIG = { detail: 'x'.repeat(12_000) };

describe('AlarmCenter on a failing store', () => {
  let dir: string;
  let store: SqliteStore;
  let center: AlarmCenter;

  /** Caps the database at its current size, so the next write that needs a page fails with SQLITE_FULL. */
  function fillDisk(): void {
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages}`);
  }

  function freeDisk(): void {
    store.db.pragma('max_page_count = 1073741823');
  }

  const selfAlarm = () =>
    center.list(SCOPE, { id: 'BackendConnectionRefuse', source: 'alarm-center' }).alarms;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-fault-'));
    store = new SqliteStore({ file: path.join(dir, 'alarms.db') });
    center = await createAlarmCenter({ store });
    await center.raise(SCOPE, { id: 'Existing', fields: { detail: 'before the fault' } });
  });

  afterEach(async () => {
    await center.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers raises with 503001 and keeps them out of the list while the disk is full', async () => {
    const before = center.list(SCOPE);
    fillDisk();

    const results = await Promise.allSettled([
      center.raise(SCOPE, { id: 'Lost1', fields: BIG }),
      center.raise(SCOPE, { id: 'Lost2', fields: BIG }),
    ]);

    for (const r of results) {
      expect(r.status).to.equal('rejected');
      const reason = (r as PromiseRejectedResult).reason as unknown;
      expect(reason).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
    }
    expect(center.list(SCOPE, { id: 'Lost1' }).alarms).to.deep.equal([]);
    expect(center.list(SCOPE, { id: 'Lost2' }).alarms).to.deep.equal([]);
    expect(center.list(SCOPE, { id: 'Existing' }).alarms).to.deep.equal(before.alarms);
    expect(center.list(SCOPE).revision).to.equal(before.revision);
    expect((await store.load()).alarms.map((a) => a.id)).to.deep.equal(['Existing']);
  });

  it("raises its own BackendConnectionRefuse alarm with source 'alarm-center' and the store's message", async () => {
    fillDisk();

    const err = await rejection(center.raise(SCOPE, { id: 'Lost', fields: BIG }));

    const message = (err as AlarmCenterError).detail;
    const [self] = selfAlarm();
    expect(self).to.include({ id: 'BackendConnectionRefuse', source: 'alarm-center', status: 'ACTIVATED' });
    expect(self?.fields.detail).to.be.a('string').and.not.equal('');
    expect(message).to.contain(self?.fields.detail as string);
    expect(self?.fields.detail).to.match(/full/i);
    expect(center.list({ domain: 'other', project: 'elsewhere' }).alarms.map((a) => a.source)).to.include('alarm-center');
  });

  it('reports the cluster unhealthy with the store error as detail, and readiness failing on the store check', async () => {
    fillDisk();
    await rejection(center.raise(SCOPE, { id: 'Lost', fields: BIG }));
    const detail = selfAlarm()[0]?.fields.detail;

    const health = await center.health(SCOPE);
    const ready = await center.ready();

    expect(health).to.deep.equal({ healthy: false, detail: `BackendConnectionRefuse/alarm-center: ${String(detail)}` });
    expect(ready.healthy).to.equal(false);
    expect(ready.results.find((r) => r.name === 'store')).to.deep.equal({ name: 'store', healthy: false, detail });
    expect(ready.results.filter((r) => r.name !== 'store').every((r) => r.healthy)).to.equal(true);
  });

  it('counts repeated failures on the same self alarm', async () => {
    fillDisk();

    await rejection(center.raise(SCOPE, { id: 'Lost1', fields: BIG }));
    await rejection(center.raise(SCOPE, { id: 'Lost2', fields: BIG }));

    expect(selfAlarm().map((a) => [a.status, a.count])).to.deep.equal([['ACTIVATED', 2]]);
  });

  it('takes writes again once the store recovers, clears its own alarm and turns healthy', async () => {
    fillDisk();
    await rejection(center.raise(SCOPE, { id: 'Lost', fields: BIG }));
    freeDisk();

    const saved = await center.raise(SCOPE, { id: 'Saved', fields: BIG });

    expect(saved.status).to.equal('ACTIVATED');
    expect(center.list(SCOPE, { id: 'Saved' }).alarms).to.deep.equal([saved]);
    expect(selfAlarm().map((a) => a.status)).to.deep.equal(['CLEARED']);
    expect(selfAlarm()[0]?.clearedAt).to.be.a('string');
    expect(await center.health(SCOPE)).to.deep.equal({ healthy: true });
    expect((await center.ready()).healthy).to.equal(true);
    expect((await store.load()).alarms.map((a) => a.id)).to.have.members(['Existing', 'Saved']);
  });
});
