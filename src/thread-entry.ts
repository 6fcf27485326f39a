import type { WorkerOptions } from 'node:worker_threads';

/** A worker thread's module and the options that start it. */
export interface ThreadEntry {
  url: URL;
  options: WorkerOptions;
}

/**
 * The thread module `name` beside the caller (`base`, its import.meta.url): the compiled
 * JavaScript when the caller is compiled; run from the sources (the tests, through tsx),
 * intake/ts-thread.mjs, which registers tsx in the thread and loads the TypeScript module, since
 * worker threads get no `--import`. `workerData` reaches the module whole either way.
 */
export function threadEntry(base: string, name: string, workerData: Record<string, unknown>): ThreadEntry {
  if (!base.endsWith('.ts')) return { url: new URL(`./${name}.js`, base), options: { workerData } };
  const module = new URL(`./${name}.ts`, base).href;
  return { url: new URL('./intake/ts-thread.mjs', import.meta.url), options: { workerData: { ...workerData, module } } };
}
