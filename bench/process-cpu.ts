/**
 * CPU time of a process and of everything it started, from /proc: what a server costs whether it
 * works in one process (Alarm Center, SQLite in it) or in many (PostgreSQL's postmaster and one
 * backend per connection).
 */
import fs from 'node:fs';

/** Linux reports /proc CPU times in USER_HZ, 100 per second. */
const USER_HZ = 100;

/** What one /proc/<pid>/stat says of its process: its parent and its CPU times, in seconds. */
interface Stat {
  ppid: number;
  /** utime + stime: the process's own CPU. */
  own: number;
  /** cutime + cstime: CPU of its children that exited and were waited for. */
  reaped: number;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone. */
function statOf(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which may hold spaces and parentheses: state is [0], ppid [1].
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const at = (i: number): number => Number(fields[i]);
  return { ppid: at(1), own: (at(11) + at(12)) / USER_HZ, reaped: (at(13) + at(14)) / USER_HZ };
}

/** The parent of every running process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid)) continue;
    const s = statOf(pid);
    if (s) out.set(pid, s.ppid);
  }
  return out;
}

/** utime + stime of one process, in seconds; fails when it is gone. */
export function processCpuSeconds(pid: number): number {
  const s = statOf(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return s.own;
}

/**
 * CPU seconds of `root` and of all its descendants, those that exited included (once their parent
 * waited for them, their time is in its cutime and cstime); fails when `root` is gone.
 */
export function treeCpuSeconds(root: number): number {
  const rootStat = statOf(root);
  if (!rootStat) throw new Error(`process ${root} is gone`);
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let total = rootStat.own + rootStat.reaped;
  const pending = [...(children.get(root) ?? [])];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    const s = statOf(pid);
    if (!s) continue;
    total += s.own + s.reaped;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}
