import path from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { AlarmIndex } from './alarm/alarm-index.js';
import { ALARM } from './alarm/event.js';
import { createAlarmMetrics, noopAlarmMetrics } from './alarm/metrics.js';
import { AlarmFilterSchema, HistoryFilterSchema, type AlarmFilter, type HistoryFilter } from './alarm/filter.js';
import {
  AckInputSchema,
  AlarmInputSchema,
  ClearSelectorSchema,
  NAME_PATTERN,
  ScopeSchema,
  describeIssues,
  type Alarm,
  type AlarmInput,
  type AlarmJson,
  type Scope,
  type Severity,
} from './alarm/model.js';
import { AlarmService, type HistoryResult, type ListResult, type WriteResult } from './alarm/service.js';
import { SqliteStore, type Durability } from './alarm/sqlite-store.js';
import type { AlarmStore } from './alarm/store.js';
import { AlarmSubscriber } from './alarm/subscriber.js';
import { Expirer } from './alarm/expirer.js';
import { Retention } from './alarm/retention.js';
import { AlarmCenterError, Codes } from './errors.js';
import { BusService } from './event/bus-service.js';
import { createBusMetrics, noopBusMetrics } from './event/metrics.js';
import { ALARM_CHANGE, ChangeFeed } from './watch/feed.js';
import { WatchHub } from './watch/hub.js';
import { createWatchMetrics, noopWatchMetrics } from './watch/metrics.js';
import type { CloseReason } from './watch/watcher.js';
import type { HealthChecker, HealthReport, HealthResult } from './health/checker.js';
import { createAlarmChecker } from './health/checkers/alarm-checker.js';
import { createBusChecker, createLifecycleChecker, createStoreChecker } from './health/checkers/self-checks.js';
import { HealthRegistry } from './health/registry.js';
import { createSilentLogger } from './logger.js';
import type { z } from 'zod';

/** The file name of the database inside the data folder. */
export const DB_FILE = 'alarms.db';

/** Options of an Alarm Center; all optional. */
export interface AlarmCenterOptions {
  /** Folder of the SQLite database, or `:memory:` for a store that lives as long as the instance. */
  dataDir?: string;
  durability?: Durability;
  /** A store to use instead of SQLite (a networked database, a test double). */
  store?: AlarmStore;
  /** Most ALARM writes waiting at once; past it writes are refused with 429001. */
  queueSize?: number;
  /** Most writes committed in one transaction. */
  maxBatch?: number;
  /** Alarm ids that make the cluster unhealthy while ACTIVATED. */
  unhealthyAlarmIds?: string[];
  logger?: Logger;
  /** Prometheus registry for the core's metrics; none are recorded without one. */
  registry?: Registry;
  /** How long a store failure keeps readiness failing before traffic may probe the store again. */
  readinessHoldMs?: number;
  /** Most messages waiting for one watcher; past it the watcher gets a RESYNC (default 5,000). */
  watchQueueSize?: number;
  /** Heartbeat interval of watchers (default 30 s). */
  watchHeartbeatMs?: number;
  /** A watcher whose writes stall this long is closed (default 5 s). */
  watchSendTimeoutMs?: number;
  /** Most open watchers per domain (0: no limit); past it watches are refused with 429002. */
  maxWatchersPerDomain?: number;
  /** Most alarms per domain/project (0: no limit); a write past it is refused whole with 429002. */
  maxAlarmsPerScope?: number;
  /** Most open watchers in all domains together (default 0: no limit); past it watches are refused with 429002. */
  maxWatchers?: number;
  /**
   * Most alarms held in all scopes together, cleared ones included until removed (default 0: no
   * limit); a write that would add alarms past it is refused whole with 429002.
   */
  maxAlarms?: number;
  /**
   * Most bytes of fields (the UTF-8 size of their JSON) held by all alarms together (default 0:
   * no limit); a write that would add bytes past it is refused whole with 429002.
   */
  maxFieldsBytes?: number;
  /** Most ALARM_CHANGE events waiting for the watchers; past it their watchers resync. */
  watchFeedQueueSize?: number;
  /** History entries older than this many days are pruned (default 30; 0 keeps them). */
  historyRetentionDays?: number;
  /** At most this many history entries are kept (default 0: no limit). */
  historyMaxEntries?: number;
  /** CLEARED alarms leave the list this many seconds after clearing (default 0: they stay). */
  clearedRetentionSeconds?: number;
  /** How often retention runs (default a minute). */
  retentionIntervalMs?: number;
  /** Milliseconds since the epoch; for tests. */
  clock?: () => number;
}

