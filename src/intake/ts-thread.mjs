// A worker thread's entry when Alarm Center runs from its TypeScript sources (the tests, through
// tsx): worker threads get no `--import`, so it registers tsx itself, then loads the module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
