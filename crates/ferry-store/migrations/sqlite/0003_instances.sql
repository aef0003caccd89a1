-- Instances: an integration version deployed for one customer, with its config values and a
-- flow config (webhook identity, API keys) per flow.

CREATE TABLE instances (
    org_id            BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                BLOB PRIMARY KEY NOT NULL,
    customer_id       BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    integration_id    BLOB NOT NULL REFERENCES integrations (id) ON DELETE RESTRICT,
    version_id        BLOB NOT NULL REFERENCES integration_versions (id) ON DELETE RESTRICT,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    last_deployed_at  TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX instances_customer_name ON instances (org_id, customer_id, name);
CREATE INDEX instances_org_integration ON instances (org_id, integration_id);

-- Values keyed by the config variable's identity (stable key, else key); secrets sealed.
CREATE TABLE instance_config_values (
    org_id       BLOB NOT NULL,
    instance_id  BLOB NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    var_key      TEXT NOT NULL,
    value        TEXT NOT NULL,
    is_secret    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (instance_id, var_key)
);

-- One per flow, keyed by the flow's identity (stable key, else name); its id is in the webhook URL.
CREATE TABLE instance_flow_configs (
    org_id       BLOB NOT NULL,
    id           BLOB PRIMARY KEY NOT NULL,
    instance_id  BLOB NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    flow_key     TEXT NOT NULL,
    api_keys     TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX instance_flow_configs_key ON instance_flow_configs (instance_id, flow_key);