/** A message as an embedder's watcher receives it: what the HTTP watch routes send, as a value. */
export interface WatchEvent {
  action: string;
  alarm?: AlarmJson;
  revision: number;
}

export interface WatchOptions {
  /** Replay the changes after this revision first; without it, start from the live tail. */
  since?: number;
  onMessage(event: WatchEvent): void;
  /** Called once when the watch ends (closed, shutdown, or the history could not be read). */
  onEnd?(reason: CloseReason): void;
  queueSize?: number;
}

/** A running watch; `close()` stops it. */
export interface WatchHandle {
  close(): void;
}

export type Lifecycle = 'starting' | 'running' | 'stopping';

/** An Alarm Center instance: the embedding API, plus its parts for the HTTP layer. */
export interface AlarmCenter {
  raise(scope: Scope, input: AlarmInput): Promise<Alarm>;
  clear(scope: Scope, id: string, source?: string): Promise<Alarm>;
  clearAll(scope: Scope): Promise<{ revision: number }>;
  /** Acknowledges the current activation of an ACTIVATED alarm (404001 unknown, 400001 CLEARED). */
  ack(scope: Scope, id: string, ack: { by: string; comment?: string; source?: string }): Promise<Alarm>;
  /** Withdraws an acknowledgement. */
  unack(scope: Scope, id: string, source?: string): Promise<Alarm>;
  /** Clears every ACTIVATED alarm matching the selector, in one commit. */
  clearMatching(scope: Scope, selector: { ids?: string[]; source?: string; severity?: Severity }): Promise<WriteResult>;
  /** Raises and clears atomically, as the HTTP batch does. */
  apply(scope: Scope, inputs: readonly AlarmInput[]): Promise<WriteResult>;
  /**
   * The scope's alarms the filter selects. Without `limit` or `cursor`: all of them in list order
   * (system alarms first, then by raise). With either: one page in (id, source) order, with
   * `total` and, when more remain, `next` to pass as `cursor`.
   */
  list(scope: Scope, filter?: AlarmFilter): ListResult;
  /**
   * The scope's durable history entries the filter selects, in revision order after `since` (or
   * `cursor`); `next` when more remain, `total` when `limit` or `cursor` is given.
   */
  history(scope: Scope, filter?: HistoryFilter): Promise<HistoryResult>;
  /** Follows the scope's changes: replay after `since`, then live; RESYNC when it falls behind. */
  watch(scope: Scope, options: WatchOptions): WatchHandle;
  /** Cluster health of the scope: every cluster checker passes. */
  health(scope: Scope): Promise<HealthResult>;
  /** Alarm Center's own readiness (store, bus, lifecycle). */
  ready(exclude?: readonly string[]): Promise<HealthReport>;
  close(): Promise<void>;
  readonly state: Lifecycle;
  readonly service: AlarmService;
  readonly index: AlarmIndex;
  readonly bus: BusService;
  readonly store: AlarmStore;
  readonly cluster: HealthRegistry;
  readonly readiness: HealthRegistry;
  readonly logger: Logger;
  readonly feed: ChangeFeed;
  readonly watchHub: WatchHub;
  readonly retention: Retention;
  /** The store's failure while it lasts. */
  readonly storeFailure: Error | undefined;
  /** Marks the instance as stopping: readiness fails, writes are still taken until `close`. */
  beginShutdown(): void;
}

function parse<S extends z.ZodType>(schema: S, value: unknown, root = ''): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(r.error, root));
  return r.data;
}

