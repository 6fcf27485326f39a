import path from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { AlarmIndex } from './alarm/alarm-index.js';
import { ALARM } from './alarm/event.js';
import { createAlarmMetrics, noopAlarmMetrics } from './alarm/metrics.js';
import {
  AlarmFilterSchema,
  AlarmInputSchema,
  NAME_PATTERN,
  ScopeSchema,
  describeIssues,
  type Alarm,
  type AlarmFilter,
  type AlarmInput,
  type Scope,
} from './alarm/model.js';
import { AlarmService, type ListResult, type WriteResult } from './alarm/service.js';
import { SqliteStore, type Durability } from './alarm/sqlite-store.js';
import type { AlarmStore } from './alarm/store.js';
import { AlarmSubscriber } from './alarm/subscriber.js';
import { AlarmCenterError, Codes } from './errors.js';
import { BusService } from './event/bus-service.js';
import { createBusMetrics, noopBusMetrics } from './event/metrics.js';
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
  /** Milliseconds since the epoch; for tests. */
  clock?: () => number;
}

export type Lifecycle = 'starting' | 'running' | 'stopping';

/** An Alarm Center instance: the embedding API, plus its parts for the HTTP layer. */
export interface AlarmCenter {
  raise(scope: Scope, input: AlarmInput): Promise<Alarm>;
  clear(scope: Scope, id: string, source?: string): Promise<Alarm>;
  clearAll(scope: Scope): Promise<{ revision: number }>;
  /** Raises and clears atomically, as the HTTP batch does. */
  apply(scope: Scope, inputs: readonly AlarmInput[]): Promise<WriteResult>;
  list(scope: Scope, filter?: AlarmFilter): ListResult;
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
  const bus = new BusService({
    logger: logger.child({ component: 'bus' }),
    metrics: registry ? createBusMetrics(registry) : noopBusMetrics,
  });
  bus.register(ALARM, { queueSize: options.queueSize ?? 10_000, overflow: 'reject', maxBatch: options.maxBatch ?? 1024 });
  const subscriber = new AlarmSubscriber({
    store,
    index,
    logger: logger.child({ component: 'alarm' }),
    metrics: registry ? createAlarmMetrics(registry, index) : noopAlarmMetrics,
    clock: options.clock,
  });
  bus.addSubscriber(subscriber);
  bus.start();
  const service = new AlarmService({ bus, index, store });

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
    async apply(scope, inputs) {
      const s = checkScope(scope);
      return service.apply(s, inputs.map((input, i) => parse(AlarmInputSchema, input, `alarms.${i}`)));
    },
    list(scope, filter = {}) {
      return service.list(checkScope(scope), parse(AlarmFilterSchema, filter));
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
  };
  state = 'running';
  return center;
}
