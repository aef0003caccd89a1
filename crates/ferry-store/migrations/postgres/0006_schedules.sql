-- Schedules: one row per scheduled flow config of a deployed instance. The scheduler fires a
-- row when `next_fire_at` has passed, advancing it and queueing the execution in the same
-- transaction, so a tick fires once however many nodes share the database.

CREATE TABLE schedules (
    org_id          UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    flow_config_id  UUID PRIMARY KEY REFERENCES instance_flow_configs (id) ON DELETE CASCADE,
    instance_id     UUID NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    -- The flow's identity when deployed; firing reads the flow config's current one.
    flow_key        TEXT NOT NULL,
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    singleton       BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL when no next time could be computed: the schedule is stopped until redeployed.
    next_fire_at    TIMESTAMPTZ
);
CREATE INDEX schedules_due ON schedules (next_fire_at);
CREATE INDEX schedules_instance ON schedules (org_id, instance_id);

-- A singleton schedule asks whether its flow config has a queued or running execution.
CREATE INDEX executions_flow_config_status ON executions (flow_config_id, status);
