-- Alarms, keyed by (domain, project, id, source); one row per alarm in its current state.
CREATE TABLE alarms (
  domain     TEXT    NOT NULL,
  project    TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  source     TEXT    NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('ACTIVATED', 'CLEARED')),
  severity   TEXT    NOT NULL,
  fields     TEXT    NOT NULL,
  count      INTEGER NOT NULL,
  raised_at  INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  cleared_at INTEGER,
  revision   INTEGER NOT NULL,
  PRIMARY KEY (domain, project, id, source)
) WITHOUT ROWID;

-- One row per committed change, in revision order: the audit trail and the source of watch replays.
CREATE TABLE history (
  revision INTEGER PRIMARY KEY,
  domain   TEXT    NOT NULL,
  project  TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  source   TEXT    NOT NULL,
  action   TEXT    NOT NULL,
  status   TEXT    NOT NULL,
  severity TEXT    NOT NULL,
  fields   TEXT    NOT NULL,
  count    INTEGER NOT NULL,
  at       INTEGER NOT NULL
);


-- Store-wide values; 'revision' is the revision of the last committed change.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('revision', 0);
