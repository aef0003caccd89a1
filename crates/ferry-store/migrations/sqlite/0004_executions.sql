-- Executions: the durable queue. A webhook is acknowledged only once its row, payload
-- included, is committed here; workers claim rows with leases.

CREATE TABLE executions (
    org_id           BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id               BLOB PRIMARY KEY NOT NULL,
    instance_id      BLOB NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    customer_id      BLOB NOT NULL,
    flow_config_id   BLOB NOT NULL,
    flow_key         TEXT NOT NULL,
    status           TEXT NOT NULL,
    is_synchronous   BOOLEAN NOT NULL DEFAULT FALSE,
    trigger_payload  TEXT NOT NULL,
    error            TEXT,
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      TEXT,
    queued_at        TEXT NOT NULL,
    started_at       TEXT,
    ended_at         TEXT
);
CREATE INDEX executions_queue ON executions (status, queued_at);
CREATE INDEX executions_org_instance ON executions (org_id, instance_id, queued_at);
