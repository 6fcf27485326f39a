import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { type AlarmCenter } from '../../../src/center.js';
import { createAlarmCenter } from '../../../src/root.js';
import { AlarmCenterError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { removeDir, tempDir, waitFor } from '../../helpers/integration.js';
import { rejection } from '../../helpers/promises.js';

const SCOPE = { domain: 'default', project: 'p1' };

describe('AlarmCenter whose database file is deleted or replaced while it runs', () => {
  let dir: string;
  let file: string;
  let center: AlarmCenter;
  let logs: Record<string, unknown>[];

  const logger = () =>
    createLogger({
      out: new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().trim().split('\n')) logs.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    });
  const selfAlarm = () => center.list(SCOPE, { id: 'BackendConnectionRefuse', source: 'alarm-center' }).alarms;
  const storeCheck = async () => (await center.ready()).results.find((r) => r.name === 'store');

  beforeEach(async () => {
    dir = tempDir('file-lost');
    file = path.join(dir, 'alarms.db');
    logs = [];
  });

  afterEach(async () => {
    await center.close();
    removeDir(dir);
  });

  describe('deleted', () => {
    beforeEach(async () => {
      center = await createAlarmCenter({ dataDir: dir, logger: logger() });
      await center.raise(SCOPE, { id: 'Before' });
      fs.rmSync(file);
    });

    it('refuses a raise with 503001 naming the path and saying a restart is needed', async () => {
      const err = await rejection(center.raise(SCOPE, { id: 'Lost' }));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
      expect((err as AlarmCenterError).detail).to.contain(file).and.match(/deleted/).and.match(/restart/i);
      expect(center.list(SCOPE, { id: 'Lost' }).alarms).to.deep.equal([]);
    });

    it('fails readiness on the store check and lists its own BackendConnectionRefuse alarm', async () => {
      await rejection(center.raise(SCOPE, { id: 'Lost' }));

      const check = await storeCheck();
      const [self] = selfAlarm();

      expect(check?.healthy).to.equal(false);
      expect(check?.detail).to.contain(file);
      expect(self).to.include({ id: 'BackendConnectionRefuse', source: 'alarm-center', status: 'ACTIVATED' });
      expect(self?.fields.detail).to.contain(file);
      expect((await center.health(SCOPE)).healthy).to.equal(false);
    });

    it('does not recover by itself: writes are still refused and its alarm stays once the readiness hold is over', async () => {
      await center.close();
      center = await createAlarmCenter({ dataDir: dir, readinessHoldMs: 0 });
      fs.rmSync(file);
      await rejection(center.raise(SCOPE, { id: 'Lost1' }));

      const again = await rejection(center.raise(SCOPE, { id: 'Lost2' }));

      expect(again).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
      expect((await storeCheck())?.healthy).to.equal(false);
      expect(selfAlarm().map((a) => [a.status, a.count])).to.deep.equal([['ACTIVATED', 2]]);
    });

    it('writes a log line at error naming the path', async () => {
      await rejection(center.raise(SCOPE, { id: 'Lost' }));

      const line = await waitFor('an error line naming the database', () =>
        logs.find((l) => l.level === 'error' && JSON.stringify(l).includes(file)),
      );
      expect(line.error).to.match(/deleted/);
    });
  });

  it('refuses writes once the file at the path is another database', async () => {
    center = await createAlarmCenter({ dataDir: dir });
    await center.raise(SCOPE, { id: 'Before' });
    const other = path.join(dir, 'other.db');
    fs.copyFileSync(file, other);
    fs.renameSync(other, file);

    const err = await rejection(center.raise(SCOPE, { id: 'Lost' }));

    expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
    expect((err as AlarmCenterError).detail).to.contain(file).and.match(/replaced/);
    expect((await storeCheck())?.healthy).to.equal(false);
  });

  it('notices a deleted file without a write: raises its own alarm, fails readiness and logs the path', async () => {
    center = await createAlarmCenter({ store: new SqliteStore({ file, fileCheckMs: 10 }), logger: logger() });
    await center.raise(SCOPE, { id: 'Before' });

    fs.rmSync(file);

    const [self] = await waitFor('its own alarm', () => (selfAlarm().length > 0 ? selfAlarm() : undefined));
    expect(self).to.include({ status: 'ACTIVATED', count: 1 });
    expect(self?.fields.detail).to.contain(file);
    expect((await storeCheck())?.healthy).to.equal(false);
    await waitFor('an error line naming the database', () => logs.find((l) => l.level === 'error' && JSON.stringify(l).includes(file)));
  });

  it('checks nothing for an in-memory database', async () => {
    const store = new SqliteStore({ file: ':memory:', fileCheckMs: 1 });
    center = await createAlarmCenter({ store });

    await center.raise(SCOPE, { id: 'InMemory' });

    expect((await storeCheck())?.healthy).to.equal(true);
    expect(center.list(SCOPE).alarms.map((a) => a.id)).to.deep.equal(['InMemory']);
  });
});
