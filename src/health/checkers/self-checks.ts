import type { AlarmStore } from '../../alarm/store.js';
import type { BusService } from '../../event/bus-service.js';
import type { HealthChecker } from '../checker.js';

/** Readiness: the store answers and its last commit did not fail. */
export function createStoreChecker(store: AlarmStore, lastFailure: () => Error | undefined): HealthChecker {
  return {
    name: 'store',
    async check() {
      const failure = lastFailure();
      if (failure) return { healthy: false, detail: failure.message };
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
