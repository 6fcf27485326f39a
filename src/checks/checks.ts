/**
 * Active checks: each check of the config probes its target every `intervalSeconds`; after
 * `failureThreshold` failures in a row BackendConnectionRefuse is raised (source = the check's
 * name, `fields.detail` = the failure as a person reads it), after `successThreshold` successes in
 * a row it is cleared.
 *
 * - Each check runs on a timer of its own and waits for its probe (which settles within its
 *   timeout) before it schedules the next: a check never overlaps itself, and a slow target
 *   delays no other check.
 * - With replicas, checks run only where the jobs lease is held; counts start over on the replica
 *   that takes it. Whether the alarm is raised is read from the index (shared through the store),
 *   so a takeover neither repeats a raise nor forgets one to clear.
 * - A raise or clear that fails is tried again after the next probe (the counts still call for it).
 */
import type { Logger } from 'winston';
import { AlarmIds, type Alarm, type Scope, type ValidAlarmInput } from '../alarm/model.js';
import type { Lease } from '../alarm/store.js';
import { parseStatusRange, parseTcpTarget, targetText, type CheckConfig } from './check-config.js';
import { noopCheckMetrics, type CheckMetrics } from './metrics.js';
import { probeOfTarget, type ProbeTarget } from './probe-target.js';
import type { Probe } from './probe.js';

/** The alarm a failing check raises. */
export const CHECK_ALARM_ID = AlarmIds.BackendConnectionRefuse;

export interface ChecksOptions {
  checks: readonly CheckConfig[];
  alarms: { apply(scope: Scope, inputs: readonly ValidAlarmInput[]): Promise<unknown> };
  index: { get(scope: Scope, id: string, source: string): Alarm | undefined };
  logger: Logger;
  metrics?: CheckMetrics;
  /** With replicas, the jobs lease: checks run only while it is held. */
  lease?: Lease;
  clock?: () => number;
  /** The probe of a check; by default `probeOf`, on the event loop (a ProbeThread runs them off it). */
  probeOf?: (c: CheckConfig) => Probe;
}

/** Where a check stands on this replica; counts are zero where it does not run. */
export interface CheckStatus {
  config: CheckConfig;
  /** The check runs on this replica (it holds the lease, or there are no replicas). */
  running: boolean;
  /** Its BackendConnectionRefuse alarm is ACTIVATED. */
  raised: boolean;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** The last probe here: when it started, how long it took, and its failure if it failed. */
  last?: { at: number; durationMs: number; error?: string };
}

/** What a check probes, with its timeout. */
export function targetOf(c: CheckConfig): ProbeTarget {
  const timeoutMs = c.timeoutSeconds * 1000;
  if (c.http !== undefined) {
    const status = parseStatusRange(c.expectStatus ?? '200-399') ?? [200, 399];
    return { kind: 'http', url: c.http, status, timeoutMs, ...(c.bodyContains !== undefined && { bodyContains: c.bodyContains }) };
  }
  const target = parseTcpTarget(c.tcp ?? '');
  if (!target) throw new Error(`check ${c.name}: no target`);
  return { kind: 'tcp', ...target, timeoutMs };
}

/** The probe of a check's target, on the event loop. */
export function probeOf(c: CheckConfig): Probe {
  return probeOfTarget(targetOf(c));
}

/** One check's loop and counts. */
class CheckLoop {
  readonly config: CheckConfig;
  readonly scope: Scope;
  private readonly probe: Probe;
  private readonly o: ChecksOptions;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Grows at each start and stop: a probe of an earlier run counts for nothing. */
  private run = 0;
  running = false;
  failures = 0;
  successes = 0;
  last: CheckStatus['last'];

  constructor(config: CheckConfig, o: ChecksOptions) {
    this.config = config;
    this.scope = { domain: config.domain, project: config.project };
    this.probe = (o.probeOf ?? probeOf)(config);
    this.o = o;
    this.clock = o.clock ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.run += 1;
    this.failures = 0;
    this.successes = 0;
    this.schedule(0, this.run);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.run += 1;
    clearTimeout(this.timer);
    (this.o.metrics ?? noopCheckMetrics).stopped(this.config.name);
  }

  private schedule(delayMs: number, run: number): void {
    this.timer = setTimeout(() => void this.once(run), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  /** One probe, its counts, the alarm it calls for, then the next probe one interval after this one began. */
  private async once(run: number): Promise<void> {
    const started = this.clock();
    const t0 = performance.now();
    const error = await this.probe();
    if (run !== this.run) return;
    const durationMs = performance.now() - t0;
    if (error === undefined) {
      this.successes += 1;
      this.failures = 0;
    } else {
      this.failures += 1;
      this.successes = 0;
    }
    this.last = { at: started, durationMs, ...(error !== undefined && { error }) };
    (this.o.metrics ?? noopCheckMetrics).probed(this.config.name, { up: error === undefined, seconds: durationMs / 1000, consecutiveFailures: this.failures });
    await this.settle(error);
    if (run !== this.run) return;
    this.schedule(started + this.config.intervalSeconds * 1000 - this.clock(), run);
  }

  /** Raises or clears the check's alarm when the counts call for it and it is not so already. */
  private async settle(error: string | undefined): Promise<void> {
    const c = this.config;
    const raised = this.o.index.get(this.scope, CHECK_ALARM_ID, c.name)?.status === 'ACTIVATED';
    let input: ValidAlarmInput | undefined;
    if (error !== undefined && this.failures >= c.failureThreshold && !raised) {
      input = { id: CHECK_ALARM_ID, status: 'ACTIVATED', source: c.name, severity: c.severity, fields: { detail: error, target: targetText(c) } };
    } else if (error === undefined && this.successes >= c.successThreshold && raised) {
      input = { id: CHECK_ALARM_ID, status: 'CLEARED', source: c.name, fields: {} };
    }
    if (!input) return;
    try {
      await this.o.alarms.apply(this.scope, [input]);
      this.o.logger.info(input.status === 'ACTIVATED' ? 'check failing' : 'check passing again', { check: c.name, ...(error !== undefined && { error }) });
    } catch (err) {
      (this.o.metrics ?? noopCheckMetrics).writeFailed('checks');
      this.o.logger.warn('check alarm not written; tried again after the next probe', { check: c.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** Runs every configured check while leading; answers their status. */
export class Checks {
  private readonly loops: CheckLoop[];
  private readonly o: ChecksOptions;
  private started = false;

  constructor(options: ChecksOptions) {
    this.o = options;
    this.loops = options.checks.map((c) => new CheckLoop(c, options));
    options.lease?.onChange(() => this.follow());
  }

  /** Starts the checks (while leading). */
  start(): void {
    this.started = true;
    this.follow();
  }

  /** Stops every check; a probe under way settles by its timeout and counts for nothing. */
  close(): void {
    this.started = false;
    for (const l of this.loops) l.stop();
  }

  private follow(): void {
    const run = this.started && (this.o.lease?.held ?? true);
    for (const l of this.loops) {
      if (run) l.start();
      else l.stop();
    }
  }

  /** The checks that raise into the scope, in the config's order. */
  list(scope: Scope): CheckStatus[] {
    return this.loops
      .filter((l) => l.scope.domain === scope.domain && l.scope.project === scope.project)
      .map((l) => ({
        config: l.config,
        running: l.running,
        raised: this.o.index.get(l.scope, CHECK_ALARM_ID, l.config.name)?.status === 'ACTIVATED',
        consecutiveFailures: l.running ? l.failures : 0,
        consecutiveSuccesses: l.running ? l.successes : 0,
        ...(l.running && l.last && { last: l.last }),
      }));
  }
}
