-- The PostgreSQL schema, shared by every replica. Same columns as SQLite's (migrations/001, 002);
-- fields as their exact JSON text, times as milliseconds since the epoch.

-- The history log: one row per committed change, in revision order, with the alarm's whole
-- state after the change (its last state for a removal). Revisions are handed out under the lock
-- of meta 'revision', so their order is the commit order across replicas.
CREATE TABLE history (
  revision    bigint PRIMARY KEY,
  domain      text   NOT NULL,
  project     text   NOT NULL,
  id          text   NOT NULL,
  source      text   NOT NULL,
  action      text   NOT NULL,
  status      text   NOT NULL CHECK (status IN ('ACTIVATED', 'CLEARED')),
  severity    text   NOT NULL,
  fields      text   NOT NULL,
  count       bigint NOT NULL,
  raised_at   bigint NOT NULL,
  updated_at  bigint NOT NULL,
  cleared_at  bigint,
  acked_by    text,
  acked_at    bigint,
  ack_comment text,
  expires_at  bigint,
  at          bigint NOT NULL
);

-- A scope's history in revision order: history pages and filtered reads.
CREATE INDEX history_scope_revision ON history (domain, project, revision);

-- Alarms in their current state, kept up to date by each commit in the same transaction.
CREATE TABLE alarms (
  domain      text   NOT NULL,
  project     text   NOT NULL,
  id          text   NOT NULL,
  source      text   NOT NULL,
  status      text   NOT NULL CHECK (status IN ('ACTIVATED', 'CLEARED')),
  severity    text   NOT NULL,
  fields      text   NOT NULL,
  count       bigint NOT NULL,
  raised_at   bigint NOT NULL,
  updated_at  bigint NOT NULL,
  cleared_at  bigint,
  acked_by    text,
  acked_at    bigint,
  ack_comment text,
  expires_at  bigint,
  revision    bigint NOT NULL,
  PRIMARY KEY (domain, project, id, source)
);

-- Store-wide values: 'revision', the last revision committed (its row is the writers' lock);
-- 'pruned', the last revision retention removed from the history.
CREATE TABLE meta (
  key   text   PRIMARY KEY,
  value bigint NOT NULL
);

INSERT INTO meta (key, value) VALUES ('revision', 0), ('pruned', 0);
