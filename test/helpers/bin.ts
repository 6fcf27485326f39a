/**
 * The `alarm-center` bin as a child process, for the tests that run the real command: its log
 * lines, its exit, and a plain HTTP client that keeps connections alive.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = path.join(ROOT, 'dist', 'main.js');

/** Builds the bin unless it is built. */
export function ensureBuilt(): void {
  if (fs.existsSync(MAIN)) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}

export type LogLine = Record<string, unknown>;

/** The `alarm-center` bin running as a child process, its stdout read as JSON log lines. */
export class Bin {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  /** The signal that ended the process, when one did. */
  signal: NodeJS.Signals | null = null;
  /** Resolves with the exit code once the process ended and its output was read. */
  readonly exited: Promise<number | null>;
  private readonly events = new EventEmitter();

  constructor(args: string[], env: Record<string, string> = {}) {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ALARM_CENTER_')));
    this.child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.once('exit', (code, signal) => {
      this.exitCode = code;
      this.signal = signal;
    });
    // 'close' comes after the output was read to its end, so every line and stderr are in.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code) => {
        this.events.emit('close');
        resolve(code);
      });
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { unparsed: text };
      }
      this.lines.push(line);
      this.events.emit('line', line);
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The first log line `match` accepts, waiting for it; fails when the process ends first. */
  waitForLine(what: string, match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onLine = (line: LogLine) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const onClose = () => {
        done();
        reject(new Error(`the process exited (${this.exitCode}) before logging ${what}; stderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no log line ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.events.off('line', onLine);
        this.events.off('close', onClose);
      };
      this.events.on('line', onLine);
      this.events.once('close', onClose);
    });
  }

  /** The base URL from the `listening` log line. */
  async url(): Promise<string> {
    const line = await this.waitForLine('"listening"', (l) => l.message === 'listening');
    return line.url as string;
  }

  /** Sends SIGTERM and resolves with the exit code once the output is read. */
  async stop(): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    return this.exited;
  }
}


/** What a test group that runs the bin has: processes and data folders cleaned up after each test. */
export interface BinGroup {
  /** Starts the bin; it is killed after the test if still running. */
  run(args: string[], env?: Record<string, string>): Bin;
  /** A fresh data folder, removed after the test. */
  dataDir(): string;
}

/**
 * Mocha hooks for the enclosing describe: the bin is built once, and after each test every bin
 * the test started is killed (if still running) and every folder it asked for removed.
 */
export function binGroup(prefix: string): BinGroup {
  const started: Bin[] = [];
  const dirs: string[] = [];
  before(function () {
    this.timeout(180_000);
    ensureBuilt();
  });
  afterEach(async () => {
    for (const bin of started.splice(0)) {
      if (bin.running) bin.child.kill('SIGKILL');
      await bin.exited;
    }
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    run(args, env = {}) {
      const bin = new Bin(args, env);
      started.push(bin);
      return bin;
    },
    dataDir() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `alarm-center-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
  };
}

/** POSTs JSON over `agent`; resolves with the status, headers and body text. */
export function postJson(agent: http.Agent, url: string, body: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}
