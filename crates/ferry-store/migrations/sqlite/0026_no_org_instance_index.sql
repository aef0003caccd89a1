-- `executions_org_instance (org_id, instance_id, queued_at)` is read by no query: executions
-- are listed and counted newest id first, by organization and instance, which
-- `executions_instance_status (org_id, instance_id, status, id)` serves as well (the planners
-- already chose it), and nothing orders an instance's executions by `queued_at`. Every queued
-- execution wrote an entry in it, and every grouped commit the tail page it lands on.

DROP INDEX IF EXISTS executions_org_instance;
