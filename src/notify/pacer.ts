/**
 * How the notifications thread yields to the raises (notify-thread.ts): while the main thread's
 * event loop is saturated (its utilization over the last interval at or above `saturated`), the
 * notifications work in only a `share` of each `periodMs` and wait out the rest, so the raises,
 * which callers wait on, keep most of the CPU, and the receivers' work that each request causes
 * on this machine shrinks with it. Unsaturated, they go at full speed. They never stop: under a
 * load that never eases they still go at that share, and catch up once it eases.
 */
export interface PacerOptions {
  /** The main event loop's utilization (0 to 1) over its last interval. */
  load(): number;
  saturated: number;
  periodMs: number;
  share: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_PACE = { saturated: 0.8, periodMs: 100, share: 0.05 } as const;

export class Pacer {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** When the current period began, while saturated. */
  private periodStart: number | undefined;

  constructor(private readonly o: PacerOptions) {
    this.now = o.now ?? (() => performance.now());
    this.sleep = o.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /** Resolves when the next piece of work may start. */
  async pace(): Promise<void> {
    if (this.o.load() < this.o.saturated) {
      this.periodStart = undefined;
      return;
    }
    const now = this.now();
    if (this.periodStart === undefined || now - this.periodStart >= this.o.periodMs) this.periodStart = now;
    const used = now - this.periodStart;
    if (used < this.o.periodMs * this.o.share) return;
    await this.sleep(this.o.periodMs - used);
    this.periodStart = this.now();
  }
}
