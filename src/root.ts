/**
 * The composition root: builds every part from the settings, hands each only what it uses, and
 * tears them down last-in first-out. `createAlarmCenter` builds the core for embedding;
 * `startServer` builds the core, the HTTP front over it, and listens (server.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'winston';
import { z } from 'zod';
import { AlarmIndex } from './alarm/alarm-index.js';
import { ALARM } from './alarm/event.js';
import { Expirer } from './alarm/expirer.js';
import { Follower } from './alarm/follower.js';
import { createAlarmMetrics, noopAlarmMetrics } from './alarm/metrics.js';
import { Retention } from './alarm/retention.js';
import { AlarmService } from './alarm/service.js';
import { PostgresStore } from './alarm/postgres-store.js';
import { SqliteStore } from './alarm/sqlite-store.js';
import type { AlarmStore } from './alarm/store.js';
import { AlarmSubscriber } from './alarm/subscriber.js';
import { describeIssues } from './alarm/model.js';
import { AlarmCenterError, Codes } from './errors.js';
import { createApp, type HttpApp } from './app.js';
import { DB_FILE, embeddingApi, type AlarmCenter, type AlarmCenterOptions, type Lifecycle } from './center.js';
import { ConfigSchema, isLoopback, type Config } from './config.js';
import { BusService } from './event/bus-service.js';
import { createBusMetrics, noopBusMetrics } from './event/metrics.js';
import { createAlarmChecker } from './health/checkers/alarm-checker.js';
import { createBusChecker, createLifecycleChecker, createStoreChecker } from './health/checkers/self-checks.js';
import type { HealthChecker } from './health/checker.js';
import { HealthRegistry } from './health/registry.js';
import { TokenRegistry } from './http/auth.js';
import { PostableAlertsParser } from './intake/parser-pool.js';
import type { InstanceInfo } from './http/routes/health.js';
import { createSilentLogger } from './logger.js';
import { embeddedSettings, type EmbeddedValues } from './settings.js';
import { listen } from './server.js';
import type { AlertmanagerForwarder, ForwardingSettings } from './notify/alertmanager-forwarder.js';
import { createNotifications, type Notifications, type WebhookSettings } from './notify/notifications.js';
import type { Webhooks } from './notify/webhooks.js';
import type { CheckConfig } from './checks/check-config.js';
import type { Checks } from './checks/checks.js';
import type { Heartbeats } from './checks/heartbeats.js';
import { createCheckJobs } from './checks/jobs.js';
import { ALARM_CHANGE, ChangeFeed } from './watch/feed.js';
import { WatchHub } from './watch/hub.js';
import { createWatchMetrics, noopWatchMetrics } from './watch/metrics.js';

/** The package's own files, found from this module whether it runs from src/ or dist/. */
const PACKAGE_JSON = new URL('../package.json', import.meta.url);
const OPENAPI_FILE = new URL('../openapi.yaml', import.meta.url);

/** Steps undone in the reverse order of their doing; each runs once, even if another fails. */
class Teardown {
  private readonly steps: (() => unknown)[] = [];
  private running: Promise<void> | undefined;

  defer(step: () => unknown): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      const errors: unknown[] = [];
      for (let step = this.steps.pop(); step; step = this.steps.pop()) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'teardown failed');
    })();
    return this.running;
  }
}

/** The core's services, for the HTTP front and for tests that look inside; not part of the package API. */
export interface CoreParts {
  readonly service: AlarmService;
  readonly index: AlarmIndex;
  readonly bus: BusService;
  readonly store: AlarmStore;
  readonly feed: ChangeFeed;
  readonly hub: WatchHub;
  readonly retention: Retention;
  readonly subscriber: AlarmSubscriber;
  readonly cluster: HealthRegistry;
  readonly readiness: HealthRegistry;
  readonly lifecycle: { readonly state: Lifecycle; beginShutdown(): void };
  /** Forwarding to Alertmanagers, for a server; started once it listens. */
  /** The forwarder, when it runs on the event loop (not in the notifications thread). */
  readonly forwarder?: AlertmanagerForwarder;
  /** Forwarding and webhooks together: their start, and where changes go. */
  readonly notifications: Notifications;
  /** Durable webhooks; absent on a store that keeps no webhook state. */
  readonly webhooks?: Webhooks;
  /** Heartbeats; absent on a store that keeps none. */
  readonly heartbeats?: Heartbeats;
  /** The active checks of the settings. */
  readonly checks: Checks;
}

