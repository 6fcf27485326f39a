import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { type AlarmCenter } from '../../src/center.js';
import { openCore, partsOf } from '../helpers/core.js';

const SCOPE = { domain: 'default', project: 'restart' };
const OTHER = { domain: 'tenant-b', project: 'restart' };

describe('AlarmCenter restart', () => {
  let dir: string;
  const opened: AlarmCenter[] = [];

  async function open(): Promise<AlarmCenter> {
    const center = await openCore({ dataDir: dir });
    opened.push(center);
    return center;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-restart-'));
  });

  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same 1,000 alarms and the same revision after a restart', async () => {
    const first = await open();
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        first.raise(SCOPE, {
          id: `Alarm-${i}`,
          source: `svc-${i % 7}`,
          severity: i % 2 === 0 ? 'major' : 'minor',
          fields: { detail: `problem ${i}`, n: i, nested: { ok: i % 3 === 0 } },
        }),
      ),
    );
    const before = first.list(SCOPE);
    await first.close();

    const second = await open();

    expect(before.alarms).to.have.length(1000);
    expect(second.list(SCOPE)).to.deep.equal(before);
  });

  it('keeps counts, clears, re-activations, clear-all and other scopes across a restart', async () => {
    const first = await open();
    await first.raise(SCOPE, { id: 'Flapping', fields: { detail: 'up and down' } });
    await first.clear(SCOPE, 'Flapping');
    await first.raise(SCOPE, { id: 'Steady', severity: 'critical' });
    await first.raise(SCOPE, { id: 'Steady' });
    await first.raise(SCOPE, { id: 'Steady' });
    await first.raise(SCOPE, { id: 'Flapping', fields: { detail: 'down again' } });
    await first.raise(SCOPE, { id: 'Gone' });
    await first.raise(OTHER, { id: 'Elsewhere' });
    await first.clearAll(OTHER);
    await first.raise(OTHER, { id: 'Back' });
    const before = { main: first.list(SCOPE), other: first.list(OTHER) };
    const history = await partsOf(first).service.history(SCOPE, 0, 100);
    await first.close();

    const second = await open();

    expect({ main: second.list(SCOPE), other: second.list(OTHER) }).to.deep.equal(before);
    expect(await partsOf(second).service.history(SCOPE, 0, 100)).to.deep.equal(history);
    const next = await second.raise(SCOPE, { id: 'Steady' });
    expect(next.count).to.equal(4);
    expect(next.revision).to.equal(before.main.revision + 1);
  });

  it('serves the health the alarms imply after a restart', async () => {
    const first = await open();
    await first.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'etcd refused' } });
    await first.close();

    const second = await open();

    expect(await second.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse: etcd refused' });
  });

  it('replays the persisted history to a watcher resuming after a restart', async () => {
    const first = await open();
    for (const id of ['A', 'B', 'C']) await first.raise(SCOPE, { id });
    await first.clear(SCOPE, 'B');
    await first.close();

    const second = await open();
    const events: { action: string; revision: number; alarm?: { id: string } }[] = [];
    const done = new Promise<void>((resolve) => {
      second.watch(SCOPE, {
        since: 2,
        onMessage(e) {
          events.push(e);
          if (e.revision === 5) resolve();
        },
      });
    });
    await second.raise(SCOPE, { id: 'D' });
    await done;
    expect(events.map((e) => [e.action, e.alarm?.id, e.revision])).to.deep.equal([
      ['RAISE', 'C', 3],
      ['CLEAR', 'B', 4],
      ['RAISE', 'D', 5],
    ]);
  });
});