/** Validates a scope; the fast path skips zod for the well-formed scopes of nearly every call. */
function checkScope(scope: Scope): Scope {
  if (
    typeof scope === 'object' &&
    scope !== null &&
    Object.keys(scope).length === 2 &&
    typeof scope.domain === 'string' &&
    typeof scope.project === 'string' &&
    NAME_PATTERN.test(scope.domain) &&
    NAME_PATTERN.test(scope.project)
  ) {
    return scope;
  }
  return parse(ScopeSchema, scope, 'scope');
}

function openStore(options: AlarmCenterOptions): AlarmStore {
  if (options.store) return options.store;
  const dir = options.dataDir ?? './data';
  const file = dir === ':memory:' ? ':memory:' : path.join(dir, DB_FILE);
  return new SqliteStore({ file, durability: options.durability });
}

/**
 * Builds and starts an Alarm Center: opens the store (applying migrations), loads the index,
 * starts the bus with the ALARM subscriber, and registers the health checkers. No global state:
 * every instance owns its bus, store, index and registries.
 */
export async function createAlarmCenter(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
  const logger = options.logger ?? createSilentLogger();
  const store = openStore(options);
  const index = new AlarmIndex();
  try {
    const snapshot = await store.load();
    index.load(snapshot.alarms, snapshot.revision);
  } catch (err) {
    await store.close();
    throw err;
  }
  const registry = options.registry;
  const busMetrics = registry ? createBusMetrics(registry) : noopBusMetrics;
  const bus = new BusService({ logger: logger.child({ component: 'bus' }), metrics: busMetrics });
  bus.register(ALARM, { queueSize: options.queueSize ?? 10_000, overflow: 'reject', maxBatch: options.maxBatch ?? 1024 });
  bus.register(ALARM_CHANGE, { queueSize: options.watchFeedQueueSize ?? 10_000, overflow: 'reject' });
  const watchLogger = logger.child({ component: 'watch' });
  const feed = new ChangeFeed(bus, index.revision, (subject, revision, error) => {
    watchLogger.error('change event lost; its watchers resync', { subject, revision, error: String(error) });
    watchHub.resync(subject, revision);
  });
  const watchHub: WatchHub = new WatchHub({
    bus,
    source: {
      published: () => feed.revision,
      committed: () => index.revision,
      pruned: () => store.prunedRevision?.() ?? 0,
      history: (scope, since, limit) => store.history(scope, since, limit),
    },
    logger: watchLogger,
    metrics: registry ? createWatchMetrics(registry, busMetrics) : noopWatchMetrics,
    queueSize: options.watchQueueSize ?? 5000,
    heartbeatMs: options.watchHeartbeatMs ?? 30_000,
    sendTimeoutMs: options.watchSendTimeoutMs ?? 5000,
    maxPerDomain: options.maxWatchersPerDomain ?? 0,
    maxWatchers: options.maxWatchers ?? 0,
    clock: options.clock,
  });
  const subscriber = new AlarmSubscriber({
    store,
    index,
    logger: logger.child({ component: 'alarm' }),
    metrics: registry ? createAlarmMetrics(registry, index) : noopAlarmMetrics,
    clock: options.clock,
    onDurable: (changes) => {
      feed.publish(changes);
      for (const c of changes) if (!c.removed) expirer.track(c.alarm);
    },
    maxAlarmsPerScope: options.maxAlarmsPerScope ?? 0,
    maxAlarms: options.maxAlarms ?? 0,
    maxFieldsBytes: options.maxFieldsBytes ?? 0,
  });
  bus.addSubscriber(subscriber);
  bus.start();
  const service = new AlarmService({ bus, index, store });
  const expirer: Expirer = new Expirer({
    index,
    expire: (scope, due) => service.expire(scope, due),
    logger: logger.child({ component: 'expiry' }),
    clock: options.clock,
  });
  for (const a of index.allAlarms()) expirer.track(a);
  const retention = new Retention({
    store,
    index,
    purge: (scope, before) => service.purge(scope, before),
    logger: logger.child({ component: 'retention' }),
    registry,
    historyMaxAgeMs: (options.historyRetentionDays ?? 30) * 86_400_000,
    historyMaxEntries: options.historyMaxEntries ?? 0,
    clearedMaxAgeMs: (options.clearedRetentionSeconds ?? 0) * 1000,
    intervalMs: options.retentionIntervalMs,
    clock: options.clock,
  });

  let state: Lifecycle = 'starting';
  const cluster = new HealthRegistry();
  cluster.register(createAlarmChecker({ index, ids: options.unhealthyAlarmIds }));
  const readiness = new HealthRegistry();
  const checks: HealthChecker[] = [
    createStoreChecker(
      store,
      () => subscriber.storeFailure,
      { holdMs: options.readinessHoldMs, clock: options.clock },
    ),
    createBusChecker(bus),
    createLifecycleChecker(() => state),
  ];
  for (const c of checks) readiness.register(c);

  let closing: Promise<void> | undefined;
  const center: AlarmCenter = {
    async raise(scope, input) {
      const s = checkScope(scope);
      return service.raise(s, parse(AlarmInputSchema, input));
    },
    async clear(scope, id, source = '') {
      const s = checkScope(scope);
      const valid = parse(AlarmInputSchema, { id, source, status: 'CLEARED' });
      return service.clear(s, valid.id, valid.source);
    },
    async clearAll(scope) {
      return service.clearAll(checkScope(scope));
    },
    async ack(scope, id, ack) {
      const s = checkScope(scope);
      const key = parse(AlarmInputSchema, { id, source: ack.source ?? '' });
      const valid = parse(AckInputSchema, { by: ack.by, comment: ack.comment });
      return service.ack(s, key.id, key.source, valid.by, valid.comment);
    },
    async unack(scope, id, source = '') {
      const s = checkScope(scope);
      const key = parse(AlarmInputSchema, { id, source });
      return service.unack(s, key.id, key.source);
    },
    async clearMatching(scope, selector) {
      const s = checkScope(scope);
      return service.clearMatching(s, parse(ClearSelectorSchema, selector));
    },
    async apply(scope, inputs) {
      const s = checkScope(scope);
      return service.apply(s, inputs.map((input, i) => parse(AlarmInputSchema, input, `alarms.${i}`)));
    },
    list(scope, filter = {}) {
      const s = checkScope(scope);
      const { selection, page } = parse(AlarmFilterSchema, filter);
      return page ? service.page(s, selection, page) : service.list(s, selection);
    },
    async history(scope, filter = {}) {
      const s = checkScope(scope);
      return service.findHistory(s, parse(HistoryFilterSchema, filter), feed.revision);
    },
    watch(scope, watchOptions) {
      const s = checkScope(scope);
      const since = watchOptions.since;
      if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
        throw new AlarmCenterError(Codes.InvalidParams, 'since: must be a revision (a whole number ≥ 0)');
      }
      const watcher = watchHub.open(s, {
        scheme: 'Embedded',
        since,
        queueSize: watchOptions.queueSize,
        onEnd: (reason) => watchOptions.onEnd?.(reason),
        sink: {
          write(message, done) {
            try {
              watchOptions.onMessage(JSON.parse(message.text) as WatchEvent);
            } finally {
              if (done) queueMicrotask(() => done());
            }
          },
          end() {},
        },
      });
      return { close: () => watcher.end('peer') };
    },
    async health(scope) {
      return cluster.verdict(checkScope(scope));
    },
    ready(exclude = []) {
      return readiness.run(undefined, exclude);
    },
    close() {
      closing ??= (async () => {
        state = 'stopping';
        watchHub.close();
        expirer.close();
        await retention.close();
        await bus.stop();
        await store.close();
      })();
      return closing;
    },
    beginShutdown() {
      state = 'stopping';
    },
    get state() {
      return state;
    },
    get storeFailure() {
      return subscriber.storeFailure?.error;
    },
    service,
    index,
    bus,
    store,
    cluster,
    readiness,
    logger,
    feed,
    watchHub,
    retention,
  };
  state = 'running';
  retention.start();
  return center;
}
