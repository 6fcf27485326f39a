import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type AlarmCenter } from '../../src/center.js';
import { createAlarmCenter } from '../../src/root.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/crash-writer.ts', import.meta.url));
/** The package root, where the child resolves `tsx` from. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCOPE = { domain: 'default', project: 'crash' };
const WANTED = 200;
const DEADLINE_MS = 15_000;

interface Acknowledged {
  id: string;
  count: number;
  fields: Record<string, unknown>;
}

/**
 * Resolves with the complete lines the child printed once there are at least `wanted`; rejects
 * when the child exits first or the deadline passes.
 */
function acknowledged(child: ChildProcess, wanted: number, deadlineMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const lines: string[] = [];
    let stderr = '';
    const deadline = setTimeout(() => {
      finish();
      reject(new Error(`only ${lines.length} raises were acknowledged within ${deadlineMs} ms; stderr: ${stderr}`));
    }, deadlineMs);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length >= wanted) {
        finish();
        resolve(lines);
      }
    };
    const onErr = (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    };
    const onExit = (code: number | null, signal: string | null) => {
      finish();
      reject(new Error(`the writer exited early (code ${code}, signal ${signal}); stderr: ${stderr}`));
    };
    function finish() {
      clearTimeout(deadline);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function parse(line: string): Acknowledged {
  const [id, count, ...rest] = line.split(' ');
  return { id: id as string, count: Number(count), fields: JSON.parse(rest.join(' ')) as Record<string, unknown> };
}

describe('AlarmCenter after a kill -9', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let center: AlarmCenter | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-crash-'));
  });

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    child = undefined;
    await center?.close();
    center = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every raise it acknowledged before the kill', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });

    const lines = await acknowledged(child, WANTED, DEADLINE_MS);
    child.kill('SIGKILL');
    await exited(child);
    const acked = lines.map(parse);

    center = await createAlarmCenter({ dataDir: dir });
    const stored = new Map(center.list(SCOPE).alarms.map((a) => [a.id, a]));

    expect(child.signalCode).to.equal('SIGKILL');
    expect(acked.length).to.be.at.least(WANTED);
    const missing = acked.filter((a) => !stored.has(a.id)).map((a) => a.id);
    expect(missing, 'acknowledged raises lost by the kill').to.deep.equal([]);
    for (const a of acked) {
      const s = stored.get(a.id);
      expect({ id: s?.id, count: s?.count, fields: s?.fields, status: s?.status }).to.deep.equal({
        id: a.id,
        count: a.count,
        fields: a.fields,
        status: 'ACTIVATED',
      });
    }
    expect(stored.size).to.be.at.least(acked.length);
    expect(center.list(SCOPE).revision).to.be.at.least(acked.length);
  });
});
