import { expect } from 'chai';
import { type AlarmCenter } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import type { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { removeDir, tempDir, waitFor } from '../../helpers/integration.js';

const SCOPE = { domain: 'default', project: 'ret' };
const DAY = 86_400_000;

describe('retention', () => {
  const opened: AlarmCenter[] = [];
  const dirs: string[] = [];
  let now = Date.UTC(2026, 10, 23);

  async function open(options: Parameters<typeof openCore>[0] = {}): Promise<AlarmCenter> {
    const dir = tempDir('retention');
    dirs.push(dir);
    // No background pass: each test runs one when it wants.
    const center = await openCore({ dataDir: dir, retentionIntervalMs: 3_600_000, clock: () => now, ...options });
    opened.push(center);
    return center;
  }

  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
    for (const d of dirs.splice(0)) removeDir(d);
  });

  const entries = (center: AlarmCenter) => (partsOf(center).store as SqliteStore).db.prepare('SELECT COUNT(*) AS n, MIN(revision) AS first FROM history').get() as { n: number; first: number };

  it('prunes history older than its age in batches while raises go on, keeping what a restart needs', async function () {
    this.timeout(60_000);
    const center = await open({ historyRetentionDays: 30 });
    const db = (partsOf(center).store as SqliteStore).db;
    // A million entries made 40 days ago, as if committed then (revisions 1…1,000,000).
    const old = now - 40 * DAY;
    const insert = db.prepare(
      `INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count, raised_at, updated_at, at)
       VALUES (?, 'default', 'old', ?, '', 'raise', 'ACTIVATED', 'minor', '{}', 1, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (let r = 1; r <= 1_000_000; r += 1) insert.run(r, `A${r % 1000}`, old, old, old);
    })();
    db.prepare("UPDATE meta SET value = 1000000 WHERE key IN ('revision', 'checkpoint')").run();
    await center.close();
    opened.pop();
    const reopened = await openCore({ dataDir: dirs[0] as string, retentionIntervalMs: 3_600_000, clock: () => now, historyRetentionDays: 30 });
    opened.push(reopened);
    expect(partsOf(reopened).index.revision).to.equal(1_000_000);

    // Raises keep being answered while the pass runs.
    let raising = true;
    let raised = 0;
    const writer = (async () => {
      while (raising) {
        await reopened.raise(SCOPE, { id: `New${raised % 50}` });
        raised += 1;
      }
    })();
    const pass = await partsOf(reopened).retention.runOnce();
    raising = false;
    await writer;

    expect(pass.pruned).to.equal(1_000_000);
    expect(pass.batches).to.equal(4000);
    expect(raised, 'raises went on during the pass').to.be.greaterThan(0);
    expect(entries(reopened)).to.deep.equal({ n: raised, first: 1_000_001 });
    expect((partsOf(reopened).store as SqliteStore).prunedRevision()).to.equal(1_000_000);
  });

  it('keeps at most the newest entries when given a count', async () => {
    const center = await open({ historyMaxEntries: 5 });
    for (let i = 0; i < 12; i += 1) await center.raise(SCOPE, { id: `A${i}` });
    await partsOf(center).retention.runOnce();
    expect(entries(center)).to.deep.equal({ n: 5, first: 8 });
    // The alarms themselves stay; a restart still finds them all.
    await center.close();
    opened.pop();
    const again = await openCore({ dataDir: dirs[0] as string, retentionIntervalMs: 3_600_000 });
    opened.push(again);
    expect(again.list(SCOPE).alarms).to.have.length(12);
    expect(again.list(SCOPE).revision).to.equal(12);
  });

  it('applies the policy by itself every interval', async () => {
    const center = await open({ historyMaxEntries: 2, retentionIntervalMs: 10 });
    for (let i = 0; i < 6; i += 1) await center.raise(SCOPE, { id: `A${i}` });
    await waitFor('the background pass', () => entries(center).n === 2, 5000);
    expect(entries(center).first).to.equal(5);
  });

  it('takes CLEARED alarms out of the list after their time, as PURGE changes kept in history', async () => {
    const center = await open({ clearedRetentionSeconds: 3600 });
    await center.raise(SCOPE, { id: 'Old' });
    await center.clear(SCOPE, 'Old');
    now += 3_000_000;
    await center.raise(SCOPE, { id: 'Recent' });
    await center.clear(SCOPE, 'Recent');
    await center.raise(SCOPE, { id: 'Active' });
    now += 1_000_000;

    await partsOf(center).retention.runOnce();

    expect(center.list(SCOPE).alarms.map((a) => a.id)).to.have.members(['Recent', 'Active']);
    const history = await partsOf(center).store.history(SCOPE, 0, 100);
    expect(history.map((e) => [e.action, e.alarm.id])).to.deep.include.members([['purge', 'Old']]);
    await center.close();
    opened.pop();
    const again = await openCore({ dataDir: dirs[0] as string, retentionIntervalMs: 3_600_000 });
    opened.push(again);
    expect(again.list(SCOPE).alarms.map((a) => a.id)).to.have.members(['Recent', 'Active']);
  });

  it('sends RESYNC to a watcher resuming from before what was pruned', async () => {
    const center = await open({ historyMaxEntries: 2 });
    for (let i = 0; i < 6; i += 1) await center.raise(SCOPE, { id: `A${i}` });
    await partsOf(center).retention.runOnce();
    const got: { action: string; revision: number }[] = [];
    await new Promise<void>((resolve) => {
      center.watch(SCOPE, {
        since: 1,
        onMessage(e) {
          got.push(e);
          resolve();
        },
      });
    });
    expect(got[0]).to.deep.equal({ action: 'RESYNC', revision: 6 });
  });
});
