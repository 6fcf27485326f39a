import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DATA_DIR_IN_USE } from '../../../src/alarm/data-lock.js';
import type { AlarmChange } from '../../../src/alarm/model.js';
import { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { removeDir, tempDir } from '../../helpers/integration.js';
import { openRefusal as refusal, storedAlarm } from '../../helpers/store.js';

/** The package root, where a child process resolves `tsx` from. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STORE_MODULE = new URL('../../../src/alarm/sqlite-store.ts', import.meta.url).href;

function raise(id: string, revision: number): AlarmChange {
  return { action: 'raise', alarm: storedAlarm(id, revision), removed: false, at: 1000 };
}

/** `text` as a regular expression matching exactly it. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}


/** A child process holding a store open on `file`; resolves once it says the store is open. */
function holderProcess(file: string): Promise<ChildProcess> {
  const code = `
    const { SqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
    new SqliteStore({ file: ${JSON.stringify(file)} });
    process.stdout.write('open\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('open\n')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before opening the store; stderr: ${stderr}`)));
  });
}

describe('SqliteStore on a data folder another store holds', () => {
  let dir: string;
  let file: string;
  const opened: SqliteStore[] = [];
  const children: ChildProcess[] = [];

  const open = (): SqliteStore => {
    const store = new SqliteStore({ file });
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dir = tempDir('data-lock');
    file = path.join(dir, 'alarms.db');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    for (const store of opened.splice(0)) await store.close();
    removeDir(dir);
  });

  describe('in the same process', () => {
    it('refuses to open, naming the folder and this process', () => {
      open();

      const err = refusal(file);

      expect(err.backendCode).to.equal(DATA_DIR_IN_USE);
      const holder = `process ${process.pid} on host ${os.hostname()}, since `;
      expect(err.message).to.match(
        new RegExp(`^${literal(`the data folder ${dir} is in use by another Alarm Center (${holder}`)}\\d{4}-[^)]+\\); stop it or choose another --data-dir$`),
      );
    });

    it('leaves the holder as it was: its writes succeed, its data is intact, and the next opener is refused too', async () => {
      const first = open();
      await first.load();
      await first.commit([raise('Before', 1)]);

      refusal(file);
      await first.commit([raise('After', 2)]);

      expect(refusal(file).backendCode).to.equal(DATA_DIR_IN_USE);
      await first.close();
      const reopened = open();
      const snapshot = await reopened.load();
      expect(snapshot.alarms.map((a) => a.id).sort()).to.deep.equal(['After', 'Before']);
      expect(snapshot.revision).to.equal(2);
    });

    it('opens once the holder is closed', async () => {
      const first = open();
      await first.load();
      await first.commit([raise('A', 1)]);
      refusal(file);

      await first.close();

      const second = open();
      expect((await second.load()).alarms.map((a) => a.id)).to.deep.equal(['A']);
      await second.commit([raise('B', 2)]);
    });

    it('leaves the folder free when the store fails to open its file', () => {
      fs.writeFileSync(file, 'not a database '.repeat(100));
      expect(refusal(file).message).to.contain('file is not a database');
      fs.rmSync(file);

      expect(() => open()).to.not.throw();
    });

    it('locks nothing for an in-memory database', () => {
      const first = new SqliteStore({ file: ':memory:' });
      opened.push(first);

      expect(() => opened.push(new SqliteStore({ file: ':memory:' }))).to.not.throw();
    });
  });

  describe('in another process', function () {
    this.timeout(20_000);

    it('refuses to open while the holder runs, naming its process', async () => {
      const holder = await holderProcess(file);
      children.push(holder);

      const err = refusal(file);

      expect(err.backendCode).to.equal(DATA_DIR_IN_USE);
      expect(err.message).to.contain(`the data folder ${dir} is in use`).and.contain(`process ${holder.pid} on host`);
    });

    it('leaves no lock behind a holder killed with SIGKILL', async () => {
      const holder = await holderProcess(file);
      children.push(holder);
      refusal(file);

      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;

      open();
      expect(refusal(file).message, 'names the new holder, not the killed one').to.contain(`process ${process.pid} on host`);
    });
  });
});
