-- Custom components: a key per organization, and its published versions (bundle and manifest).

CREATE TABLE custom_components (
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           UUID PRIMARY KEY,
    key          TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX custom_components_org_key ON custom_components (org_id, key);

CREATE TABLE component_versions (
    org_id          UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID PRIMARY KEY,
    component_id    UUID NOT NULL REFERENCES custom_components (id) ON DELETE CASCADE,
    version_number  INTEGER NOT NULL,
    manifest        TEXT NOT NULL,
    bundle          TEXT NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    published_by    UUID,
    published_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX component_versions_number ON component_versions (component_id, version_number);
