-- Acknowledgement and expiry (an alarm's whole state, in both tables): who acknowledged the
-- current activation, when and why; when an ACTIVATED alarm clears by itself unless raised again.
ALTER TABLE history ADD COLUMN acked_by    TEXT;
ALTER TABLE history ADD COLUMN acked_at    INTEGER;
ALTER TABLE history ADD COLUMN ack_comment TEXT;
ALTER TABLE history ADD COLUMN expires_at  INTEGER;
ALTER TABLE alarms  ADD COLUMN acked_by    TEXT;
ALTER TABLE alarms  ADD COLUMN acked_at    INTEGER;
ALTER TABLE alarms  ADD COLUMN ack_comment TEXT;
ALTER TABLE alarms  ADD COLUMN expires_at  INTEGER;

-- 'pruned': the last revision removed from the history by retention; a replay from before it
-- cannot be complete.
INSERT INTO meta (key, value) VALUES ('pruned', 0);
