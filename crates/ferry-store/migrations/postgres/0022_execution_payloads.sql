-- The trigger payload leaves the executions row for a table of its own, written once when the
-- execution is queued and never updated: every claim and every end of an execution writes a
-- new version of its row, which no longer carries the payload. A payload in the blob store
-- (over 64 KiB) has no row here: `executions.payload_blob` names its blob.

CREATE TABLE execution_payloads (
    execution_id  UUID PRIMARY KEY NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    data          JSONB NOT NULL
);

INSERT INTO execution_payloads (execution_id, data)
    SELECT id, trigger_payload FROM executions WHERE payload_blob IS NULL;

ALTER TABLE executions DROP COLUMN trigger_payload;
