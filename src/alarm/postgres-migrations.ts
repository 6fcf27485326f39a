import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Migration } from './sqlite-migrations.js';
import { StoreError } from './store.js';

export { readMigrations } from './sqlite-migrations.js';

/** The package's PostgreSQL migrations, found from this module whether it runs from src/ or dist/. */
export const DEFAULT_POSTGRES_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/postgres/', import.meta.url));

/** The transaction-level advisory lock that replicas starting together take in turn to migrate ('ALARMCNT'). */
const MIGRATION_LOCK = '4705207532434706004';

/** The StoreError refusing a database made by a newer Alarm Center. */
export function newerSchema(version: number, known: number): StoreError {
  return new StoreError(
    `the database schema is at version ${version}, newer than this Alarm Center (${known}); upgrade Alarm Center`,
    { backendCode: 'SCHEMA_TOO_NEW' },
  );
}

/**
 * Brings the database's schema up to the newest migration, in one transaction that holds the
 * migration lock: replicas starting together apply each migration once, one after the other, and
 * a failure leaves nothing of it. A database at a newer version than `migrations` know is refused
 * with nothing changed.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[]): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>('SELECT COALESCE(MAX(version), 0)::integer AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) throw newerSchema(current, migrations.length);
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