/** An instance: its embedding API, and its parts for the HTTP front and for tests that look inside. */
export interface Core {
  readonly center: AlarmCenter;
  readonly parts: CoreParts;
}

/** A listening Alarm Center. */
export interface RunningServer extends Core {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly server: import('node:http').Server;
  /** The express app and the hot routes in front of it. */
  readonly app: HttpApp;
  /** Graceful stop: readiness fails, new requests are refused, in-flight ones finish, queued writes commit, the store closes. */
  close(): Promise<void>;
}

/** The store the settings choose: SQLite in the data folder, or the shared PostgreSQL database. */
async function openStore(options: AlarmCenterOptions, s: EmbeddedValues, logger: Logger): Promise<AlarmStore> {
  if (typeof options.store === 'object') return options.store;
  if (s.store === 'postgres') {
    if (s.postgresUrl === undefined) throw new AlarmCenterError(Codes.InvalidParams, 'options.postgresUrl: is required with store postgres');
    return PostgresStore.open({ url: s.postgresUrl, logger: logger.child({ component: 'postgres' }) });
  }
  return new SqliteStore({ file: s.dataDir === ':memory:' ? ':memory:' : path.join(s.dataDir, DB_FILE), durability: s.durability });
}

/** The embedded settings of the options, checked, with the settings table's defaults. */
function settingsOf(options: AlarmCenterOptions): EmbeddedValues {
  const { store, ...rest } = options;
  try {
    return embeddedSettings(typeof store === 'string' ? { ...rest, store } : rest);
  } catch (err) {
    if (err instanceof z.ZodError) throw new AlarmCenterError(Codes.InvalidParams, describeIssues(err, 'options'));
    throw err;
  }
}

/** A health registry of these checkers. */
function registryOf(...checkers: HealthChecker[]): HealthRegistry {
  const registry = new HealthRegistry();
  for (const c of checkers) registry.register(c);
  return registry;
}

