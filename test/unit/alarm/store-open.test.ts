import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createAlarmCenter } from '../../../src/root.js';
import { removeDir, tempDir } from '../../helpers/integration.js';
import { rejection } from '../../helpers/promises.js';
import { openRefusal as openError } from '../../helpers/store.js';

describe('SqliteStore on a path it cannot open', () => {
  let dir: string;

  beforeEach(() => {
    dir = tempDir('store-open');
  });

  afterEach(() => removeDir(dir));


  it('names the path and "not a directory" when the data folder is under a regular file', () => {
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'x');
    const file = path.join(plain, 'data', 'alarms.db');

    expect(openError(file).message).to.equal(`cannot open the database ${file}: not a directory`);
  });

  it('names the path and "not a directory" when the data folder is a regular file', () => {
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'x');
    const file = path.join(plain, 'alarms.db');

    expect(openError(file).message).to.equal(`cannot open the database ${file}: not a directory`);
  });

  it('names the path and "is a directory" when the database is a folder', () => {
    const file = path.join(dir, 'alarms.db');
    fs.mkdirSync(file);

    expect(openError(file).message).to.equal(`cannot open the database ${file}: is a directory`);
  });

  it('names the full path when given a relative one', () => {
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'x');
    const file = path.join(plain, 'alarms.db');

    expect(openError(path.relative(process.cwd(), file)).message).to.equal(`cannot open the database ${file}: not a directory`);
  });

  it('names the path and "permission denied" when the data folder is not writable', function () {
    if (process.getuid?.() === 0) this.skip(); // root writes anywhere
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o500 });
    const file = path.join(data, 'alarms.db');

    expect(openError(file).message).to.match(new RegExp(`^cannot open the database ${file}: permission denied`));
  });

  it('names the path when the file is not a database', () => {
    const file = path.join(dir, 'alarms.db');
    fs.writeFileSync(file, 'not a database '.repeat(100));

    expect(openError(file).message).to.equal(`cannot open the database ${file}: file is not a database`);
  });

  it('names the path and the reason from createAlarmCenter', async () => {
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'x');

    const err = await rejection(createAlarmCenter({ dataDir: plain }));

    expect((err as Error).message).to.equal(`cannot open the database ${path.join(plain, 'alarms.db')}: not a directory`);
  });
});
