import type { Scope } from '../alarm/model.js';
import { DEFAULT_SCOPE } from '../alarm/model.js';
import type { HealthChecker, HealthReport, HealthResult, NamedResult } from './checker.js';

/** Named checkers, run in registration order. */
export class HealthRegistry {
  private readonly checkers = new Map<string, HealthChecker>();

  /** Adds a checker; replaces the one registered under the same name. */
  register(checker: HealthChecker): void {
    this.checkers.set(checker.name, checker);
  }

  unregister(name: string): boolean {
    return this.checkers.delete(name);
  }

  names(): string[] {
    return [...this.checkers.keys()];
  }

  has(name: string): boolean {
    return this.checkers.has(name);
  }

  /** Runs every checker except those in `exclude`; a throwing checker counts as failed. */
  async run(scope: Scope = DEFAULT_SCOPE, exclude: readonly string[] = []): Promise<HealthReport> {
    const results: NamedResult[] = [];
    for (const checker of this.checkers.values()) {
      if (exclude.includes(checker.name)) continue;
      results.push(await this.runOne(checker, scope));
    }
    return { healthy: results.every((r) => r.healthy), results };
  }

  /** The combined verdict: healthy, or the first failing checker's detail (its reasons left to `run`). */
  async verdict(scope: Scope = DEFAULT_SCOPE): Promise<HealthResult> {
    const report = await this.run(scope);
    const failed = report.results.find((r) => !r.healthy);
    return failed ? { healthy: false, detail: failed.detail } : { healthy: true };
  }

  /** Runs one checker by name; undefined when there is none. */
  async runNamed(name: string, scope: Scope = DEFAULT_SCOPE): Promise<NamedResult | undefined> {
    const checker = this.checkers.get(name);
    return checker ? this.runOne(checker, scope) : undefined;
  }

  private async runOne(checker: HealthChecker, scope: Scope): Promise<NamedResult> {
    try {
      const r = await checker.check(scope);
      return r.detail === undefined ? { name: checker.name, healthy: r.healthy } : { name: checker.name, ...r };
    } catch (err) {
      return { name: checker.name, healthy: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }
}
