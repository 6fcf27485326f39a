-- Acknowledgements that expire, as in SQLite's migration 004: when an acknowledgement given with
-- `ttlSeconds` is withdrawn by itself (part of the alarm's state, in both tables), and who made
-- each acknowledgement's change (history only): the `by` of an ack, 'ack expired' for a
-- withdrawal by expiry, NULL otherwise.
ALTER TABLE history ADD COLUMN ack_expires_at bigint;
ALTER TABLE alarms  ADD COLUMN ack_expires_at bigint;
ALTER TABLE history ADD COLUMN changed_by     text;

-- The commit with the two new columns: alarm_center_commit of migration 003 with `c_ack_expires_at`
-- and `c_changed_by` added at the end. A new overload, not a replacement: replicas of the previous
-- version still running during a rolling upgrade keep committing through the old one (their
-- changes carry neither column, as they know neither).
CREATE FUNCTION alarm_center_commit(
  expected_revision bigint,
  new_revision      bigint,
  notify_channel    text,
  c_revision    bigint[],
  c_domain      text[],
  c_project     text[],
  c_id          text[],
  c_source      text[],
  c_action      text[],
  c_status      text[],
  c_severity    text[],
  c_fields      text[],
  c_count       bigint[],
  c_raised_at   bigint[],
  c_updated_at  bigint[],
  c_cleared_at  bigint[],
  c_acked_by    text[],
  c_acked_at    bigint[],
  c_ack_comment text[],
  c_expires_at  bigint[],
  c_at          bigint[],
  c_removed     boolean[],
  c_ack_expires_at bigint[],
  c_changed_by     text[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  found_revision bigint;
BEGIN
  SELECT value INTO found_revision FROM meta WHERE key = 'revision' FOR UPDATE;
  found_revision := COALESCE(found_revision, 0);
  IF found_revision <> expected_revision THEN
    RETURN found_revision;
  END IF;

  INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count,
    raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, at,
    ack_expires_at, changed_by)
  SELECT * FROM unnest(
    c_revision, c_domain, c_project, c_id, c_source, c_action, c_status, c_severity, c_fields,
    c_count, c_raised_at, c_updated_at, c_cleared_at, c_acked_by, c_acked_at, c_ack_comment,
    c_expires_at, c_at, c_ack_expires_at, c_changed_by
  );
  UPDATE meta SET value = new_revision WHERE key = 'revision';

  PERFORM pg_notify(notify_channel, new_revision::text);
  RETURN found_revision;
END
$$;

-- The checkpoint of migration 003, carrying `ack_expires_at` into the alarms table too; same
-- parameters, so every replica's checkpoints do from now on.
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
      updated_at, cleared_at, acked_by, acked_at, ack_comment, ack_expires_at, expires_at, revision)
    SELECT domain, project, id, source, status, severity, fields, count, raised_at,
      updated_at, cleared_at, acked_by, acked_at, ack_comment, ack_expires_at, expires_at, revision
    FROM last_changes WHERE NOT removed
    ON CONFLICT (domain, project, id, source) DO UPDATE SET status = excluded.status,
      severity = excluded.severity, fields = excluded.fields, count = excluded.count,
      raised_at = excluded.raised_at, updated_at = excluded.updated_at, cleared_at = excluded.cleared_at,
      acked_by = excluded.acked_by, acked_at = excluded.acked_at, ack_comment = excluded.ack_comment,
      ack_expires_at = excluded.ack_expires_at, expires_at = excluded.expires_at, revision = excluded.revision
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
