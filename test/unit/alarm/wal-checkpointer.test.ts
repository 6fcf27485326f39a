import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { makeAlarm, type AlarmChange } from '../../../src/alarm/model.js';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { removeDir, tempDir, waitFor } from '../../helpers/integration.js';

function change(revision: number): AlarmChange {
  const alarm = makeAlarm({
    domain: 'd', project: 'p', id: `A${revision}`, source: '', status: 'ACTIVATED', severity: 'minor',
    fieldsJson: JSON.stringify({ detail: 'x'.repeat(2000) }), count: 1, raisedAt: revision, updatedAt: revision, revision,
  });
  return { action: 'raise', alarm, removed: false, at: revision };
}

describe('WalCheckpointer', () => {
  let dir: string;

  beforeEach(() => {
    dir = tempDir('wal-checkpointer');
  });

  afterEach(() => removeDir(dir));

  it('turns SQLite\'s automatic checkpoint off and copies the WAL back from its own thread', async () => {
    const file = path.join(dir, 'alarms.db');
    const store = new SqliteStore({ file });
    try {
      await store.load();
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).to.equal(0);
      for (let r = 1; r <= 600; r += 1) await store.commit([change(r)]);
      const checkpointer = store.walCheckpointer;
      const last = await waitFor('a complete checkpoint', () => {
        const l = checkpointer?.last;
        return l && l.log > 0 && l.checkpointed === l.log ? l : undefined;
      });
      expect(checkpointer?.lastError).to.equal(undefined);
      expect(last.checkpointed).to.be.greaterThan(0);
      // Copied into the database file: it holds the rows without the WAL.
      expect(fs.statSync(file).size).to.be.greaterThan(600 * 2000);
    } finally {
      await store.close();
    }
  });
});
