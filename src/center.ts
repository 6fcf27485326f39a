/**
 * The embedding API: an Alarm Center as a value in a Node process. It validates its input with
 * the HTTP API's schemas, rejects with the same coded errors, and answers the same JSON shapes
 * the routes answer, as values. It is built by the composition root (root.ts) from the core's
 * services; it is not a way to reach them.
 */
import type { Logger } from 'winston';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { alarmValue, historyText } from './alarm/answers.js';
import { AlarmFilterSchema, HistoryFilterSchema, type AlarmFilter, type HistoryFilter } from './alarm/filter.js';
import {
  AckInputSchema,
  AlarmInputSchema,
  ClearSelectorSchema,
  NAME_PATTERN,
  ScopeSchema,
  describeIssues,
  type AlarmInput,
  type AlarmJson,
  type Scope,
  type Severity,
} from './alarm/model.js';
import type { AlarmService } from './alarm/service.js';
import type { AlarmStore } from './alarm/store.js';
import { AlarmCenterError, Codes } from './errors.js';
import type { HealthReport, HealthResult } from './health/checker.js';
import type { HealthRegistry } from './health/registry.js';
import type { EmbeddedSettings } from './settings.js';
import type { WatchHub } from './watch/hub.js';
import type { CloseReason } from './watch/watcher.js';

/** The file name of the database inside the data folder. */
export const DB_FILE = 'alarms.db';

/**
 * Options of an Alarm Center; all optional. The settings it shares with the server (data folder,
 * durability, queues, limits, retention: `EmbeddedSettings`) are the settings table's, with its
 * defaults and checks (see the README's configuration table); the rest are the embedder's own.
 */
export interface AlarmCenterOptions extends Omit<EmbeddedSettings, 'store'> {
  /** `sqlite` (the default), `postgres` (with `postgresUrl`), or a store of its own (a test double). */
  store?: EmbeddedSettings['store'] | AlarmStore;
  logger?: Logger;
  /** Prometheus registry for the core's metrics; none are recorded without one. */
  registry?: Registry;
  /** How long a store failure keeps readiness failing before traffic may probe the store again. */
  readinessHoldMs?: number;
  /** Most ALARM_CHANGE events waiting for the watchers; past it their watchers resync (default 10,000). */
  watchFeedQueueSize?: number;
  /** How often retention runs (default a minute). */
  retentionIntervalMs?: number;
  /**
   * On a store several replicas share: how often this replica reads the changes the others
   * committed without being notified of them (default 1 s); a lost notification delays a change
   * by at most this.
   */
  followPollMs?: number;
  /** Milliseconds since the epoch; for tests. */
  clock?: () => number;
}

/** A list's or a write's answer: `{ alarms, revision }`, and `total` and `next` for a page. */
export interface AlarmsAnswer {
  alarms: AlarmJson[];
  revision: number;
  total?: number;
  next?: string;
}

/** One change of the history, as the history route answers it. */
export interface HistoryEntryJson {
  revision: number;
  /** `RAISE`, `RERAISE`, `CLEAR`, `CLEAR_ALL`, `ACK`, `UNACK`, `EXPIRE` or `PURGE`. */
  action: string;
  alarm: AlarmJson;
  /** When it was committed (ISO 8601). */
  at: string;
  /** Who made an ACK or UNACK: the ack's `by`; `ack expired` when its `ttlSeconds` ran out; absent otherwise. */
  by?: string;
}

