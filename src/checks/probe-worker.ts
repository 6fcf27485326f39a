/**
 * The probe thread (probe-thread.ts): runs the probes it is asked for, each as it would run on
 * the event loop (probe-target.ts), and answers the verdicts settled in one turn of its event
 * loop in one message.
 */
import { parentPort } from 'node:worker_threads';
import { probeOfTarget } from './probe-target.js';
import type { ProbeRequests, ProbeVerdicts } from './probe-thread.js';
import type { Probe } from './probe.js';

const port = parentPort;
if (!port) throw new Error('probe-worker runs as a worker thread');

/** The probes of the targets sent so far, by index. */
const probes: Probe[] = [];
let verdicts: ProbeVerdicts['verdicts'] = [];

function answer(id: number, failure: string | undefined): void {
  if (verdicts.length === 0) setImmediate(flush);
  verdicts.push(id, failure ?? null);
}

function flush(): void {
  const message: ProbeVerdicts = { verdicts };
  verdicts = [];
  port?.postMessage(message);
}

port.on('message', ({ targets, probes: asked }: ProbeRequests) => {
  for (const [index, target] of targets) probes[index] = probeOfTarget(target);
  for (let i = 0; i < asked.length; i += 3) {
    const id = asked[i] as number;
    const probe = probes[asked[i + 1] as number] as Probe;
    void probe(asked[i + 2]).then((failure) => answer(id, failure));
  }
});
