/**
 * A parser thread: reads Alertmanager API v2 bodies (JSON text) into their operations, off the
 * event loop, and answers them in wire form (wire.ts). A body that is not JSON answers the
 * parser's own message, which the web layer turns into the same error as any malformed body.
 */
import { parentPort } from 'node:worker_threads';
import { FIELDS_CACHE_ENTRIES, FieldsJsonCache } from './fields-cache.js';
import { readBody, type ParseAnswer, type ParseRequest } from './parser-pool.js';

/** This thread's fields' texts (fields-cache.ts); bodies go to the threads in turn, so each soon holds every firing alert. */
const cache = new FieldsJsonCache(FIELDS_CACHE_ENTRIES);

/** One request's answer; a failure of this code answers `failed` rather than ending the thread. */
function answer(request: ParseRequest): ParseAnswer {
  try {
    return { id: request.id, ...readBody(request, cache) };
  } catch (err) {
    return { id: request.id, failed: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (request: ParseRequest) => parentPort?.postMessage(answer(request)));