/** A history read's answer: `{ history, revision }`, and `total` and `next` when asked or left. */
export interface HistoryAnswer {
  history: HistoryEntryJson[];
  revision: number;
  total?: number;
  next?: string;
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

/** A running watch; `close()` stops it once the changes committed before it are delivered. */
export interface WatchHandle {
  close(): void;
}

export type Lifecycle = 'starting' | 'running' | 'stopping';

/** An Alarm Center instance, as a Node process embeds it. */
export interface AlarmCenter {
  /** Raises (or re-raises) one alarm; resolves to it once durable. */
  raise(scope: Scope, input: AlarmInput): Promise<AlarmJson>;
  /** Clears one alarm (404001 when it does not exist). */
  clear(scope: Scope, id: string, source?: string): Promise<AlarmJson>;
  /** Removes every alarm of the scope from the list (history keeps them). */
  clearAll(scope: Scope): Promise<{ revision: number }>;
  /**
   * Acknowledges the current activation of an ACTIVATED alarm (404001 unknown, 400001 CLEARED);
   * with `ttlSeconds`, it is withdrawn by itself that many seconds later unless acknowledged again.
   */
  ack(scope: Scope, id: string, ack: { by: string; comment?: string; source?: string; ttlSeconds?: number }): Promise<AlarmJson>;
  /** Withdraws an acknowledgement. */
  unack(scope: Scope, id: string, source?: string): Promise<AlarmJson>;
  /** Clears every ACTIVATED alarm matching the selector, in one commit: how many, and the revision. */
  clearMatching(scope: Scope, selector: { ids?: string[]; source?: string; severity?: Severity }): Promise<{ count: number; revision: number }>;
  /** Raises and clears atomically, as the HTTP batch does. */
  apply(scope: Scope, inputs: readonly AlarmInput[]): Promise<AlarmsAnswer>;
  /**
   * The scope's alarms the filter selects. Without `limit` or `cursor`: all of them in list order
   * (system alarms first, then by raise). With either: one page in (id, source) order, with
   * `total` and, when more remain, `next` to pass as `cursor`.
   */
  list(scope: Scope, filter?: AlarmFilter): AlarmsAnswer;
  /**
   * The scope's durable history entries the filter selects, in revision order after `since` (or
   * `cursor`); `next` when more remain, `total` when `limit` or `cursor` is given.
   */
  history(scope: Scope, filter?: HistoryFilter): Promise<HistoryAnswer>;
  /** Follows the scope's changes: replay after `since`, then live; RESYNC when it falls behind. */
  watch(scope: Scope, options: WatchOptions): WatchHandle;
  /** Cluster health of the scope: every cluster checker passes. */
  health(scope: Scope): Promise<HealthResult>;
  /** Alarm Center's own readiness (store, bus, lifecycle). */
  ready(exclude?: readonly string[]): Promise<HealthReport>;
  /** Stops: queued writes commit, watchers get the changes committed so far, the store closes. */
  close(): Promise<void>;
  readonly state: Lifecycle;
  /** Marks the instance as stopping: readiness fails, writes are still taken until `close`. */
  beginShutdown(): void;
}

/** What the embedding API is built from (see root.ts). */
export interface EmbeddingParts {
  alarms: AlarmService;
  /** The revision up to which every change is durable and in the history. */
  published(): number;
  hub: Pick<WatchHub, 'open' | 'finish'>;
  cluster: Pick<HealthRegistry, 'verdict'>;
  readiness: Pick<HealthRegistry, 'run'>;
  lifecycle: { readonly state: Lifecycle; beginShutdown(): void };
  close(): Promise<void>;
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

/** The value of an answer's JSON text: what the route sends, as the embedder receives it. */
function value<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** `total` and `next` of a page, present only when given, as the routes write them. */
function pageOf(r: { total?: number; next?: string }): { total?: number; next?: string } {
  return { ...(r.total !== undefined && { total: r.total }), ...(r.next !== undefined && { next: r.next }) };
}

/** The embedding API over the core's services. */
export function embeddingApi(parts: EmbeddingParts): AlarmCenter {
  const { alarms, hub, lifecycle } = parts;
  return {
    async raise(scope, input) {
      const s = checkScope(scope);
      return alarmValue(await alarms.raise(s, parse(AlarmInputSchema, input)));
    },
    async clear(scope, id, source = '') {
      const s = checkScope(scope);
      const valid = parse(AlarmInputSchema, { id, source, status: 'CLEARED' });
      return alarmValue(await alarms.clear(s, valid.id, valid.source));
    },
    async clearAll(scope) {
      return alarms.clearAll(checkScope(scope));
    },
    async ack(scope, id, ack) {
      const s = checkScope(scope);
      const key = parse(AlarmInputSchema, { id, source: ack.source ?? '' });
      const valid = parse(AckInputSchema, { by: ack.by, comment: ack.comment, ttlSeconds: ack.ttlSeconds });
      return alarmValue(await alarms.ack(s, key.id, key.source, valid.by, valid.comment, valid.ttlSeconds));
    },
    async unack(scope, id, source = '') {
      const s = checkScope(scope);
      const key = parse(AlarmInputSchema, { id, source });
      return alarmValue(await alarms.unack(s, key.id, key.source));
    },
    async clearMatching(scope, selector) {
      const s = checkScope(scope);
      const r = await alarms.clearMatching(s, parse(ClearSelectorSchema, selector));
      return { count: r.alarms.length, revision: r.revision };
    },
    async apply(scope, inputs) {
      const s = checkScope(scope);
      const r = await alarms.apply(s, inputs.map((input, i) => parse(AlarmInputSchema, input, `alarms.${i}`)));
      return { alarms: r.alarms.map(alarmValue), revision: r.revision };
    },
    list(scope, filter = {}) {
      const s = checkScope(scope);
      const { selection, page } = parse(AlarmFilterSchema, filter);
      const r = page ? alarms.page(s, selection, page) : alarms.list(s, selection);
      return { alarms: r.alarms.map(alarmValue), revision: r.revision, ...pageOf(r) };
    },
    async history(scope, filter = {}) {
      const s = checkScope(scope);
      const r = await alarms.findHistory(s, parse(HistoryFilterSchema, filter), parts.published());
      return value(historyText(r.history, r.revision, r));
    },
    watch(scope, options) {
      const s = checkScope(scope);
      const since = options.since;
      if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
        throw new AlarmCenterError(Codes.InvalidParams, 'since: must be a revision (a whole number ≥ 0)');
      }
      const watcher = hub.open(s, {
        scheme: 'Embedded',
        since,
        queueSize: options.queueSize,
        onEnd: (reason) => options.onEnd?.(reason),
        sink: {
          write(message, done) {
            try {
              options.onMessage(value<WatchEvent>(message.text));
            } finally {
              if (done) queueMicrotask(() => done());
            }
          },
          end() {},
        },
      });
      return { close: () => hub.finish(watcher, 'peer') };
    },
    async health(scope) {
      return parts.cluster.verdict(checkScope(scope));
    },
    ready(exclude = []) {
      return parts.readiness.run(undefined, exclude);
    },
    close: () => parts.close(),
    beginShutdown: () => lifecycle.beginShutdown(),
    get state() {
      return lifecycle.state;
    },
  };
}
