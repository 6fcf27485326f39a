-- A commit in one statement, so in one round trip: alarm_center_commit takes a commit's changes as
-- arrays (one element per change, in commit order) and, in the transaction of the statement that
-- calls it, does what a commit does (see PostgresStore.commit):
--
-- - locks the row of meta 'revision' (FOR UPDATE), writers taking turns, and reads the store's
--   revision; unless it is `expected_revision`, it returns that revision with nothing stored;
-- - appends one history row per change;
-- - brings the alarms table up to date, each alarm's last change in the commit deciding: upserted
--   unless removed, deleted when removed;
-- - sets meta 'revision' to `new_revision` and notifies `notify_channel` with it, which
--   PostgreSQL delivers only once the commit is.
--
-- It returns the revision it found: `expected_revision` when the commit is stored.
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
  c_removed     boolean[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  found_revision bigint;
BEGIN
  SELECT value INTO found_revision FROM meta WHERE key = 'revision' FOR UPDATE;
  found_revision := COALESCE(found_revision, 0);
  IF found_revision <> expected_revision THEN
    RETURN found_revision;
  END IF;

  WITH c AS MATERIALIZED (
    SELECT * FROM unnest(
      c_revision, c_domain, c_project, c_id, c_source, c_action, c_status, c_severity, c_fields,
      c_count, c_raised_at, c_updated_at, c_cleared_at, c_acked_by, c_acked_at, c_ack_comment,
      c_expires_at, c_at, c_removed
    ) WITH ORDINALITY AS c(
      revision, domain, project, id, source, action, status, severity, fields, count, raised_at,
      updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, at, removed, n
    )
  ),
  appended AS (
    INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count,
      raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, at)
    SELECT revision, domain, project, id, source, action, status, severity, fields, count,
      raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, at
    FROM c
  ),
  last_changes AS (
    SELECT DISTINCT ON (domain, project, id, source) * FROM c ORDER BY domain, project, id, source, n DESC
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
  ),
  deleted AS (
    DELETE FROM alarms a USING last_changes f
    WHERE f.removed AND a.domain = f.domain AND a.project = f.project AND a.id = f.id AND a.source = f.source
  )
  UPDATE meta SET value = new_revision WHERE key = 'revision';

  PERFORM pg_notify(notify_channel, new_revision::text);
  RETURN found_revision;
END
$$;
