-- Automatic retries and replays: a retry or replay is a new execution linked to the one it
-- repeats. A retry waits until `not_before`; a newer request carrying the same cancellation
-- key cancels the queued retries of older ones.

ALTER TABLE executions ADD COLUMN not_before TEXT;
ALTER TABLE executions ADD COLUMN retry_for BLOB;
ALTER TABLE executions ADD COLUMN retry_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN replay_for BLOB;
ALTER TABLE executions ADD COLUMN cancellation_key TEXT;
CREATE INDEX executions_retry_for ON executions (retry_for);
CREATE INDEX executions_replay_for ON executions (replay_for);
CREATE INDEX executions_cancellation ON executions (flow_config_id, cancellation_key);
