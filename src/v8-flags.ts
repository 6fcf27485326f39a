/**
 * V8 settings of the `alarm-center` process (not of an application embedding Alarm Center),
 * set before anything else runs.
 *
 * Allocation-site pretenuring is off. Under a burst of large writes (batches of 1,000 alarms
 * waiting for their commit), most of what the request handling code allocates lives past two
 * young-generation collections, so V8 learns to allocate it straight in the old generation —
 * and keeps doing so once the burst is over, for every later request. The old generation then
 * fills with short-lived request garbage: with 100,000 alarms loaded that way, health probes ran
 * about 20 % slower than with 10 (more and slower collections), and as fast without it.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-allocation-site-pretenuring');
