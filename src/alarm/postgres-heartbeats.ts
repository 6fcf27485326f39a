/**
 * The PostgreSQL store's heartbeats table (migrations/postgres/006_heartbeats.sql), as SQLite's
 * (sqlite-heartbeats.ts). Any replica beats; a beat reads the `raised` mark it resets in the same
 * statement, under the row's lock, so a beat and the judge's mark (another replica's) are ordered.
 * A registration is an insert that yields to a concurrent one, then a beat.
 */
import { DEFAULT_HEARTBEAT_SEVERITY, heartbeatOfRow, type HeartbeatRow } from './heartbeat-rows.js';
import type { Scope } from './model.js';
import type { RunQuery } from './postgres-webhooks.js';
import type { HeartbeatBeat, HeartbeatKey, HeartbeatSettings, StoredHeartbeat } from './store.js';

const KEY = 'domain = $1 AND project = $2 AND name = $3';

/** The store's heartbeat statements. */
export const HEARTBEAT_SQL = {
  /**
   * Beats a known heartbeat ($7 at), keeping the settings that are null ($4 timeout, $5 severity,
   * $6 fields); answers its `raised` mark from before, read under the row's lock.
   */
  beat: `UPDATE heartbeats h SET timeout_ms = COALESCE($4::bigint, h.timeout_ms), severity = COALESCE($5::text, h.severity),
      fields = COALESCE($6::text, h.fields), last_beat = $7::bigint, deadline = $7::bigint + COALESCE($4::bigint, h.timeout_ms), raised = false
    FROM (SELECT domain, project, name, raised FROM heartbeats WHERE ${KEY} FOR UPDATE) old
    WHERE h.domain = old.domain AND h.project = old.project AND h.name = old.name
    RETURNING h.*, old.raised AS was_raised`,
  /** Registers an unknown heartbeat; answers nothing when another beat registered it first. */
  register: `INSERT INTO heartbeats (domain, project, name, timeout_ms, severity, fields, last_beat, deadline, raised, created_at)
    VALUES ($1, $2, $3, $4::bigint, COALESCE($5::text, '${DEFAULT_HEARTBEAT_SEVERITY}'), COALESCE($6::text, '{}'), $7::bigint, $7::bigint + $4::bigint, false, $7::bigint)
    ON CONFLICT (domain, project, name) DO NOTHING
    RETURNING *`,
  all: 'SELECT * FROM heartbeats ORDER BY domain, project, name',
  ofScope: 'SELECT * FROM heartbeats WHERE domain = $1 AND project = $2 ORDER BY name',
  due: 'SELECT * FROM heartbeats WHERE NOT raised AND deadline <= $1::bigint AND (deadline >= $2::bigint OR $2::bigint + timeout_ms <= $1::bigint) ORDER BY deadline LIMIT $3',
  mark: `UPDATE heartbeats SET raised = true WHERE ${KEY} AND last_beat = $4::bigint RETURNING name`,
  remove: `DELETE FROM heartbeats WHERE ${KEY} RETURNING *`,
} as const;

const rowsAs = async (rows: Promise<Record<string, unknown>[]>): Promise<HeartbeatRow[]> => (await rows) as unknown as HeartbeatRow[];

/** The heartbeat methods of the store, over `query`. */
export function heartbeatTables(query: RunQuery) {
  const key = (k: HeartbeatKey) => [k.domain, k.project, k.name];
  return {
    async beatHeartbeat(k: HeartbeatKey, at: number, s: Partial<HeartbeatSettings>): Promise<HeartbeatBeat | undefined> {
      const values = [...key(k), s.timeoutMs ?? null, s.severity ?? null, s.fieldsJson ?? null, at];
      // A known heartbeat is beaten; an unknown one registered, unless another beat registers it meanwhile.
      for (;;) {
        const [beaten] = await rowsAs(query(HEARTBEAT_SQL.beat, values));
        if (beaten) return { heartbeat: heartbeatOfRow(beaten), wasRaised: beaten.was_raised === true, created: false };
        if (s.timeoutMs === undefined) return undefined;
        const [registered] = await rowsAs(query(HEARTBEAT_SQL.register, values));
        if (registered) return { heartbeat: heartbeatOfRow(registered), wasRaised: false, created: true };
      }
    },
    async heartbeats(scope?: Scope): Promise<StoredHeartbeat[]> {
      const rows = await rowsAs(scope ? query(HEARTBEAT_SQL.ofScope, [scope.domain, scope.project]) : query(HEARTBEAT_SQL.all, []));
      return rows.map(heartbeatOfRow);
    },
    async dueHeartbeats(now: number, graceFrom: number, limit: number): Promise<StoredHeartbeat[]> {
      return (await rowsAs(query(HEARTBEAT_SQL.due, [now, graceFrom, limit]))).map(heartbeatOfRow);
    },
    async markHeartbeatRaised(k: HeartbeatKey, lastBeat: number): Promise<boolean> {
      return (await query(HEARTBEAT_SQL.mark, [...key(k), lastBeat])).length === 1;
    },
    async deleteHeartbeat(k: HeartbeatKey): Promise<StoredHeartbeat | undefined> {
      const [row] = await rowsAs(query(HEARTBEAT_SQL.remove, key(k)));
      return row && heartbeatOfRow(row);
    },
  };
}
