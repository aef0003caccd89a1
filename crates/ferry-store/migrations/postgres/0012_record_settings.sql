-- What is kept of executions: an organization's own retention period for step results and
-- logs (NULL: the server's FERRY_RETENTION_DAYS), and a per-instance switch that stores no
-- step results or logs at all.

ALTER TABLE organizations ADD COLUMN retention_days INTEGER;
ALTER TABLE instances ADD COLUMN disable_logs_and_step_results BOOLEAN NOT NULL DEFAULT FALSE;
