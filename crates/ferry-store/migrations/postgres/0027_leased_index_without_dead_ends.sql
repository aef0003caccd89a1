-- PostgreSQL keeps an index entry for every old version of a row until VACUUM removes it. Every
-- execution passes through RUNNING, so between vacuums `executions_leased` (partial on
-- `status = 'RUNNING'`) holds an entry for every execution that ran, nearly all of them dead.
-- The planner, which counts only live rows, took it for the grouped commit's end (`status =
-- 'RUNNING'` and an id per ended execution): a bitmap scan of every entry, live and dead, in
-- every commit (3.5 million entries read in a 5-second run of 9,400 executions). Narrowed to
-- rows with a lease (running rows always have one: `lease_owner` and `lease_until` are set and
-- cleared together), only queries that compare `lease_until` can read it: the claim's walk of
-- expired leases and the concurrency limits' count of live leases. An end looks its rows up by
-- id. SQLite deletes index entries in place, so its index stays as it is.
--
-- For the same reason the index by flow config (partial on unfinished statuses, which
-- `status = 'RUNNING'` implies) gains a condition only its own queries imply: they all name a
-- flow config (`flow_config_id = …`, which PostgreSQL proves implies `IS NOT NULL`; the column
-- is never NULL anyway).
--
-- The grouped commit's retry-chain update (`status = 'FAILED_RETRY_PENDING'` and an id or a
-- `retry_for`) had the same choice to make, among the partial indexes on status: it gets one
-- of its own, which only executions waiting for a retry enter.

DROP INDEX IF EXISTS executions_leased;
CREATE INDEX IF NOT EXISTS executions_leased ON executions (lease_until)
    WHERE status = 'RUNNING' AND lease_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_retry_pending ON executions (id)
    WHERE status = 'FAILED_RETRY_PENDING';
DROP INDEX IF EXISTS executions_flow_config_unfinished;
CREATE INDEX IF NOT EXISTS executions_flow_config_unfinished ON executions (flow_config_id, status)
    WHERE status IN ('QUEUED', 'RUNNING', 'FAILED_RETRY_PENDING') AND flow_config_id IS NOT NULL;
