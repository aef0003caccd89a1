-- Integrations: a draft definition (YAML text) and its published, frozen versions.

CREATE TABLE integrations (
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    draft        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX integrations_org_name ON integrations (org_id, name);

CREATE TABLE integration_versions (
    org_id          BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB PRIMARY KEY NOT NULL,
    integration_id  BLOB NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    version_number  INTEGER NOT NULL,
    definition      TEXT NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    is_available    BOOLEAN NOT NULL DEFAULT TRUE,
    published_by    BLOB,
    published_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX integration_versions_number ON integration_versions (integration_id, version_number);
CREATE INDEX integration_versions_org ON integration_versions (org_id, integration_id);
