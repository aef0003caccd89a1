-- Two of the executions' indexes keep only the executions that are not finished, since every
-- query that reads them asks for unfinished ones:
-- - the claim walks queued executions in arrival order (`runs.rs`, `QUEUED`);
-- - a FIFO flow's check and a singleton schedule's "busy" check ask for a flow config's
--   queued, running or retry-pending executions (`runs.rs` `ELIGIBLE`, `schedules.rs` `BUSY`).
-- Finished executions, nearly all of them, are listed through `executions_instance_status`.
-- Each status change used to move an entry in both indexes, and an execution's end added one
-- at the tail of its finished status: pages that every grouped commit wrote again. Kept
-- partial, both stay as small as the unfinished set. (`IF EXISTS`: a test reruns every
-- migration from 22 on.)
--
-- SQLite uses a partial index only when the query's WHERE holds each term of the index's
-- condition as written, so the queries above repeat `status = 'QUEUED'` and the
-- `status IN ('QUEUED', 'RUNNING', 'FAILED_RETRY_PENDING')` term (`unfinished!` in `runs.rs`).

DROP INDEX IF EXISTS executions_queue;
DROP INDEX IF EXISTS executions_flow_config_status;
CREATE INDEX IF NOT EXISTS executions_queued ON executions (queued_at) WHERE status = 'QUEUED';
CREATE INDEX IF NOT EXISTS executions_flow_config_unfinished ON executions (flow_config_id, status)
    WHERE status IN ('QUEUED', 'RUNNING', 'FAILED_RETRY_PENDING');
