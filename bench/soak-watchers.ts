/**
 * The soak's WebSocket watchers, in a process of their own so their receiving does not share
 * the load generator's event loop. Started by soak.ts as
 * `node --import tsx bench/soak-watchers.ts --url HTTP_URL --projects P1,P2,… --per-project N`.
 *
 * Protocol with the parent: one JSON line on stdout once every watcher is open
 * (`{"type":"opened",…}`); on each SIGUSR2, one JSON line with the tally so far
 * (`{"type":"tally",…}`); on SIGTERM the watchers are closed and the process exits. A watcher
 * that cannot open is an error: it goes to stderr with a non-zero exit.
 *
 * Watchers follow the live tail and are never reopened: a watcher the server closes stays
 * counted as closed. Per message only the trailing `"revision":N}` is read (no JSON.parse); a
 * revision not above the watcher's last one counts as a duplicate.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { openWatcher } from './watcher-client.js';

const CLOSE_GRACE_MS = 2000;
const RESYNC_PREFIX = Buffer.from('{"action":"RESYNC"');
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CLOSING_BRACE = 0x7d;

interface Options {
  url: string;
  projects: string[];
  perProject: number;
  inFlight: number;
}

/** What the watchers of one project received, one array slot per watcher. */
export interface ProjectTally {
  /** Changes received, each revision counted once. */
  unique: number[];
  /** RESYNC messages received. */
  resyncs: number[];
  /** 1 when the server closed the watcher. */
  closed: number[];
  duplicates: number;
}

/** The tally line written on SIGUSR2. */
export interface WatchersTally {
  type: 'tally';
  messages: number;
  resyncs: number;
  closed: number;
  errors: number;
  projects: Record<string, ProjectTally>;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      projects: { type: 'string' },
      'per-project': { type: 'string' },
      'in-flight': { type: 'string', default: '100' },
    },
  });
  if (!values.url) throw new Error('--url is required');
  const projects = (values.projects ?? '').split(',').filter((p) => p !== '');
  if (projects.length === 0) throw new Error('--projects must name at least one project');
  const perProject = Number(values['per-project']);
  const inFlight = Number(values['in-flight']);
  if (!Number.isInteger(perProject) || perProject < 1) throw new Error('--per-project must be an integer ≥ 1');
  if (!Number.isInteger(inFlight) || inFlight < 1) throw new Error('--in-flight must be an integer ≥ 1');
  return { url: values.url.replace(/^http/, 'ws'), projects, perProject, inFlight };
}

/** The number closing a message, `…"revision":N}`; -1 when there is none. */
function trailingRevision(data: Buffer): number {
  if (data[data.length - 1] !== CLOSING_BRACE) return -1;
  let value = 0;
  let scale = 1;
  for (let i = data.length - 2; i >= 0; i -= 1) {
    const c = data[i] as number;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    value += (c - DIGIT_0) * scale;
    scale *= 10;
  }
  return scale === 1 ? -1 : value;
}

function isResync(data: Buffer): boolean {
  return data.length >= RESYNC_PREFIX.length && data.compare(RESYNC_PREFIX, 0, RESYNC_PREFIX.length, 0, RESYNC_PREFIX.length) === 0;
}

/** The counts of every watcher, kept per project. */
class Tally {
  messages = 0;
  resyncs = 0;
  closed = 0;
  errors = 0;
  private readonly projects = new Map<string, ProjectTally>();
  private readonly last = new Map<string, number[]>();

  constructor(projects: readonly string[], perProject: number) {
    for (const p of projects) {
      const zeros = (): number[] => new Array<number>(perProject).fill(0);
      this.projects.set(p, { unique: zeros(), resyncs: zeros(), closed: zeros(), duplicates: 0 });
      this.last.set(p, zeros());
    }
  }

  receive(project: string, w: number, data: Buffer): void {
    this.messages += 1;
    const t = this.projects.get(project) as ProjectTally;
    const last = this.last.get(project) as number[];
    const revision = trailingRevision(data);
    if (isResync(data)) {
      this.resyncs += 1;
      t.resyncs[w] = (t.resyncs[w] as number) + 1;
      if (revision > (last[w] as number)) last[w] = revision;
      return;
    }
    if (revision > (last[w] as number)) {
      last[w] = revision;
      t.unique[w] = (t.unique[w] as number) + 1;
    } else {
      t.duplicates += 1;
    }
  }

  close(project: string, w: number): void {
    this.closed += 1;
    (this.projects.get(project) as ProjectTally).closed[w] = 1;
  }

  toJson(): WatchersTally {
    const { messages, resyncs, closed, errors } = this;
    return { type: 'tally', messages, resyncs, closed, errors, projects: Object.fromEntries(this.projects) };
  }
}

/** Opens every watcher, `inFlight` at a time, round-robin over the projects. */
async function openAll(o: Options, tally: Tally, ending: { value: boolean }): Promise<WebSocket[]> {
  const total = o.projects.length * o.perProject;
  const sockets: WebSocket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const project = o.projects[n % o.projects.length] as string;
      const w = Math.floor(n / o.projects.length);
      const ws = await openWatcher(`${o.url}/v4/${project}/admin/alarms/watch`).catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`watcher ${n + 1} of ${total} (project ${project}) could not open: ${message}`, { cause: err });
      });
      ws.on('message', (data: Buffer) => tally.receive(project, w, data));
      ws.on('error', () => {
        tally.errors += 1;
      });
      ws.on('close', () => {
        if (!ending.value) tally.close(project, w);
      });
      sockets.push(ws);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.inFlight, total) }, worker));
  return sockets;
}

function line(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Closes every watcher and resolves once all are closed or the grace time is over. */
function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  const open = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = open.length;
    const timer = setTimeout(() => {
      for (const ws of open) ws.terminate();
      resolve();
    }, CLOSE_GRACE_MS);
    for (const ws of open) {
      ws.once('close', () => {
        left -= 1;
        if (left > 0) return;
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    }
  });
}

async function main(): Promise<void> {
  const o = options();
  const tally = new Tally(o.projects, o.perProject);
  const ending = { value: false };
  process.on('SIGUSR2', () => line(tally.toJson()));
  const started = performance.now();
  const sockets = await openAll(o, tally, ending);
  line({ type: 'opened', watchers: sockets.length, ms: performance.now() - started });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  ending.value = true;
  await closeAll(sockets);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak watchers failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