/** Builds the core: store, index, bus, ALARM subscriber, change feed, watchers, expiry, retention, health, forwarding. */
async function buildCore(o: AlarmCenterOptions, teardown: Teardown, forwarding?: ForwardingSettings, hooks?: WebhookSettings, checkList?: readonly CheckConfig[]): Promise<Core> {
  const s = settingsOf(o);
  const logger = o.logger ?? createSilentLogger();
  const log = (component: string) => logger.child({ component });
  const store = await openStore(o, s, logger);
  teardown.defer(() => store.close());
  const index = new AlarmIndex();
  const snapshot = await store.load();
  index.load(snapshot.alarms, snapshot.revision);
  const busMetrics = o.registry ? createBusMetrics(o.registry) : noopBusMetrics;
  const bus = new BusService({ logger: log('bus'), metrics: busMetrics });
  const writes = bus.register(ALARM, { queueSize: s.queueSize, overflow: 'reject', maxBatch: s.maxBatch });
  bus.register(ALARM_CHANGE, { queueSize: o.watchFeedQueueSize ?? 10_000, overflow: 'reject' });
  teardown.defer(() => bus.stop());
  const hub = new WatchHub({
    bus,
    source: { published: () => feed.revision, committed: () => index.revision, pruned: () => store.prunedRevision?.() ?? 0, history: (scope, since, n) => store.history(scope, since, n) },
    logger: log('watch'),
    metrics: o.registry ? createWatchMetrics(o.registry, busMetrics) : noopWatchMetrics,
    queueSize: s.watchQueueSize,
    heartbeatMs: s.watchHeartbeatMs,
    sendTimeoutMs: s.watchSendTimeoutMs,
    maxPerDomain: s.maxWatchersPerDomain,
    maxWatchers: s.maxWatchers,
    clock: o.clock,
  });
  // Watchers get every change committed before the end, then `shutdown`.
  teardown.defer(() => hub.finishAll());
  const feed: ChangeFeed = new ChangeFeed(bus, index.revision, (subject, revision, error) => {
    log('watch').error('change event lost; its watchers resync', { subject, revision, error: String(error) });
    hub.resync(subject, revision);
  });
  const subscriber = new AlarmSubscriber({
    store,
    index,
    logger: log('alarm'),
    metrics: o.registry ? createAlarmMetrics(o.registry, index) : noopAlarmMetrics,
    clock: o.clock,
    onDurable: (changes) => {
      feed.publish(changes);
      for (const c of changes) if (!c.removed) expirer.track(c.alarm);
      notifications.changed(changes);
    },
    onExtended: (alarms) => {
      for (const a of alarms) expirer.track(a);
    },
    maxAlarmsPerScope: s.maxAlarmsPerScope,
    maxAlarms: s.maxAlarms,
    maxFieldsBytes: s.maxFieldsBytes,
    watchdogAlerts: s.watchdogAlerts,
  });
  bus.addSubscriber(subscriber);
  bus.start();
  // Queued writes commit before the watchers are finished.
  teardown.defer(() => writes.stop());
  const service = new AlarmService({ bus, index, store });
  // With replicas, the jobs that must run once (expiry, retention) run where this lease is held.
  const lease = store.lease?.('jobs');
  if (lease) teardown.defer(() => lease.close());
  const expirer: Expirer = new Expirer({ index, expire: (scope, due) => service.expire(scope, due), logger: log('expiry'), clock: o.clock, lease });
  for (const a of index.allAlarms()) expirer.track(a);
  teardown.defer(() => expirer.close());
  const retention = new Retention({
    store,
    index,
    purge: (scope, before) => service.purge(scope, before),
    logger: log('retention'), registry: o.registry, intervalMs: o.retentionIntervalMs, clock: o.clock, lease,
    historyMaxAgeMs: s.historyRetentionDays * 86_400_000,
    historyMaxEntries: s.historyMaxEntries,
    clearedMaxAgeMs: s.clearedRetentionSeconds * 1000,
  });
  teardown.defer(() => retention.close());
  const file = store instanceof SqliteStore ? store.databaseFile : undefined;
  const notifications: Notifications = createNotifications({ forwarding, webhooks: hooks, store, file, index, lease, registry: o.registry, logger, clock: o.clock });
  teardown.defer(() => notifications.close());
  // Heartbeats are judged and checks run where the jobs lease is held, writing through the service.
  const jobs = createCheckJobs({ checks: checkList, store, alarms: service, index, lease, registry: o.registry, logger, clock: o.clock });
  teardown.defer(() => jobs.close());
  if (store.changesAfter) {
    const follower = new Follower({ store, sync: () => service.sync(), revision: () => index.revision, pollMs: o.followPollMs ?? 1000, logger: log('follow') });
    follower.start();
    teardown.defer(() => follower.close());
  }
  let state: Lifecycle = 'starting';
  const lifecycle = { get state() { return state; }, beginShutdown: () => void (state = 'stopping') };
  teardown.defer(() => lifecycle.beginShutdown());
  const cluster = registryOf(createAlarmChecker({ index, ids: s.unhealthyAlarmIds }));
  const readiness = registryOf(
    createStoreChecker(store, () => subscriber.storeFailure, { holdMs: o.readinessHoldMs, clock: o.clock }),
    createBusChecker(bus),
    createLifecycleChecker(() => state),
  );
  const center = embeddingApi({ alarms: service, published: () => feed.revision, hub, cluster, readiness, lifecycle, close: () => teardown.run() });
  state = 'running';
  retention.start();
  jobs.start();
  return { center, parts: { service, index, bus, store, feed, hub, retention, subscriber, cluster, readiness, lifecycle, forwarder: notifications.forwarder, webhooks: notifications.webhooks, notifications, heartbeats: jobs.heartbeats, checks: jobs.checks } };
}

