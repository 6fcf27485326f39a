import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WalFlusher } from '../../../src/alarm/wal-flusher.js';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { makeAlarm, type AlarmChange } from '../../../src/alarm/model.js';

type Done = (err: NodeJS.ErrnoException | null) => void;

/** A sync call the test completes by hand, recording each call. */
function heldSync() {
  const calls: Done[] = [];
  return {
    calls,
    sync: (_fd: number, done: Done) => {
      calls.push(done);
    },
  };
}

function tempWal(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-wal-'));
  const file = path.join(dir, 'x.db-wal');
  fs.writeFileSync(file, '');
  return file;
}

/** Whether the promise has settled, checked after pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((r) => setImmediate(r));
  return done;
}

describe('WalFlusher', () => {
  describe('#flush', () => {
    it('resolves once the sync it started completes', async () => {
      const held = heldSync();
      const flusher = new WalFlusher(tempWal(), held.sync);

      const flushed = flusher.flush();
      expect(held.calls).to.have.length(1);
      expect(await settled(flushed)).to.equal(false);

      held.calls[0]?.(null);
      await flushed;
    });

    it('makes a flush asked during a running sync wait for a second sync, shared by all such flushes', async () => {
      const held = heldSync();
      const flusher = new WalFlusher(tempWal(), held.sync);
      const first = flusher.flush();
      const second = flusher.flush();
      const third = flusher.flush();

      held.calls[0]?.(null);
      await first;
      expect(await settled(second), 'a sync that began before it does not cover it').to.equal(false);
      expect(held.calls).to.have.length(2);

      held.calls[1]?.(null);
      await Promise.all([second, third]);
      expect(held.calls).to.have.length(2);
    });

    it('rejects with the sync error', async () => {
      const held = heldSync();
      const flusher = new WalFlusher(tempWal(), held.sync);
      const flushed = flusher.flush();
      const error = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

      held.calls[0]?.(error);

      const err = await flushed.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.equal(error);
    });
  });

  describe('#idle', () => {
    it('waits for the running and the queued sync', async () => {
      const held = heldSync();
      const flusher = new WalFlusher(tempWal(), held.sync);
      void flusher.flush();
      void flusher.flush();
      const idle = flusher.idle();

      held.calls[0]?.(null);
      expect(await settled(idle)).to.equal(false);
      await new Promise<void>((r) => setImmediate(r));
      held.calls[1]?.(null);
      await idle;
    });
  });
});

describe('SqliteStore durability full', () => {
  function change(source: string, revision: number): AlarmChange {
    const alarm = makeAlarm({
      domain: 'default',
      project: 'default',
      id: 'A',
      source,
      status: 'ACTIVATED',
      severity: 'indeterminate',
      fieldsJson: '{}',
      count: 1,
      raisedAt: 1,
      updatedAt: 1,
      revision,
    });
    return { action: 'raise', alarm, removed: false, at: 1 };
  }

  it('does not resolve a commit before the WAL sync that follows it has completed', async () => {
    const held = heldSync();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-store-'));
    const store = new SqliteStore({ file: path.join(dir, 'alarms.db'), walSync: held.sync });

    const committed = store.commit([change('s1', 1)]);
    expect(await settled(committed)).to.equal(false);
    expect(held.calls).to.have.length(1);

    held.calls[0]?.(null);
    await committed;
    await store.close();
  });

  it('rejects the commit when the WAL sync fails', async () => {
    const held = heldSync();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-store-'));
    const store = new SqliteStore({ file: path.join(dir, 'alarms.db'), walSync: held.sync });

    const committed = store.commit([change('s1', 1)]);
    await new Promise<void>((r) => setImmediate(r));
    held.calls[0]?.(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));

    const err = await committed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(Error).with.property('message').that.contains('EIO');
    await store.close();
  });
});
