-- Nearly every execution has no retry_for, replay_for or cancellation_key, and every query on
-- them asks for one value (which implies NOT NULL), so these indexes keep only the rows that
-- have one: queuing an execution no longer writes three index entries nobody reads.

DROP INDEX executions_retry_for;
DROP INDEX executions_replay_for;
DROP INDEX executions_cancellation;
CREATE INDEX executions_retry_for ON executions (retry_for) WHERE retry_for IS NOT NULL;
CREATE INDEX executions_replay_for ON executions (replay_for) WHERE replay_for IS NOT NULL;
CREATE INDEX executions_cancellation ON executions (flow_config_id, cancellation_key)
    WHERE cancellation_key IS NOT NULL;
