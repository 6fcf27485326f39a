/** Shared by the forwarding unit tests: alarms to forward, and a poster standing in for Alertmanagers. */
import type { Registry } from 'prom-client';
import { makeAlarm, type Alarm, type AlarmState } from '../../../src/alarm/model.js';
import type { Poster } from '../../../src/notify/alertmanager-sender.js';
import type { PostableAlert } from '../../../src/notify/postable-alert.js';

/** An ACTIVATED alarm of d/p raised at 0, with `over` applied. */
export function alarm(id: string, over: Partial<AlarmState> & { fields?: Record<string, unknown> } = {}): Alarm {
  const { fields, ...rest } = over;
  return makeAlarm({
    domain: 'd', project: 'p', id, source: 's', status: 'ACTIVATED', severity: 'major', fieldsJson: JSON.stringify(fields ?? {}),
    count: 1, raisedAt: 0, updatedAt: 0, revision: 1, ...rest,
  });
}

/** The same alarm CLEARED at `at`. */
export function cleared(a: Alarm, at: number): Alarm {
  return makeAlarm({ ...a, status: 'CLEARED', clearedAt: at, updatedAt: at, revision: a.revision + 1 });
}

/** One request a fake Alertmanager received. */
export interface Received {
  url: string;
  at: number;
  headers: Record<string, string>;
  alerts: PostableAlert[];
}

/** How the fake answers: a status, an error (no answer), or never (until the request is aborted). */
export type Answer = number | Error | 'hang';

/**
 * Alertmanagers as one poster: records every request (time from Date.now, so fake timers show),
 * and answers each by `answer(url)`, 200 unless set.
 */
export class FakeAlertmanagers {
  readonly received: Received[] = [];
  answer: (url: string) => Answer = () => 200;
  /** Requests started and not yet answered. */
  open = 0;

  readonly post: Poster = async ({ url, headers, body, signal }) => {
    this.received.push({ url, at: Date.now(), headers, alerts: JSON.parse(body) as PostableAlert[] });
    const answer = this.answer(url);
    this.open += 1;
    try {
      if (answer === 'hang') {
        return await new Promise<number>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
      }
      // An answer comes on a later turn, as over a socket.
      await Promise.resolve();
      if (answer instanceof Error) throw answer;
      return answer;
    } finally {
      this.open -= 1;
    }
  };

  /** The alertnames of each request to `url`, in order. */
  names(url?: string): string[][] {
    return this.received.filter((r) => url === undefined || r.url === url).map((r) => r.alerts.map((a) => a.labels.alertname as string));
  }
}

/** The value of a metric's series labelled `alertmanager`, or undefined when it has none. */
export async function metricOf(registry: Registry, name: string, alertmanager: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.alertmanager === alertmanager)?.value;
}
