/**
 * The body of Alertmanager's GET /api/v2/status (`alertmanagerStatus`). amtool reads it before
 * every command: it compares `versionInfo.version` with its own and warns on stderr when they
 * differ, and `amtool config show` / `amtool cluster show` print `config` and `cluster`.
 */
import { isoTime } from '../alarm/model.js';

/** Alertmanager's `alertmanagerStatus`. */
export interface AlertmanagerStatus {
  cluster: { name?: string; status: 'ready' | 'settling' | 'disabled'; peers: { name: string; address: string }[] };
  versionInfo: { version: string; revision: string; branch: string; buildUser: string; buildDate: string; goVersion: string };
  config: { original: string };
  /** When the process started (Alertmanager names it uptime). */
  uptime: string;
}

/** What is not known of an Alarm Center build, in the fields Alertmanager fills from its Go build. */
const UNKNOWN = 'unknown';

/**
 * The status body of an Alarm Center: `version` (its own), started at `startedAt` (clock
 * milliseconds), a cluster `ready` without peers (named `clusterName` when given), and an empty
 * configuration (it has no Alertmanager configuration to show).
 */
export function statusBody(opts: { version: string; startedAt: number; clusterName?: string }): AlertmanagerStatus {
  return {
    cluster: { ...(opts.clusterName !== undefined && { name: opts.clusterName }), status: 'ready', peers: [] },
    versionInfo: { version: opts.version, revision: UNKNOWN, branch: UNKNOWN, buildUser: UNKNOWN, buildDate: UNKNOWN, goVersion: UNKNOWN },
    config: { original: '' },
    uptime: isoTime(opts.startedAt),
  };
}
