/**
 * Real programs of the Prometheus world (Prometheus, Alertmanager, amtool) for the tests that
 * talk to them.
 *
 * - A server program runs on a free loopback port with its config files in a fresh folder under
 *   the OS temp folder; `start` resolves once its `/-/ready` answers 200 (polled with a deadline),
 *   and rejects with the program's last output lines when it exits or the deadline passes first.
 *   A port taken between finding it free and binding it is worth another try (three in all).
 * - Its output (stdout and stderr, the last OUTPUT_LINES lines) is kept for failure messages.
 * - `stop` sends SIGTERM, then SIGKILL after a deadline, and removes the folder; `usePrograms`
 *   stops every program a test started in an `afterEach` hook, which runs when the test fails too,
 *   and then prints their output. Should the process exit first, an `exit` handler kills what is
 *   left and removes its folders.
 * - A missing program skips the calling test or hook, saying so loudly on stderr; under CI=true
 *   it fails instead, since CI installs them (.ci/run).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import YAML from 'yaml';
import { removeDir, tempDir, waitFor } from './integration.js';
import { freePort } from './pg-process.js';

/** How many of a program's last output lines are kept. */
const OUTPUT_LINES = 60;

/** Where an executable named `command` is on PATH, if it is anywhere. */
export function findProgram(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

const warnedAbout = new Set<string>();

/**
 * Skips the test or hook running as `ctx` unless every command is on PATH, saying which are
 * missing and which Debian package has them, once per command, on stderr; under CI=true it throws
 * instead.
 */
export function requirePrograms(ctx: Mocha.Context, commands: readonly { command: string; debianPackage: string }[]): void {
  const missing = commands.filter((c) => findProgram(c.command) === undefined);
  if (missing.length === 0) return;
  const names = missing.map((c) => `${c.command} (Debian package ${c.debianPackage})`).join(', ');
  if (process.env.CI === 'true') throw new Error(`required under CI=true but not on PATH: ${names}`);
  const unwarned = missing.filter((c) => !warnedAbout.has(c.command));
  if (unwarned.length > 0) {
    for (const c of unwarned) warnedAbout.add(c.command);
    const packages = [...new Set(missing.map((c) => c.debianPackage))].join(' ');
    process.stderr.write(`\n  !!! SKIPPING the tests that need ${names}: not on PATH.\n  !!! Install them with: apt-get install ${packages}\n\n`);
  }
  ctx.skip();
}

/** How to run one server program. */
export interface ProgramSpec {
  /** The executable, looked up on PATH. */
  command: string;
  /** Files written into the program's folder before it starts: name → content. */
  files: Readonly<Record<string, string>>;
  /** The arguments, given the port it must listen on and its folder. */
  args(at: { port: number; dir: string }): string[];
}

/** Programs still running, for the `exit` handler. */
const live = new Set<RunningProgram>();
process.on('exit', () => {
  for (const program of live) program.kill();
});

/** One server program started by `startProgram`. */
export class RunningProgram {
  /** `host:port`, as a Prometheus target is written. */
  readonly address: string;
  /** `http://host:port`. */
  readonly url: string;
  private readonly lines: string[] = [];
  private exitedWith: string | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    this.address = `127.0.0.1:${port}`;
    this.url = `http://${this.address}`;
    const keep = (line: string) => {
      this.lines.push(line);
      if (this.lines.length > OUTPUT_LINES) this.lines.shift();
    };
    if (child.stdout) createInterface({ input: child.stdout }).on('line', keep);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', keep);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.exitedWith ??= `failed: ${err.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.exitedWith = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    live.add(this);
  }

  /** Whether the process has ended. */
  get ended(): boolean {
    return this.exitedWith !== undefined;
  }

  /** The last lines the program printed, under a header naming it and how it ended. */
  output(): string {
    const state = this.exitedWith === undefined ? 'running' : `ended (${this.exitedWith})`;
    return `--- ${this.name} on ${this.address}, ${state}, last ${this.lines.length} output lines:\n${this.lines.join('\n')}\n---`;
  }

  /** Whether the program printed a line `pattern` matches (among the kept ones). */
  printed(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l));
  }

  /** Resolves once `/-/ready` answers 200; rejects with the output when the program ends or `timeoutMs` passes first. */
  async ready(timeoutMs: number): Promise<void> {
    try {
      await waitFor(`${this.name} to be ready`, async () => {
        if (this.ended) throw new Error(`${this.name} ended before it was ready`);
        try {
          return (await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
        } catch {
          return false;
        }
      }, timeoutMs);
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${this.output()}`, { cause: err });
    }
  }

  /** SIGTERM, then SIGKILL when it has not ended after `timeoutMs`; then removes the folder. Safe to call twice. */
  stop(timeoutMs = 5000): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.ended) {
        this.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
        const how = await Promise.race([this.exited, late]);
        clearTimeout(timer);
        if (how === 'late') {
          this.child.kill('SIGKILL');
          await this.exited;
        }
      }
      live.delete(this);
      removeDir(this.dir);
    })();
    return this.stopping;
  }

  /** At once and synchronously, for the `exit` handler: SIGKILL and remove the folder. */
  kill(): void {
    if (!this.ended) this.child.kill('SIGKILL');
    removeDir(this.dir);
  }
}

/** Output that says the port was taken by someone else meanwhile. */
const PORT_TAKEN = /address already in use/i;

/**
 * Starts `spec` on a free loopback port in a fresh folder and resolves once it is ready; on
 * failure the program is stopped, its folder removed, and the error carries its output.
 */
export async function startProgram(spec: ProgramSpec, readyTimeoutMs = 15_000): Promise<RunningProgram> {
  for (let attempt = 1; ; attempt += 1) {
    const dir = tempDir(spec.command);
    for (const [name, content] of Object.entries(spec.files)) fs.writeFileSync(path.join(dir, name), content);
    const port = await freePort();
    const child = spawn(spec.command, spec.args({ port, dir }), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const program = new RunningProgram(spec.command, port, dir, child);
    try {
      await program.ready(readyTimeoutMs);
      return program;
    } catch (err) {
      await program.stop();
      if (attempt === 3 || !program.printed(PORT_TAKEN)) throw err;
    }
  }
}

/**
 * The programs the current test starts, each stopped by an `afterEach` hook that this registers
 * in the enclosing describe; a failed test gets their output on stderr.
 */
export function usePrograms(): { start(spec: ProgramSpec): Promise<RunningProgram> } {
  const started: RunningProgram[] = [];
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && started.length > 0) {
      process.stderr.write(`\n${started.map((p) => p.output()).join('\n')}\n`);
    }
    // In reverse order of start, as everything else is torn down.
    for (const program of started.splice(0).reverse()) await program.stop();
  });
  return {
    async start(spec) {
      const program = await startProgram(spec);
      started.push(program);
      return program;
    },
  };
}

/** Runs a command to its end (at most `timeoutMs`); resolves with its exit code and output, never rejects on a non-zero exit. */
export function runProgram(command: string, args: readonly string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stderr}`, { cause: err }));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** Prometheus, from the Debian package `prometheus`. */
export const PROMETHEUS = { command: 'prometheus', debianPackage: 'prometheus' } as const;
export const PROMTOOL = { command: 'promtool', debianPackage: 'prometheus' } as const;
/** Alertmanager and amtool, from the Debian package `prometheus-alertmanager`. */
export const ALERTMANAGER = { command: 'prometheus-alertmanager', debianPackage: 'prometheus-alertmanager' } as const;
export const AMTOOL = { command: 'amtool', debianPackage: 'prometheus-alertmanager' } as const;

/**
 * A Prometheus with `config` (its `rule_files` set to the one file of `rules`), re-sending firing
 * alerts every second (`--rules.alert.resend-delay=1s`): alerts it sends end 4 × max(resend delay,
 * evaluation interval) after they are sent.
 */
export function prometheusSpec(options: { config: Record<string, unknown>; rules: Record<string, unknown> }): ProgramSpec {
  return {
    command: PROMETHEUS.command,
    files: { 'prometheus.yml': YAML.stringify({ ...options.config, rule_files: ['rules.yml'] }), 'rules.yml': YAML.stringify(options.rules) },
    args: ({ port, dir }) => [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      '--rules.alert.resend-delay=1s',
    ],
  };
}

/** An Alertmanager with `config`, without clustering (an empty `--cluster.listen-address` opens no cluster port). */
export function alertmanagerSpec(config: Record<string, unknown>): ProgramSpec {
  return {
    command: ALERTMANAGER.command,
    files: { 'alertmanager.yml': YAML.stringify(config) },
    args: ({ port, dir }) => [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.path=${path.join(dir, 'data')}`,
      '--cluster.listen-address=',
    ],
  };
}

/** Pipes `text` to `promtool check metrics`; resolves with its exit code and everything it printed. */
export function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  child.stdin.end(text);
  return done;
}
