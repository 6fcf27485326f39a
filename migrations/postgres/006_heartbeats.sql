-- Heartbeats (dead-man switches), as SQLite's migration 007: each heartbeat's settings, its last
-- beat and deadline (last beat plus timeout), and whether HeartbeatMissing was raised for the
-- lapse since that beat. Every replica takes beats; only the replica holding the jobs lease
-- judges them, setting `raised` only while `last_beat` is still the beat it judged.
CREATE TABLE heartbeats (
  domain     text    NOT NULL,
  project    text    NOT NULL,
  name       text    NOT NULL,
  timeout_ms bigint  NOT NULL,
  severity   text    NOT NULL,
  fields     text    NOT NULL,
  last_beat  bigint  NOT NULL,
  deadline   bigint  NOT NULL,
  raised     boolean NOT NULL DEFAULT false,
  created_at bigint  NOT NULL,
  PRIMARY KEY (domain, project, name)
);

CREATE INDEX heartbeats_due ON heartbeats (deadline) WHERE NOT raised;
