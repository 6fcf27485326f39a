/**
 * The beater of part I, in a process of its own so its requests do not share the load
 * generator's event loop. It registers `--count` heartbeats (`beat-0`, `beat-1`, …, with
 * `--timeout` seconds) in project `default` of the Alarm Center at `--url`, prints a JSON line with
 * `"message":"ready"`, and waits. SIGUSR1 starts beating: each heartbeat once a second with an
 * empty PUT, spread evenly (open loop: the n-th beat at n ÷ count seconds, at most BEATS_IN_FLIGHT
 * in flight, on as many keep-alive connections; the lean client of lean-http.ts writes them, at a
 * fraction of node:http's CPU on the cores the server under test uses); SIGUSR2 pauses, waits for the beats in flight and prints a `"message":"paused"` line
 * with what the run since the last SIGUSR1 came to (`Tally`). It stops on SIGTERM or SIGINT.
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { LeanClient } from './lean-http.js';

/** What one run of beats came to, as the `paused` line reports it. */
export interface Tally {
  /** Beats answered 2xx, and the others (non-2xx, connection errors, timeouts). */
  ok: number;
  failed: number;
  /** Seconds from the start of the run to its last beat's answer. */
  seconds: number;
  /** How late, at most, a beat left after its slot in the schedule. */
  behindMaxMs: number;
}

const BEATS_IN_FLIGHT = 32;
const REGISTER_IN_FLIGHT = 16;
const REQUEST_TIMEOUT_MS = 10_000;
/** Longest sleep of the schedule, so a pause is seen soon. */
const MAX_SLEEP_MS = 50;

/** Sends one PUT; resolves whether it was answered 2xx. */
function put(url: URL, agent: http.Agent, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const headers = body === '' ? { 'content-length': 0 } : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request(url, { method: 'PUT', agent, timeout: REQUEST_TIMEOUT_MS, headers }, (res) => {
      res.resume();
      res.on('error', () => resolve(false));
      res.on('end', () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) <= 299));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** Beats the heartbeats on a schedule between `start` and `pause`. */
class Beater {
  private readonly urls: URL[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: BEATS_IN_FLIGHT });
  /** The beats' requests, prepared, and the lean client that sends them (lean-http.ts). */
  private readonly beats: Buffer[];
  private readonly client: LeanClient;
  /** The heartbeat the next beat is for: a run goes on where the last one paused. */
  private next = 0;
  private running: Promise<Tally> | undefined;
  private stopping = false;

  constructor(base: string, count: number) {
    this.urls = Array.from({ length: count }, (_, i) => new URL(`${base}/v4/default/admin/heartbeats/beat-${i}`));
    this.client = new LeanClient(new URL(base), BEATS_IN_FLIGHT);
    this.beats = this.urls.map((u) => this.client.request('PUT', u.pathname));
  }

  /** Registers every heartbeat with its timeout; fails when one is not answered 2xx. */
  async register(timeoutSeconds: number): Promise<void> {
    const body = JSON.stringify({ timeoutSeconds });
    let at = 0;
    const worker = async (): Promise<void> => {
      while (at < this.urls.length) {
        const url = this.urls[at++] as URL;
        if (!(await put(url, this.agent, body))) throw new Error(`registering ${url.pathname} failed`);
      }
    };
    await Promise.all(Array.from({ length: REGISTER_IN_FLIGHT }, worker));
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.beat();
  }

  /** Ends the run and answers its tally; undefined when none runs. */
  async pause(): Promise<Tally | undefined> {
    if (!this.running) return undefined;
    this.stopping = true;
    const tally = await this.running;
    this.running = undefined;
    return tally;
  }

  close(): void {
    this.agent.destroy();
    this.client.close();
  }

  private async beat(): Promise<Tally> {
    const tally: Tally = { ok: 0, failed: 0, seconds: 0, behindMaxMs: 0 };
    const pending = new Set<Promise<void>>();
    const perMs = this.urls.length / 1000;
    const start = performance.now();
    for (let n = 0; !this.stopping; ) {
      const slot = start + n / perMs;
      const now = performance.now();
      if (slot > now) await delay(Math.min(MAX_SLEEP_MS, slot - now));
      else if (pending.size >= BEATS_IN_FLIGHT) await Promise.race(pending);
      else {
        const sent = this.client.send(this.beats[this.next] as Buffer, REQUEST_TIMEOUT_MS);
        if (!sent) {
          await Promise.race(pending);
          continue;
        }
        tally.behindMaxMs = Math.max(tally.behindMaxMs, now - slot);
        this.next = (this.next + 1) % this.urls.length;
        const p = sent.then((ok) => {
          if (ok) tally.ok += 1;
          else tally.failed += 1;
          pending.delete(p);
        });
        pending.add(p);
        n += 1;
      }
    }
    await Promise.all(pending);
    tally.seconds = (performance.now() - start) / 1000;
    return tally;
  }
}

function line(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ level: 'info', ...entry })}\n`);
}

async function main(): Promise<void> {
  const options = { url: { type: 'string' }, count: { type: 'string', default: '1000' }, timeout: { type: 'string', default: '30' } } as const;
  const { values } = parseArgs({ options });
  if (values.url === undefined) throw new Error('--url is required');
  const beater = new Beater(values.url, Number(values.count));
  await beater.register(Number(values.timeout));
  process.on('SIGUSR1', () => beater.start());
  process.on('SIGUSR2', () => {
    void beater.pause().then((tally) => line({ message: 'paused', ...tally }));
  });
  // Signal handlers alone do not keep the process alive between runs.
  const idle = setInterval(() => undefined, 60_000);
  const stop = (): void => {
    clearInterval(idle);
    void beater.pause().finally(() => {
      beater.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  line({ message: 'ready', heartbeats: Number(values.count) });
}

main().catch((err: unknown) => {
  process.stderr.write(`beater failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
