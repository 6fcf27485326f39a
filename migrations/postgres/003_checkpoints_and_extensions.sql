-- Checkpoints, as SQLite's store has, and expiry extensions.
--
-- Checkpoints: a commit appends to the history only, and the alarms table is brought up to date
-- from the history later, in bulk, by alarm_center_checkpoint, outside the commits' turn. A commit then holds the revision lock for the history's rows alone, and a
-- checkpoint writes each alarm once however often it changed since the last one.
--
-- meta 'checkpoint' is the revision up to which the alarms table holds the history: a load reads
-- the table, then replays the history after it, in one snapshot. Until now each commit kept the
-- table current, so the checkpoint starts at the revision.
INSERT INTO meta (key, value) SELECT 'checkpoint', value FROM meta WHERE key = 'revision';

-- The same function, with the same parameters, storing the history only: replicas of the
-- previous version still running during a rolling upgrade keep committing through it, and the
-- checkpoints of the new ones bring the table up to date. `c_removed` is no longer read.
CREATE OR REPLACE FUNCTION alarm_center_commit(
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

  INSERT INTO history (revision, domain, project, id, source, action, status, severity, fields, count,
    raised_at, updated_at, cleared_at, acked_by, acked_at, ack_comment, expires_at, at)
  SELECT * FROM unnest(
    c_revision, c_domain, c_project, c_id, c_source, c_action, c_status, c_severity, c_fields,
    c_count, c_raised_at, c_updated_at, c_cleared_at, c_acked_by, c_acked_at, c_ack_comment,
    c_expires_at, c_at
  );
  UPDATE meta SET value = new_revision WHERE key = 'revision';

  PERFORM pg_notify(notify_channel, new_revision::text);
  RETURN found_revision;
END
$$;

-- Expiries moved without a change, as in SQLite's migration 003: a re-send that changes nothing but
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

-- One checkpoint step: brings the alarms table from meta 'checkpoint' up to `up_to` (at most
-- `most_rows` history rows further, and never past the committed revision), each alarm from its
-- last change in that range: upserted, or deleted when that change is one of `removing_actions`.
-- Replicas take turns on the row of meta 'checkpoint', which no commit touches; one that finds it
-- taken returns NULL at once, leaving the work to the replica holding it. Otherwise it returns
-- the checkpoint it leaves. It also removes the expiry extensions its range made stale: those at
-- or below the new checkpoint whose alarm is no longer at their revision.
CREATE FUNCTION alarm_center_checkpoint(up_to bigint, most_rows bigint, removing_actions text[])
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
