import fs from 'node:fs';

/**
 * Makes a SQLite WAL durable with fdatasync off the main thread. SQLite commits with
 * `synchronous=NORMAL` (no sync in the commit); each acknowledged commit then waits for a sync
 * that started after it, which is what `synchronous=FULL` would have done inside the commit,
 * but without blocking the event loop: the next commit proceeds while the disk flushes, and all
 * commits made during one flush share the next one (group commit of the syncs).
 *
 * Assumes the WAL file keeps its inode while the database is open, which SQLite guarantees for
 * the connection that holds it open (it resets the WAL in place and unlinks it only at close).
 */
export class WalFlusher {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly walPath: string,
    private readonly sync: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void = fs.fdatasync,
  ) {}

  /** Resolves once everything written to the WAL before this call is on disk. */
  flush(): Promise<void> {
    if (this.next) return this.next.promise;
    if (!this.running) return this.start();
    // A sync is under way but may have started before the caller's write: queue one more.
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.next = { promise, resolve, reject };
    return promise;
  }

  /** Resolves when no sync is running or queued. */
  async idle(): Promise<void> {
    while (this.running || this.next) await (this.next?.promise ?? this.running)?.catch(() => undefined);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): Promise<void> {
    const run = new Promise<void>((resolve, reject) => {
      try {
        this.fd ??= fs.openSync(this.walPath, 'r');
      } catch (err) {
        reject(err);
        return;
      }
      this.sync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
    this.running = run;
    const after = () => {
      this.running = undefined;
      const queued = this.next;
      this.next = undefined;
      if (queued) this.start().then(queued.resolve, queued.reject);
    };
    run.then(after, after);
    return run;
  }
}
