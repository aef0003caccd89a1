-- Running executions: each completed step's result (the checkpoints a resumed execution
-- skips), the execution's log lines, the final result a synchronous caller gets, and the
-- state flows keep between executions.

ALTER TABLE executions ADD COLUMN result JSONB;
ALTER TABLE executions ADD COLUMN invoked_by UUID;

CREATE TABLE step_results (
    org_id        UUID NOT NULL,
    id            UUID PRIMARY KEY,
    execution_id  UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_key      TEXT NOT NULL,
    step_name     TEXT NOT NULL,
    loop_path     TEXT NOT NULL,
    results       JSONB,
    error         TEXT,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (execution_id, step_key)
);

CREATE TABLE execution_logs (
    org_id        UUID NOT NULL,
    id            UUID PRIMARY KEY,
    execution_id  UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    severity      TEXT NOT NULL,
    message       TEXT NOT NULL,
    step_name     TEXT,
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX execution_logs_execution ON execution_logs (execution_id, id);
CREATE INDEX execution_logs_org ON execution_logs (org_id, id);

CREATE TABLE flow_state (
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    owner_id    UUID NOT NULL,
    value       JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, owner_id)
);
