-- The history log: one row per committed change, in revision order, with the alarm's whole
-- state after the change (its last state for a clear-all removal). A commit appends here only;
-- it is the durable record, the audit trail and the source of watch replays.
CREATE TABLE history (
  revision   INTEGER PRIMARY KEY,
  domain     TEXT    NOT NULL,
  project    TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  source     TEXT    NOT NULL,
  action     TEXT    NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('ACTIVATED', 'CLEARED')),
  severity   TEXT    NOT NULL,
  fields     TEXT    NOT NULL,
  count      INTEGER NOT NULL,
  raised_at  INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  cleared_at INTEGER,
  at         INTEGER NOT NULL
);

-- Alarms in their current state as of meta 'checkpoint', keyed by (domain, project, id, source).
-- Brought up to date from the history in bulk (a checkpoint), so a commit writes one row per
-- change instead of two; the state is this table plus the history after the checkpoint.
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

-- Store-wide values: 'checkpoint', the last revision the alarms table reflects; 'revision', the
-- last revision ever committed, kept at checkpoints so it survives if the history is pruned.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('revision', 0), ('checkpoint', 0);
