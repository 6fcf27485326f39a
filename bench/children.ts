/**
 * Servers under test, each in its own process so it has its own event loop and its memory can be
 * read. Every started child is tracked until it exits; `stopAllChildren` and `killAllChildrenNow`
 * end whatever is left, so a failing run leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

const TAIL_LINES = 30;
const running = new Set<ChildServer>();

/** Reads a process's resident set size, in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Reads a process's peak resident set size so far (VmHWM), in bytes, from /proc. */
export function peakRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Finds the url in a winston JSON line whose message is `listening`. */
export function listeningUrl(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { message?: unknown; url?: unknown };
    return entry.message === 'listening' && typeof entry.url === 'string' ? entry.url : undefined;
  } catch {
    return undefined;
  }
}

/** A server process: its output is drained (and its last lines kept for error messages). */
export class ChildServer {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Base url, known once the server is ready. */
  url = '';
  private readonly tail: string[] = [];
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly readers: readline.Interface[] = [];
  private readonly exited: Promise<void>;

  private constructor(name: string, command: string, args: readonly string[], cwd: string) {
    this.name = name;
    this.proc = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', () => resolve()));
    this.exited.then(() => running.delete(this)).catch(() => undefined);
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      if (!stream) continue;
      const reader = readline.createInterface({ input: stream });
      reader.on('line', (line) => this.onLine(line));
      this.readers.push(reader);
    }
  }

  /**
   * Stops splitting stdout into lines (a server logging every request would otherwise cost the
   * load generator, which shares this process); the output is still drained. stderr stays read.
   */
  discardStdout(): void {
    const reader = this.readers[0];
    if (!reader || !this.proc.stdout) return;
    reader.close();
    this.proc.stdout.resume();
  }

  /** Starts `command` in `cwd`; fails when it cannot be spawned. */
  static async start(name: string, command: string, args: readonly string[], cwd: string): Promise<ChildServer> {
    const child = new ChildServer(name, command, args, cwd);
    running.add(child);
    await new Promise<void>((resolve, reject) => {
      child.proc.once('spawn', () => resolve());
      child.proc.once('error', (err) => reject(new Error(`${name} could not start: ${err.message}`)));
    });
    return child;
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resident set size of the server process, in bytes. */
  rss(): number {
    return rssBytes(this.pid);
  }

  /** The highest resident set size the server process has had, in bytes. */
  peakRss(): number {
    return peakRssBytes(this.pid);
  }

  /** The last lines the server printed, for error messages. */
  output(): string {
    return this.tail.join('\n');
  }

  /** Resolves with the first value `match` finds in an output line; fails on exit or after the timeout. */
  waitForLine(match: (line: string) => string | undefined, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.lineListeners.delete(listener);
        this.proc.off('exit', onExit);
        fn();
      };
      const listener = (line: string): void => {
        const found = match(line);
        if (found !== undefined) done(() => resolve(found));
      };
      const onExit = (): void => done(() => reject(this.failure('exited before it was ready')));
      const timer = setTimeout(() => done(() => reject(this.failure(`was not ready within ${timeoutMs} ms`))), timeoutMs);
      this.lineListeners.add(listener);
      this.proc.once('exit', onExit);
    });
  }

  /** Polls `url` until it answers 200; fails on exit or at the deadline. */
  async waitForHttp(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw this.failure('exited before it was ready');
      const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
        async (res) => (await res.arrayBuffer(), res.status === 200),
        () => false,
      );
      if (ok) return;
      await delay(50);
    }
    throw this.failure(`did not answer 200 on ${url} within ${timeoutMs} ms`);
  }

  /** Asks the server to stop (SIGTERM) and kills it when it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    for (const listener of [...this.lineListeners]) listener(line);
  }

  private failure(what: string): Error {
    const output = this.output();
    return new Error(`${this.name} ${what}${output ? `; its last output:\n${output}` : ''}`);
  }
}

/** Stops every child still running. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/** Kills every child still running, synchronously; for the bench's own exit. */
export function killAllChildrenNow(): void {
  for (const c of running) if (c.alive) c.proc.kill('SIGKILL');
}

/** Starts the servers one after the other, runs `fn` with them, and always stops them afterwards. */
export async function withServers<K extends string, T>(
  starts: Record<K, () => Promise<ChildServer>>,
  fn: (servers: Record<K, ChildServer>) => Promise<T>,
): Promise<T> {
  const started: ChildServer[] = [];
  const servers = {} as Record<K, ChildServer>;
  try {
    for (const key of Object.keys(starts) as K[]) {
      const server = await starts[key]();
      started.push(server);
      servers[key] = server;
    }
    return await fn(servers);
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
