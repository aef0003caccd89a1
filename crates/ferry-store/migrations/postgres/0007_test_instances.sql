-- Test instances: each integration keeps one instance on the organization's system customer,
-- running a snapshot of its draft. The snapshot is a version row marked `is_draft` (number 0),
-- replaced by a new row on each import; published numbers stay unique among published rows.

ALTER TABLE integration_versions ADD COLUMN is_draft BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX integration_versions_number;
CREATE UNIQUE INDEX integration_versions_number ON integration_versions (integration_id, version_number)
    WHERE is_draft = FALSE;

ALTER TABLE instances ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX instances_test ON instances (integration_id) WHERE is_test = TRUE;
