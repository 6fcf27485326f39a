-- Durable webhooks. A webhook's cursor is the last revision it delivered (a 2xx) or gave up on
-- (a dead letter); its loop reads the history after it, so nothing before it is sent again and
-- nothing after it is skipped, over restarts. `delivered_at`, `error` and `error_at` tell how it
-- fares: the last delivery, and the last failed attempt since.
CREATE TABLE webhook_cursors (
  name         TEXT    PRIMARY KEY,
  revision     INTEGER NOT NULL,
  delivered_at INTEGER,
  error        TEXT,
  error_at     INTEGER
) WITHOUT ROWID;

-- Dead letters: changes a webhook gave up on (a 4xx, or its attempts used up), kept whole as
-- `entry` (the history entry as JSON) so they can be sent again whatever retention removes;
-- `domain` and `project` are its alarm's, which the dead-letter routes select by; `queued` marks
-- those asked to be sent again.
CREATE TABLE webhook_failures (
  name      TEXT    NOT NULL,
  revision  INTEGER NOT NULL,
  domain    TEXT    NOT NULL,
  project   TEXT    NOT NULL,
  entry     TEXT    NOT NULL,
  attempts  INTEGER NOT NULL,
  error     TEXT    NOT NULL,
  failed_at INTEGER NOT NULL,
  queued    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, revision)
) WITHOUT ROWID;
