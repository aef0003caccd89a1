-- The trigger payload leaves the executions row for a table of its own, written once when the
-- execution is queued and never updated. A payload of a few KiB kept an executions row alone on
-- its page, so every claim and every end of an execution rewrote a whole page (4 KiB to the WAL
-- and again at the checkpoint); without it, rows are small, recent ones share pages, and a
-- commit of many claims and ends rewrites a few pages. A payload in the blob store (over
-- 64 KiB) has no row here: `executions.payload_blob` names its blob.

CREATE TABLE execution_payloads (
    execution_id  BLOB PRIMARY KEY NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    data          TEXT NOT NULL
);

INSERT INTO execution_payloads (execution_id, data)
    SELECT id, trigger_payload FROM executions WHERE payload_blob IS NULL;

ALTER TABLE executions DROP COLUMN trigger_payload;
