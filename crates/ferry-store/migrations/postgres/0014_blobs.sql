-- Large values out of the hot tables: a trigger payload or a step result over 64 KiB is kept
-- here, and its row keeps only the blob's id (payload_blob, results_blob) with a JSON null in
-- the value's column. Reads put it back. A blob goes with the execution it belongs to, and a
-- step result's blob with the step result (so retention prunes it with the result).

CREATE TABLE blobs (
    org_id          UUID NOT NULL,
    id              UUID PRIMARY KEY,
    execution_id    UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_result_id  UUID REFERENCES step_results (id) ON DELETE CASCADE,
    data            JSONB NOT NULL
);
CREATE INDEX blobs_execution ON blobs (execution_id);
CREATE INDEX blobs_step_result ON blobs (step_result_id);

ALTER TABLE executions ADD COLUMN payload_blob UUID;
ALTER TABLE step_results ADD COLUMN results_blob UUID;
