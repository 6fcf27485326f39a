/**
 * A throwaway PostgreSQL server's process, as the tests and the bench start one in a folder of
 * their own: its pid, whether it still runs, and its stop from an `exit` handler.
 */
import fs from 'node:fs';
import path from 'node:path';

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
