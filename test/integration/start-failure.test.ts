import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Bin, ensureBuilt } from '../helpers/bin.js';
import { removeDir, tempDir } from '../helpers/integration.js';

describe('alarm-center (the bin) on a data folder it cannot open', function () {
  this.timeout(30_000);
  let dir: string;
  let bin: Bin | undefined;

  before(function () {
    this.timeout(180_000);
    ensureBuilt();
  });

  beforeEach(() => {
    dir = tempDir('start-failure');
  });

  afterEach(async () => {
    if (bin?.running) bin.child.kill('SIGKILL');
    await bin?.exited;
    removeDir(dir);
  });

  it('exits 1 with an error line naming the database path and the reason', async () => {
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'a regular file, not a folder');

    bin = new Bin([], { ALARM_CENTER_PORT: '0', ALARM_CENTER_DATA_DIR: plain });

    expect(await bin.exited, bin.stderr).to.equal(1);
    expect(bin.lines.find((l) => l.message === 'start failed')).to.include({
      level: 'error',
      error: `cannot open the database ${path.join(plain, 'alarms.db')}: not a directory`,
    });
  });
});
