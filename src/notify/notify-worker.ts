/**
 * The notifications thread (see notify-thread.ts): the webhooks' delivery loops and the
 * forwarding to Alertmanagers, off the event loop that takes the raises, on a connection of its
 * own to the SQLite database. The process's main thread tells it of durable revisions (a shared
 * counter, and a message when it may be idle), of the jobs lease and of dead letters queued; it
 * answers its metrics on request and sends its log records to the main thread's logger.
 */
import os from 'node:os';
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import winston from 'winston';
import { makeAlarm, type Scope } from '../alarm/model.js';
import { SqliteWebhooks } from '../alarm/sqlite-webhooks.js';
import { changeOf, type HistoryRow } from '../alarm/store-rows.js';
import type { Lease, WebhookStore } from '../alarm/store.js';
import { AlertmanagerForwarder } from './alertmanager-forwarder.js';
import { DURABLE, LOAD, PENDING, type ThreadData, type ToMain, type ToThread } from './notify-thread.js';
import { DEFAULT_PACE, Pacer } from './pacer.js';
import { ActiveAlarms, ChangeFeed } from './thread-feed.js';
import { createWebhookMetrics } from './webhook-metrics.js';
import { WebhookDispatcher } from './webhooks.js';

const port = parentPort;
if (!port) throw new Error('notify-worker.ts runs as a worker thread');
const data = workerData as ThreadData;
const send = (m: ToMain) => port.postMessage(m);

// Notifications wait for spare CPU: the raises, which callers wait on, go first.
if (data.nice > 0 && process.platform === 'linux') {
  try {
    os.setPriority(0, data.nice);
  } catch {
    // Not allowed here: the thread runs at the process's priority.
  }
}

/** The log records go to the main thread, whose logger formats and writes them. */
function threadLogger(component: string): winston.Logger {
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _encoding, done) {
      const { level, message, ...meta } = info;
      send({ type: 'log', component, level: String(level), message: String(message), meta });
      done();
    },
  });
  return winston.createLogger({ level: data.logLevel, transports: [new winston.transports.Stream({ stream })] });
}

/** This thread's connection: the webhook tables, and the history read for forwarding. */
function openDatabase(file: string) {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  // A cursor lost with the last writes of a power cut only sends those changes again.
  db.pragma('synchronous = NORMAL');
  const t = new SqliteWebhooks(db);
  const changes = db.prepare('SELECT * FROM history WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?');
  const store: WebhookStore = {
    historyAfter: async (revision, limit) => t.historyAfter(revision, limit),
    webhookCursor: async (name) => t.webhookCursor(name),
    advanceWebhookCursor: async (name, revision, at) => t.advanceWebhookCursor(name, revision, at),
    noteWebhookError: async (name, error, at) => t.noteWebhookError(name, error, at),
    addWebhookFailure: async (failure) => t.addWebhookFailure(failure),
    webhookFailures: async (name, query) => t.webhookFailures(name, query),
    queueWebhookFailures: async (name, revisions, scope) => t.queueWebhookFailures(name, revisions, scope),
    removeWebhookFailure: async (name, revision) => t.removeWebhookFailure(name, revision),
    prunedRevision: () => t.prunedRevision(),
  };
  return {
    store,
    read: (after: number, upTo: number, limit: number) => (changes.all(after, upTo, limit) as HistoryRow[]).map(changeOf),
    close: () => db.close(),
  };
}

/** The jobs lease as the main thread reports it; the main thread holds it and gives it up. */
class LeaseView implements Lease {
  private readonly listeners: ((held: boolean) => void)[] = [];

  constructor(public held: boolean) {}

  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  set(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    for (const l of this.listeners) l(held);
  }

  async close(): Promise<void> {}
}

const shared = new BigInt64Array(data.shared);
const durable = (): number => Number(Atomics.load(shared, DURABLE));
const pacer = new Pacer({ ...DEFAULT_PACE, load: () => Number(Atomics.load(shared, LOAD)) / 1000 });
const pace = () => pacer.pace();
const db = openDatabase(data.file);
const registry = new Registry();
const lease = new LeaseView(data.leading);
let externalUrl = data.externalUrl;

const webhooks =
  data.hooks.length > 0
    ? new WebhookDispatcher({
        hooks: data.hooks,
        store: db.store,
        lease,
        // A webhook new to the store starts after the changes durable when the process started,
        // the revision the main thread read then: changes made while this thread started are sent.
        revision: data.revision,
        externalUrl: () => externalUrl,
        metrics: createWebhookMetrics(registry),
        logger: threadLogger('webhook'),
        clock: Date.now,
        pace,
      })
    : undefined;

/** Forwarding: the active alarms at `data.active.revision`, kept current from the history. */
let active = new ActiveAlarms(data.active.alarms.map(makeAlarm));
const index = { get: (scope: Scope, id: string, source: string) => active.get(scope, id, source), allAlarms: () => active.allAlarms() };
const forwarding = data.forwarding;
const forwarder =
  forwarding &&
  new AlertmanagerForwarder({
    alertmanagers: forwarding.alertmanagers,
    resendSeconds: forwarding.resendSeconds,
    baseUrl: () => externalUrl,
    index,
    lease,
    logger: threadLogger('notify'),
    registry,
    pace,
  });
const feed =
  forwarder &&
  new ChangeFeed({
    read: db.read,
    pruned: () => db.store.prunedRevision?.() ?? 0,
    from: data.active.revision,
    take: (changes) => {
      active.apply(changes);
      forwarder.changed(changes);
    },
    lost: (from, to) => send({ type: 'lost', from, to }),
    busy: () => forwarder.busy,
    backlog: (revisions) => forwarder.backlog(revisions),
  });
if (data.started) forwarder?.start();

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'durable': {
      // Cleared before the read: a revision stored after it is either read here or posted again.
      Atomics.store(shared, PENDING, 0n);
      const revision = durable();
      webhooks?.notify(revision);
      feed?.notify(revision);
      break;
    }
    case 'lead':
      lease.set(m.held);
      break;
    case 'start':
      forwarder?.start();
      break;
    case 'wake':
      webhooks?.wake(m.name);
      break;
    case 'url':
      externalUrl = m.url;
      break;
    case 'active':
      active = new ActiveAlarms(m.alarms.map(makeAlarm));
      feed?.restart(m.revision);
      break;
    case 'metrics':
      void registry.getMetricsAsJSON().then((families) => send({ type: 'metrics', id: m.id, families }));
      break;
    case 'close':
      feed?.stop();
      forwarder?.close();
      void (webhooks?.close() ?? Promise.resolve()).then(() => {
        db.close();
        send({ type: 'closed' });
        port.close();
      });
      break;
  }
});
send({ type: 'ready' });
