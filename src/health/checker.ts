import type { Scope } from '../alarm/model.js';

/** The verdict of one check; `detail` says why it failed. */
export interface HealthResult {
  healthy: boolean;
  detail?: string;
  /** Each cause of a failure on a line of its own, when the checker names several (verbose answers list them). */
  reasons?: string[];
}

/**
 * A named health check (the replacement for service-center's SetGlobalHealthChecker). `check`
 * must be cheap and must not throw; a checker that throws counts as failed with its message.
 * Cluster checkers use the scope; self checks ignore it.
 */
export interface HealthChecker {
  readonly name: string;
  check(scope: Scope): HealthResult | Promise<HealthResult>;
}

/** One checker's named result. */
export interface NamedResult extends HealthResult {
  name: string;
}

/** All results of a registry run; healthy when every included check passed. */
export interface HealthReport {
  healthy: boolean;
  results: NamedResult[];
}