/**
 * Builds and starts an Alarm Center: opens the store (applying migrations), loads the index,
 * starts the bus with the ALARM subscriber, and registers the health checkers. No global state:
 * every instance owns its bus, store, index and registries.
 */
export async function createAlarmCenter(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
  return (await createCore(options)).center;
}

/** The core and its parts (for tests that look inside). */
export async function createCore(options: AlarmCenterOptions = {}): Promise<Core> {
  const teardown = new Teardown();
  try {
    return await buildCore(options, teardown);
  } catch (err) {
    await teardown.run().catch(() => undefined);
    throw err;
  }
}

/** The package's version. */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
}

/** How this instance describes itself in service-center's health answer. */
function instanceInfo(endpoint: () => string): () => InstanceInfo {
  const version = packageVersion();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const hostName = os.hostname();
  const instanceId = `${hostName}:${process.pid}`;
  return () => ({ instanceId, serviceId: 'alarm-center', hostName, endpoints: [endpoint()], status: 'UP', version, timestamp });
}

/** Builds everything from the settings and listens; resolves once the port is bound. */
export async function startServer(
  settings: Partial<Config> = {},
  options: { logger?: Logger; /** Milliseconds since the epoch; for tests. */ clock?: () => number } = {},
): Promise<RunningServer> {
  const config = ConfigSchema.parse(settings);
  const logger = options.logger ?? createSilentLogger();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const teardown = new Teardown();
  try {
    let url = '';
    const forwarding = { alertmanagers: config.alertmanagers, resendSeconds: config.alertmanagerResendSeconds, baseUrl: () => config.externalUrl ?? url };
    const hooks = { hooks: config.webhooks, externalUrl: () => config.externalUrl ?? url, nice: config.notifyNice };
    const { center, parts } = await buildCore({ ...config, logger, registry, clock: options.clock }, teardown, forwarding, hooks, config.checks);
    const tokens = new TokenRegistry(config.tokens);
    if (!tokens.enabled && !isLoopback(config.host)) {
      logger.warn('listening beyond this machine without authentication (insecure)', { host: config.host });
    }
    const { service, index, hub, lifecycle } = parts;
    const parser = new PostableAlertsParser({
      threads: config.intakeThreads,
      registry,
      onThreadLost: (error) => logger.error('intake parser thread lost; its bodies were read on the event loop', { component: 'intake', error: error.message }),
    });
    teardown.defer(() => parser.close());
    const app = createApp({
      alarms: service,
      version: () => index.version,
      history: (scope, request) => service.findHistory(scope, request, parts.feed.revision),
      hub,
      cluster: parts.cluster,
      readiness: parts.readiness,
      stopping: () => lifecycle.state === 'stopping',
      registry,
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      instance: instanceInfo(() => url.replace('http:', 'rest:')),
      openapi: fs.readFileSync(OPENAPI_FILE, 'utf8'),
      intake: {
        alarms: service,
        clock: options.clock ?? Date.now,
        resolveTimeoutMs: config.resolveTimeoutSeconds * 1000,
        pagerdutyAlarmId: config.pagerdutyAlarmId,
        parser,
        version: packageVersion(),
        startedAt: (options.clock ?? Date.now)(),
      },
      access: { tokens, probesOpen: config.probesOpen, writeRateLimit: config.writeRateLimit },
      webhooks: parts.webhooks?.admin,
      heartbeats: parts.heartbeats,
      checks: parts.checks,
    });
    teardown.defer(() => app.close());
    const server = await listen(app, config);
    url = server.url;
    parts.notifications.start();
    teardown.defer(async () => {
      lifecycle.beginShutdown();
      // Watchers are told to go (WebSocket 1001, SSE end) and resume by revision elsewhere or later.
      hub.close();
      await server.drain(config.shutdownTimeoutMs);
    });
    return { url, host: server.host, port: server.port, center, parts, registry, server: server.server, app, close: () => teardown.run() };
  } catch (err) {
    await teardown.run().catch(() => undefined);
    throw err;
  }
}
