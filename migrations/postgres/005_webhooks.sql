-- Durable webhooks, as SQLite's migration 005: each webhook's cursor (the last revision it
-- delivered or gave up on, its last delivery and its last failed attempt since) and its dead
-- letters, each kept whole as `entry` (the history entry as JSON) so it can be sent again
-- whatever retention removes. Only the replica holding the jobs lease writes them.
CREATE TABLE webhook_cursors (
  name         text   PRIMARY KEY,
  revision     bigint NOT NULL,
  delivered_at bigint,
  error        text,
  error_at     bigint
);

CREATE TABLE webhook_failures (
  name      text    NOT NULL,
  revision  bigint  NOT NULL,
  domain    text    NOT NULL,
  project   text    NOT NULL,
  entry     text    NOT NULL,
  attempts  integer NOT NULL,
  error     text    NOT NULL,
  failed_at bigint  NOT NULL,
  queued    boolean NOT NULL DEFAULT false,
  PRIMARY KEY (name, revision)
);
