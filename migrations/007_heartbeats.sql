-- Heartbeats (dead-man switches). A heartbeat is registered and beaten by PUT; `deadline` is its
-- last beat plus its timeout, stored so that a restart judges it from the stored beat. `raised`
-- marks the lapse (the last beat) for which HeartbeatMissing was raised: the judge sets it only
-- while `last_beat` is still the one it judged, and a beat resets it, so a beat racing a raise
-- is seen by one side or the other. `fields` is the JSON text added to the alarm's fields.
CREATE TABLE heartbeats (
  domain     TEXT    NOT NULL,
  project    TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  timeout_ms INTEGER NOT NULL,
  severity   TEXT    NOT NULL,
  fields     TEXT    NOT NULL,
  last_beat  INTEGER NOT NULL,
  deadline   INTEGER NOT NULL,
  raised     INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (domain, project, name)
) WITHOUT ROWID;

-- The judge's read: the heartbeats not raised, by deadline.
CREATE INDEX heartbeats_due ON heartbeats (deadline) WHERE raised = 0;
