/**
 * What a check probes, as plain data: what a probe thread is sent (probe-thread.ts), and what
 * either side builds the same probe from.
 */
import { httpProbe, type HttpTarget } from './probe-http.js';
import { tcpProbe, type TcpTarget } from './probe-tcp.js';
import type { Probe } from './probe.js';

/** An HTTP or a TCP target with its timeout; structured-clone safe. */
export type ProbeTarget = ({ kind: 'http' } & HttpTarget) | ({ kind: 'tcp' } & TcpTarget);

/** The probe of a target, run on the thread that calls it. */
export function probeOfTarget(t: ProbeTarget): Probe {
  return t.kind === 'http' ? httpProbe(t) : tcpProbe(t);
}
