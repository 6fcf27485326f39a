import fs from 'node:fs';

/**
 * The identity (device and inode) of the file found at a path when it was opened, to notice when
 * the path no longer leads to it: deleted, or replaced by another file (a restore, a `mv` over it).
 * An open SQLite connection keeps working on the file it opened whatever happens to its path, so
 * without this check writes would go on succeeding into a file no restart will ever open again.
 */
export class FileIdentity {
  private readonly dev: number;
  private readonly ino: number;

  /** Records the identity of the file now at `file`; throws when there is none. */
  constructor(readonly file: string) {
    const stat = fs.statSync(file);
    this.dev = stat.dev;
    this.ino = stat.ino;
  }

  /** How the path lost the file ("deleted", "replaced by another file", …); undefined while it still leads to it. */
  lost(): string | undefined {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(this.file, { throwIfNoEntry: false });
    } catch (err) {
      return `made unreachable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    if (!stat) return 'deleted';
    return stat.dev === this.dev && stat.ino === this.ino ? undefined : 'replaced by another file';
  }
}
