-- Flow control: FIFO flows run one execution at a time in arrival order (a worker does not
-- take an execution of a FIFO flow config while an earlier one is queued, running or waiting
-- for its retry), and a flow's dedupe field drops repeats: the first request with a key holds
-- it for ten minutes.

ALTER TABLE executions ADD COLUMN fifo BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE dedupe_keys (
    flow_config_id  UUID NOT NULL REFERENCES instance_flow_configs (id) ON DELETE CASCADE,
    dedupe_key      TEXT NOT NULL,
    execution_id    UUID NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow_config_id, dedupe_key)
);
CREATE INDEX dedupe_keys_expiry ON dedupe_keys (expires_at);
