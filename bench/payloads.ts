/**
 * Request bodies of the bench: Alarm Center alarm inputs and the equivalent Alertmanager alerts,
 * numbered so that every request of a run creates new alarms.
 */

/** The detail every bench alarm carries, as a service would report a refused backend. */
export const DETAIL = 'dial tcp 10.0.0.5:2379: connection refused';

/** An AlarmInput as a client sends it. */
export interface AlarmInputJson {
  id: string;
  source: string;
  fields: { detail: string };
}

/** An alert as Alertmanager's `POST /api/v2/alerts` takes it. */
export interface AlertJson {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** A counter handing out consecutive numbers: `next(n)` reserves n and returns the first. */
export function sequence(start = 0): (n?: number) => number {
  let at = start;
  return (n = 1) => {
    const first = at;
    at += n;
    return first;
  };
}

/** The n-th BackendConnectionRefuse alarm, about service `svc-n`. */
export function alarmInput(n: number): AlarmInputJson {
  return { id: 'BackendConnectionRefuse', source: `svc-${n}`, fields: { detail: DETAIL } };
}

/** `size` consecutive alarm inputs starting at `first`. */
export function alarmInputs(first: number, size: number): AlarmInputJson[] {
  return Array.from({ length: size }, (_, i) => alarmInput(first + i));
}

/** The n-th alert, the Alertmanager counterpart of `alarmInput(n)`. */
export function alert(n: number, startsAt: string): AlertJson {
  return {
    labels: { alertname: 'BackendConnectionRefuse', instance: `svc-${n}`, job: 'registry', severity: 'major' },
    annotations: { description: DETAIL },
    startsAt,
  };
}

/** `size` consecutive alerts starting at `first`. */
export function alerts(first: number, size: number): AlertJson[] {
  const startsAt = new Date().toISOString();
  return Array.from({ length: size }, (_, i) => alert(first + i, startsAt));
}

/** The revision of the one alarm a raise answers; undefined when the answer has none. */
export function revisionOf(body: Buffer): number | undefined {
  try {
    const revision = (JSON.parse(body.toString('utf8')) as { alarms?: { revision?: unknown }[] }).alarms?.[0]?.revision;
    return typeof revision === 'number' ? revision : undefined;
  } catch {
    return undefined;
  }
}
