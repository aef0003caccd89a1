-- Custom components: a key per organization, and its published versions (bundle and manifest).

CREATE TABLE custom_components (
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           BLOB PRIMARY KEY NOT NULL,
    key          TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX custom_components_org_key ON custom_components (org_id, key);

CREATE TABLE component_versions (
    org_id          BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB PRIMARY KEY NOT NULL,
    component_id    BLOB NOT NULL REFERENCES custom_components (id) ON DELETE CASCADE,
    version_number  INTEGER NOT NULL,
    manifest        TEXT NOT NULL,
    bundle          TEXT NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    published_by    BLOB,
    published_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX component_versions_number ON component_versions (component_id, version_number);
