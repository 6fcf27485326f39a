/** A clock that shows the time it was set to until a test moves it on; `startServer(…, { clock: c.now })`. */
export class ManualClock {
  private ms: number;

  constructor(start: number) {
    this.ms = start;
  }

  /** Milliseconds since the epoch, as `Date.now` answers them. */
  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }
}
