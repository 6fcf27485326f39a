import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code: its own connection to the database, running a PASSIVE WAL checkpoint on
 * each request. Inline (no file of its own) so that it runs the same from src/ and dist/.
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
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err) });
  }
});
`;

/**
 * Copies the WAL back into the database file off the event loop. SQLite's automatic checkpoint
 * runs inside whichever commit pushes the WAL past 1,000 pages and blocks the event loop for as
 * long as the copy and its fsync take (tens of milliseconds); with it turned off, this worker's
 * connection checkpoints instead, PASSIVE so it never waits on the writer, whenever enough was
 * written since the last one.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private inFlight = false;
  private written = 0;
  private closed = false;
  /** The last failure, kept for diagnosis; checkpoints are retried on the next writes. */
  lastError: string | undefined;
  /** The last checkpoint's WAL frames and how many of them it copied into the database. */
  last: { log: number; checkpointed: number } | undefined;

  constructor(
    file: string,
    /** Commits between checkpoints. */
    private readonly every = 256,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, driver } });
    this.worker.unref();
    this.worker.on('message', (m: { ok: boolean; error?: string; log?: number; checkpointed?: number }) => {
      this.inFlight = false;
      this.lastError = m.ok ? undefined : m.error;
      if (m.ok) this.last = { log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 };
    });
    this.worker.on('error', (err) => {
      this.lastError = err.message;
      this.inFlight = false;
    });
  }

  /** Notes a commit; asks for a checkpoint once enough have gone by and none is under way. */
  committed(): void {
    this.written += 1;
    if (this.written < this.every || this.inFlight || this.closed) return;
    this.written = 0;
    this.inFlight = true;
    this.worker.postMessage('checkpoint');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Kept out of the event loop's count while running; closing must be waited for.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}
