import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { type AlarmCenter } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { removeDir, tempDir, waitFor } from '../../helpers/integration.js';

const SCOPE = { domain: 'default', project: 'burst' };
const MiB = 1024 * 1024;
/** Nearly the largest fields an alarm may carry (16 KiB). */
const LARGE = 16_000;

describe('SqliteStore WAL size', () => {
  let dir: string;
  let file: string;
  const opened: AlarmCenter[] = [];

  const walSize = () => fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;

  beforeEach(() => {
    dir = tempDir('wal-bound');
    file = path.join(dir, 'alarms.db');
  });

  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
    removeDir(dir);
  });

  it('limits the WAL left behind to 64 MiB by default', async () => {
    const center = await openCore({ dataDir: dir });
    opened.push(center);

    expect((partsOf(center).store as SqliteStore).db.pragma('journal_size_limit', { simple: true })).to.equal(64 * MiB);
  });

  it('keeps the WAL near its limit through a burst of large alarms, truncates it once idle, and loses none of them', async () => {
    const limit = 4 * MiB;
    // Checkpoints of the alarms table every 1,000 alarms (16 MiB) run during the burst, too.
    const store = new SqliteStore({ file, walLimitBytes: limit, walIdleMs: 50, checkpointEvery: 1000 });
    // Batches of at most 64 alarms: the WAL may pass its limit by one commit of about 1 MiB.
    const center = await openCore({ store, maxBatch: 64 });
    opened.push(center);
    let peak = 0;
    const commit = store.commitPipelined.bind(store);
    // Sampled around every commit: what the checkpoints of the alarms table wrote, too, since they run between commits.
    store.commitPipelined = async (changes) => {
      peak = Math.max(peak, walSize());
      const result = await commit(changes);
      peak = Math.max(peak, walSize());
      return result;
    };
    const count = 3000;

    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        center.raise(SCOPE, { id: `Large-${i}`, fields: { detail: String(i % 10).repeat(LARGE) } }),
      ),
    );

    // The burst wrote about 12 times the limit; the WAL never held much more than the limit.
    expect(peak, `largest WAL: ${(peak / MiB).toFixed(1)} MiB`).to.be.above(0).and.at.most(limit + 2 * MiB);
    await waitFor('the WAL truncated after the burst', () => walSize() === 0);
    await center.close();
    opened.pop();
    const reopened = await openCore({ dataDir: dir });
    opened.push(reopened);
    const alarms = reopened.list(SCOPE).alarms;
    expect(alarms).to.have.length(count);
    expect(alarms.every((a) => (a.fields.detail as string).length === LARGE)).to.equal(true);
  });

  it('takes writes again after truncating the WAL, and keeps them across a restart', async () => {
    const store = new SqliteStore({ file, walIdleMs: 20 });
    const center = await openCore({ store });
    opened.push(center);
    await center.raise(SCOPE, { id: 'Before', fields: { detail: 'x'.repeat(LARGE) } });
    await waitFor('the WAL truncated once idle', () => walSize() === 0);

    await center.raise(SCOPE, { id: 'After', fields: { detail: 'y'.repeat(LARGE) } });

    expect(walSize()).to.be.above(LARGE);
    await waitFor('the WAL truncated again', () => walSize() === 0);
    await center.close();
    opened.pop();
    const reopened = await openCore({ dataDir: dir });
    opened.push(reopened);
    expect(reopened.list(SCOPE).alarms.map((a) => [a.id, (a.fields.detail as string).length])).to.deep.equal([
      ['Before', LARGE],
      ['After', LARGE],
    ]);
  });
});
