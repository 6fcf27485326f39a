-- Expiries moved without a change, as SQLite's migration 003: a re-send that changes nothing but
-- the expiry takes no revision and leaves no history entry; the alarm as it is at `revision`
-- expires at `expires_at` instead. Written without the revision lock (an extension of an older
-- revision never replaces a newer one); checkpoints remove those a later change made stale.
CREATE TABLE expiry_extensions (
  domain     text   NOT NULL,
  project    text   NOT NULL,
  id         text   NOT NULL,
  source     text   NOT NULL,
  revision   bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (domain, project, id, source)
);

-- The checkpoint of migration 003, which now also removes the extensions its range made stale:
-- those at or below the new checkpoint whose alarm is no longer at their revision.
CREATE OR REPLACE FUNCTION alarm_center_checkpoint(up_to bigint, most_rows bigint, removing_actions text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  done   bigint;
  target bigint;
BEGIN
  SELECT value INTO done FROM meta WHERE key = 'checkpoint' FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT LEAST(up_to, done + most_rows, value) INTO target FROM meta WHERE key = 'revision';
  IF target <= done THEN
    RETURN done;
  END IF;

  WITH last_changes AS MATERIALIZED (
    SELECT DISTINCT ON (domain, project, id, source) *, action = ANY(removing_actions) AS removed
    FROM history WHERE revision > done AND revision <= target
    ORDER BY domain, project, id, source, revision DESC
  ),
  upserted AS (
    INSERT INTO alarms (domain, project, id, source, status, severity, fields, count, raised_at,
      updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, revision)
    SELECT domain, project, id, source, status, severity, fields, count, raised_at,
      updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, revision
    FROM last_changes WHERE NOT removed
    ON CONFLICT (domain, project, id, source) DO UPDATE SET status = excluded.status,
      severity = excluded.severity, fields = excluded.fields, count = excluded.count,
      raised_at = excluded.raised_at, updated_at = excluded.updated_at, cleared_at = excluded.cleared_at,
      acked_by = excluded.acked_by, acked_at = excluded.acked_at, ack_comment = excluded.ack_comment,
      expires_at = excluded.expires_at, revision = excluded.revision
  )
  DELETE FROM alarms a USING last_changes f
  WHERE f.removed AND a.domain = f.domain AND a.project = f.project AND a.id = f.id AND a.source = f.source;

  DELETE FROM expiry_extensions e
  WHERE e.revision <= target AND NOT EXISTS (
    SELECT 1 FROM alarms a
    WHERE a.domain = e.domain AND a.project = e.project AND a.id = e.id AND a.source = e.source AND a.revision = e.revision
  );

  UPDATE meta SET value = target WHERE key = 'checkpoint';
  RETURN target;
END
$$;
