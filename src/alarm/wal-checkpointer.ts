import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code: its own connection to the database, running a PASSIVE WAL checkpoint on
 * each request, followed by a TRUNCATE one for a 'truncate' request. TRUNCATE holds the writer's
 * lock, so it runs only once PASSIVE copied every frame and has nothing left but to empty the
 * file. Inline (no file of its own) so that it runs the same from src/ and dist/.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    const truncated = m === 'truncate' && r.busy === 0 && r.checkpointed === r.log
      && db.pragma('wal_checkpoint(TRUNCATE)')[0].busy === 0;
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed, truncated });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err) });
  }
});
`;

/** The WAL size past which the writer waits for a checkpoint, and SQLite's `journal_size_limit`. */
export const DEFAULT_WAL_LIMIT_BYTES = 64 * 1024 * 1024;

/** How a WalCheckpointer paces its checkpoints. */
export interface WalCheckpointerOptions {
  /** Commits between checkpoints (default 256). */
  every?: number;
  /** WAL file size past which the next commit waits for a checkpoint (default 64 MiB). */
  limitBytes?: number;
  /** Milliseconds without a commit after which the WAL file is truncated to nothing (default 1,000). */
  idleMs?: number;
}

type Request = 'checkpoint' | 'truncate';

/**
 * Copies the WAL back into the database file off the event loop, and keeps the WAL file small.
 *
 * - SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past 1,000 pages and
 *   blocks the event loop for as long as the copy and its fsync take (tens of milliseconds); with
 *   it turned off, this worker's connection checkpoints instead, PASSIVE so it never waits on the
 *   writer, whenever `every` commits were made since the last one.
 * - The WAL only starts over from its beginning when a commit finds every frame copied, which a
 *   steady stream of commits racing the worker never does: the file would grow without end (3.4
 *   GB in a burst of large alarms). So once the file passes `limitBytes`, the writer asks for
 *   `room()` before its next commit and waits (without blocking the event loop) for a
 *   checkpoint made after its last commit; that commit then starts the WAL over, and SQLite's
 *   `journal_size_limit` (set by the store to the same limit) cuts the file back to the limit.
 * - After `idleMs` without a commit the file is truncated to nothing. A commit made during the
 *   truncation waits for it in SQLite's busy handler, on the event loop, but only for as long as
 *   emptying the file takes: PASSIVE copied the frames first, without the writer's lock.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly walPath: string;
  private readonly every: number;
  private readonly limitBytes: number;
  private readonly idleMs: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private inFlight = false;
  /** A request to post once the one in flight is answered. */
  private queued: Request | undefined;
  private written = 0;
  /** Commits so far, and how many of them the checkpoint in flight covers. */
  private commits = 0;
  private covers = 0;
  /** Commits made since the last truncation was asked for. */
  private dirty = false;
  /** The WAL file was past its limit after the last commit. */
  private full = false;
  /** Writers waiting, in `room()`, for a checkpoint covering their last commit. */
  private waiters: { upTo: number; resolve: () => void }[] = [];
  /** The worker died: no checkpoint will come, so no writer may wait for one. */
  private dead = false;
  private closed = false;
  /** The last failure, kept for diagnosis; checkpoints are retried on the next writes. */
  lastError: string | undefined;
  /** The last checkpoint's WAL frames and how many of them it copied into the database. */
  last: { log: number; checkpointed: number } | undefined;

  constructor(file: string, options: WalCheckpointerOptions = {}) {
    this.walPath = `${file}-wal`;
    this.every = options.every ?? 256;
    this.limitBytes = options.limitBytes ?? DEFAULT_WAL_LIMIT_BYTES;
    this.idleMs = options.idleMs ?? 1000;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, driver } });
    this.worker.unref();
    this.worker.on('message', (m: { ok: boolean; error?: string; log?: number; checkpointed?: number; truncated?: boolean }) => {
      this.lastError = m.ok ? undefined : m.error;
      if (m.ok) this.last = { log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 };
      if (m.truncated && !this.dirty) this.full = false;
      this.answered();
    });
    this.worker.on('error', (err) => {
      this.lastError = err.message;
      this.dead = true;
      this.answered();
    });
  }

  /** Notes a commit; asks for a checkpoint once enough have gone by or the WAL passed its limit. */
  committed(): void {
    this.written += 1;
    this.commits += 1;
    this.dirty = true;
    if (this.closed || this.dead) return;
    this.idleTimer ??= setTimeout(() => this.idle(), this.idleMs).unref();
    this.idleTimer.refresh();
    this.full = (fs.statSync(this.walPath, { throwIfNoEntry: false })?.size ?? 0) > this.limitBytes;
    if (this.full || this.written >= this.every) this.request('checkpoint');
  }

  /**
   * Undefined while the WAL file is within its limit; past it, a promise that resolves once a
   * checkpoint started after the last commit has finished, so that the next commit starts the WAL
   * over. Never rejects: a failed checkpoint lets the writer go on (and ask again after its commit).
   */
  room(): Promise<void> | undefined {
    if (!this.full || this.closed || this.dead) return undefined;
    return new Promise((resolve) => {
      this.waiters.push({ upTo: this.commits, resolve });
      this.request('checkpoint');
    });
  }

  private idle(): void {
    if (!this.dirty || this.closed || this.dead) return;
    this.dirty = false;
    this.request('truncate');
  }

  private request(what: Request): void {
    if (!this.inFlight) this.post(what);
    else if (this.queued !== 'truncate') this.queued = what;
  }

  private post(what: Request): void {
    this.inFlight = true;
    this.written = 0;
    this.covers = this.commits;
    this.worker.postMessage(what);
  }

  /** The request in flight was answered (or the worker died): releases the writers it covered, posts the next. */
  private answered(): void {
    this.inFlight = false;
    const covered = this.dead || this.closed ? Infinity : this.covers;
    const waiting = this.waiters;
    this.waiters = waiting.filter((w) => w.upTo > covered);
    for (const w of waiting) if (w.upTo <= covered) w.resolve();
    const next = this.queued ?? (this.waiters.length > 0 ? 'checkpoint' : undefined);
    this.queued = undefined;
    if (next && !this.closed && !this.dead) this.post(next);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const w of this.waiters.splice(0)) w.resolve();
    if (this.dead) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Kept out of the event loop's count while running; closing must be waited for.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}
