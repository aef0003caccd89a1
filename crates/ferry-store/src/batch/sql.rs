//! The statement texts both databases' grouped commits share (`$n` parameters, which SQLite
//! reads as names: [`super::sqlite`] binds them by name).

/// `$1` the retry's id, `$2` when it may start, `$3` the execution that failed.
pub(super) const QUEUE_RETRY: &str =
    "INSERT INTO executions (org_id, id, instance_id, customer_id, flow_config_id, flow_key, status, is_synchronous, \
     queued_at, retry_for, retry_attempt, not_before, cancellation_key, fifo, payload_blob) \
     SELECT org_id, $1, instance_id, customer_id, flow_config_id, flow_key, 'QUEUED', FALSE, \
     queued_at, COALESCE(retry_for, id), retry_attempt + 1, $2, cancellation_key, fifo, payload_blob \
     FROM executions WHERE id = $3";

/// `$1` the retry's id, `$2` the execution whose payload it repeats.
pub(super) const COPY_PAYLOAD: &str =
    "INSERT INTO execution_payloads (execution_id, data) SELECT $1, data FROM execution_payloads WHERE execution_id = $2";

/// `$1` the first execution of the chain.
pub(super) const CLOSE_CHAIN: &str =
    "UPDATE executions SET status = 'FAILED' WHERE status = 'FAILED_RETRY_PENDING' AND (id = $1 OR retry_for = $1)";

/// `$1` organization, `$2` scope, `$3` owner, `$4` value, `$5` now.
pub(super) const WRITE_STATE: &str =
    "INSERT INTO flow_state (org_id, scope, owner_id, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (scope, owner_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

/// Step results, before their `VALUES`: twelve columns.
pub(super) const INSERT_STEPS: &str =
    "INSERT INTO step_results (org_id, id, execution_id, step_key, step_name, loop_path, results, \
     results_from_trigger, error, effects, started_at, ended_at) ";

/// After the step results' `VALUES`: a result already recorded under the same key is kept.
pub(super) const KEEP_RECORDED_STEP: &str = " ON CONFLICT (execution_id, step_key) DO NOTHING";

/// Log lines, before their `VALUES`: seven columns.
pub(super) const INSERT_LOGS: &str =
    "INSERT INTO execution_logs (org_id, id, execution_id, severity, message, step_name, at) ";
