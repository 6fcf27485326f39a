-- Expiries moved without a change: a re-send (Prometheus re-sends every firing alert) that changes
-- nothing but the expiry takes no revision and leaves no history entry; the alarm as it is at
-- `revision` expires at `expires_at` instead. An extension applies only while its alarm is at
-- that revision; checkpoints remove those a later change or a removal made stale.
CREATE TABLE expiry_extensions (
  domain     TEXT    NOT NULL,
  project    TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  source     TEXT    NOT NULL,
  revision   INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (domain, project, id, source)
) WITHOUT ROWID;
