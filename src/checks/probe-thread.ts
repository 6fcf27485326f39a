/**
 * The checks' probes in a worker thread. A probe costs the event loop that takes the raises a
 * connection, a request and its answer (about 250 µs of a busy server's CPU); here the thread
 * pays that, and the event loop only asks for a probe and reads its verdict.
 *
 * - Contract: a probe of `probeOf` answers what the same probe on the event loop answers
 *   (probe-target.ts), never rejects, and settles within its timeout (plus the hop back).
 * - Messages: the probes asked for in one turn of the event loop go to the thread in one message
 *   (checks due together fire in the same turn), and the thread answers the verdicts settled in
 *   one of its turns in one message; a target is sent once per thread, then named by its index.
 * - Failure: a thread that dies has the probes it held run on the event loop, each within what
 *   is left of its timeout, and another is started at the next probe; one that dies before its
 *   first answer (it cannot start here) is not started again, and every probe runs on the event
 *   loop from then on. Each loss is logged and counted (`probeThreadLost`).
 * - Life: the thread starts at the first probe and never keeps the process alive; `close` ends
 *   it, and the probes it held settle at once (a stopped check counts them for nothing).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'winston';
import { threadEntry, type ThreadEntry } from '../thread-entry.js';
import type { CheckMetrics } from './metrics.js';
import { probeOfTarget, type ProbeTarget } from './probe-target.js';
import { budgetMs, type Probe } from './probe.js';

/** The probes of one turn, to the thread: targets it has not had yet, by index, then id, target index, milliseconds allowed, … */
export interface ProbeRequests {
  targets: [number, ProbeTarget][];
  probes: number[];
}

/** The verdicts of one turn of the thread: id, failure (null when the target answered as expected), … */
export interface ProbeVerdicts {
  verdicts: (number | string | null)[];
}

export interface ProbeThreadOptions {
  logger: Logger;
  metrics?: Pick<CheckMetrics, 'probeThreadLost'>;
  /** Replaces the thread's module (tests). */
  entry?: ThreadEntry;
}

/** What a stopped thread's probes settle with; a stopped check never reads it. */
const STOPPED = 'probe stopped: the checks were stopped';

/** A probe the thread holds: which target, when it was asked for, the time it was given. */
interface Held {
  target: number;
  askedAt: number;
  allowedMs: number;
  resolve(verdict: string | undefined | Promise<string | undefined>): void;
}

/** Probes run in one worker thread, or on the event loop when it cannot run there. */
export class ProbeThread {
  private readonly o: ProbeThreadOptions;
  private readonly entry: ThreadEntry;
  private readonly targets: ProbeTarget[] = [];
  /** The targets' probes on the event loop, built when first needed. */
  private readonly here: (Probe | undefined)[] = [];
  private readonly held = new Map<number, Held>();
  /** Asked for in this turn, not sent yet: id, target index, milliseconds allowed, …. */
  private asked: number[] = [];
  private ids = 0;
  private worker: Worker | undefined;
  /** Targets the current thread was sent: indexes below this one. */
  private sent = 0;
  /** The current thread answered at least once. */
  private answered = false;
  /** A thread died before its first answer: probes run on the event loop. */
  private unavailable = false;
  private closed = false;

  constructor(options: ProbeThreadOptions) {
    this.o = options;
    this.entry = options.entry ?? threadEntry(import.meta.url, 'probe-worker', {});
  }

  /** Whether probes run on the event loop for good (the thread could not start). */
  get onEventLoop(): boolean {
    return this.unavailable;
  }

  /** The probe of `target`, run by the thread. */
  probeOf(target: ProbeTarget): Probe {
    const index = this.targets.push(target) - 1;
    return (withinMs) => this.ask(index, budgetMs(target.timeoutMs, withinMs));
  }

  /** Ends the thread; the probes it held settle at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.asked = [];
    for (const h of this.held.values()) h.resolve(STOPPED);
    this.held.clear();
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private ask(target: number, allowedMs: number): Promise<string | undefined> {
    if (this.unavailable || this.closed) return this.probeHere(target, allowedMs);
    const id = (this.ids += 1);
    return new Promise((resolve) => {
      this.held.set(id, { target, askedAt: performance.now(), allowedMs, resolve });
      if (this.asked.length === 0) setImmediate(() => this.send());
      this.asked.push(id, target, allowedMs);
    });
  }

  private probeHere(target: number, allowedMs: number): Promise<string | undefined> {
    const probe = (this.here[target] ??= probeOfTarget(this.targets[target] as ProbeTarget));
    return probe(allowedMs);
  }

  /** Sends the probes of this turn, with the targets the thread has not had. */
  private send(): void {
    const probes = this.asked;
    this.asked = [];
    if (probes.length === 0 || this.closed) return;
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (err) {
      this.lose(undefined, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const targets: ProbeRequests['targets'] = [];
    for (; this.sent < this.targets.length; this.sent += 1) targets.push([this.sent, this.targets[this.sent] as ProbeTarget]);
    const message: ProbeRequests = { targets, probes };
    worker.postMessage(message);
  }

  private start(): Worker {
    const worker = new Worker(this.entry.url, this.entry.options);
    this.worker = worker;
    this.sent = 0;
    this.answered = false;
    worker.on('message', (m: ProbeVerdicts) => this.settle(m));
    worker.on('error', (err) => this.lose(worker, err));
    worker.on('exit', (code) => this.lose(worker, new Error(`probe thread exited with code ${code}`)));
    // After the listeners: adding a 'message' listener keeps the process alive again.
    worker.unref();
    return worker;
  }

  private settle({ verdicts }: ProbeVerdicts): void {
    this.answered = true;
    for (let i = 0; i < verdicts.length; i += 2) {
      const id = verdicts[i] as number;
      const held = this.held.get(id);
      if (!held) continue;
      this.held.delete(id);
      held.resolve((verdicts[i + 1] as string | null) ?? undefined);
    }
  }

  /** A thread died (or could not be made): its probes run here within what is left of their time. */
  private lose(worker: Worker | undefined, error: Error): void {
    if (worker !== this.worker || this.closed) return;
    this.worker = undefined;
    this.unavailable = !this.answered;
    const held = [...this.held.values()];
    this.held.clear();
    this.asked = [];
    this.o.metrics?.probeThreadLost();
    const message = this.unavailable ? 'probe thread could not start; probing on the event loop' : 'probe thread lost; its probes ran on the event loop, another starts at the next probe';
    this.o.logger.error(message, { error: error.message, probes: held.length });
    const now = performance.now();
    for (const h of held) h.resolve(this.probeHere(h.target, h.allowedMs - (now - h.askedAt)));
  }
}
