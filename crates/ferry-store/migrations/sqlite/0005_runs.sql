-- Running executions: each completed step's result (the checkpoints a resumed execution
-- skips), the execution's log lines, the final result a synchronous caller gets, and the
-- state flows keep between executions.

ALTER TABLE executions ADD COLUMN result TEXT;
ALTER TABLE executions ADD COLUMN invoked_by BLOB;

CREATE TABLE step_results (
    org_id        BLOB NOT NULL,
    id            BLOB PRIMARY KEY NOT NULL,
    execution_id  BLOB NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_key      TEXT NOT NULL,
    step_name     TEXT NOT NULL,
    loop_path     TEXT NOT NULL,
    results       TEXT,
    error         TEXT,
    started_at    TEXT NOT NULL,
    ended_at      TEXT NOT NULL,
    UNIQUE (execution_id, step_key)
);

CREATE TABLE execution_logs (
    org_id        BLOB NOT NULL,
    id            BLOB PRIMARY KEY NOT NULL,
    execution_id  BLOB NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    severity      TEXT NOT NULL,
    message       TEXT NOT NULL,
    step_name     TEXT,
    at            TEXT NOT NULL
);
CREATE INDEX execution_logs_execution ON execution_logs (execution_id, id);
CREATE INDEX execution_logs_org ON execution_logs (org_id, id);

CREATE TABLE flow_state (
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    owner_id    BLOB NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (scope, owner_id)
);
