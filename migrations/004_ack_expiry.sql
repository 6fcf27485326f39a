-- Acknowledgements that expire: when an acknowledgement given with `ttlSeconds` is withdrawn by
-- itself (part of the alarm's state, in both tables), and who made each acknowledgement's change
-- (history only): the `by` of an ack, 'ack expired' for a withdrawal by expiry, NULL otherwise.
ALTER TABLE history ADD COLUMN ack_expires_at INTEGER;
ALTER TABLE alarms  ADD COLUMN ack_expires_at INTEGER;
ALTER TABLE history ADD COLUMN changed_by     TEXT;
