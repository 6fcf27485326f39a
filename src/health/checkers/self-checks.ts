import type { AlarmStore, StoreFailure } from '../../alarm/store.js';
import type { BusService } from '../../event/bus-service.js';
import type { HealthChecker } from '../checker.js';

/**
 * Readiness: the store answers and did not fail in the last `holdMs`. A failure holds readiness
 * down only for that long: an unready instance gets no traffic behind a load balancer, and
 * without a write it could never see the store recover. After the hold, traffic comes back and
 * the next commit either clears the failure or starts a new hold (a half-open breaker).
 */
export function createStoreChecker(
  store: AlarmStore,
  lastFailure: () => StoreFailure | undefined,
  options: { holdMs?: number; clock?: () => number } = {},
): HealthChecker {
  const holdMs = options.holdMs ?? 10_000;
  const clock = options.clock ?? Date.now;
  return {
    name: 'store',
    async check() {
      const failure = lastFailure();
      if (failure && clock() - failure.at < holdMs) return { healthy: false, detail: failure.error.message };
      try {
        await store.ping();
        return { healthy: true };
      } catch (err) {
        return { healthy: false, detail: err instanceof Error ? err.message : String(err) };
      }
    },
  };
}

/** Readiness: the bus is started and not stopped. */
export function createBusChecker(bus: BusService): HealthChecker {
  return {
    name: 'bus',
    check() {
      return bus.running ? { healthy: true } : { healthy: false, detail: 'event bus is not running' };
    },
  };
}

/** Readiness: start-up finished and shutdown has not begun. */
export function createLifecycleChecker(state: () => 'starting' | 'running' | 'stopping'): HealthChecker {
  return {
    name: 'lifecycle',
    check() {
      const s = state();
      return s === 'running' ? { healthy: true } : { healthy: false, detail: `Alarm Center is ${s}` };
    },
  };
}
