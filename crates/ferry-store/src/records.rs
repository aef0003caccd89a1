//! What an execution leaves behind: its step results (committed in groups as the engine goes,
//! with the log lines written since the previous group) and its log lines, and the lists the
//! API reads them through.

use chrono::{DateTime, Utc};
use ferry_core::execution::{LogLine, Severity, StepEffects, StepResult};
use serde_json::Value;
use sqlx::types::Json;

use crate::json_text::JsonText;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::batch::Write;
use crate::blobs::oversized;
use crate::page::{HasId, IdOrder, Listing, Page, PageRequest, Sort};
use crate::{Direction, Store, StoreError, Tenant};

/// Inserts `$logs` (a slice of [`LogLine`]) of organization `$org` through `$conn`, inside a
/// `write!` body (a macro so that the one text serves both databases' connection types).
macro_rules! insert_logs {
    ($conn:expr, $org:expr, $logs:expr) => {
        for line in $logs {
            sqlx::query(
                "INSERT INTO execution_logs (org_id, id, execution_id, severity, message, step_name, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind($org).bind(line.id).bind(line.execution_id).bind(line.severity.as_str())
            .bind(&line.message).bind(&line.step_name).bind(line.at)
            .execute($conn).await?;
        }
    };
}
pub(crate) use insert_logs;

/// Which log lines a list returns.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Lines of this execution.
    pub execution_id: Option<Uuid>,
    /// Lines of these severities (all when empty).
    pub severities: Vec<Severity>,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: Uuid,
    execution_id: Uuid,
    step_key: String,
    step_name: String,
    loop_path: String,
    results: Option<Json<Value>>,
    results_from_trigger: bool,
    error: Option<String>,
    effects: Option<Json<StepEffects>>,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
}

impl From<StepRow> for StepResult {
    fn from(row: StepRow) -> Self {
        StepResult {
            id: row.id,
            execution_id: row.execution_id,
            step_key: row.step_key,
            step_name: row.step_name,
            loop_path: row.loop_path,
            results: row.results.map(|json| json.0),
            from_trigger: row.results_from_trigger,
            error: row.error,
            effects: row.effects.map(|json| json.0).unwrap_or_default(),
            started_at: row.started_at,
            ended_at: row.ended_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LogRow {
    id: Uuid,
    execution_id: Uuid,
    severity: String,
    message: String,
    step_name: Option<String>,
    at: DateTime<Utc>,
}

impl TryFrom<LogRow> for LogLine {
    type Error = StoreError;
    fn try_from(row: LogRow) -> Result<Self, StoreError> {
        let severity = Severity::parse(&row.severity).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "log line {} has severity {:?}",
                row.id, row.severity
            ))
        })?;
        Ok(LogLine {
            id: row.id,
            execution_id: row.execution_id,
            severity,
            message: row.message,
            step_name: row.step_name,
            at: row.at,
        })
    }
}

/// A step's results come from the blob store when they went there, and from the execution's
/// trigger payload (itself maybe in the blob store) when they are that payload.
const STEP_COLUMNS: &str = "SELECT id, execution_id, step_key, step_name, loop_path, \
     COALESCE((SELECT b.data FROM blobs b WHERE b.id = step_results.results_blob), step_results.results, \
       (SELECT COALESCE((SELECT b.data FROM blobs b WHERE b.id = e.payload_blob), \
          (SELECT p.data FROM execution_payloads p WHERE p.execution_id = e.id)) \
        FROM executions e WHERE e.id = step_results.execution_id AND step_results.results_from_trigger)) AS results, \
     results_from_trigger, error, effects, started_at, ended_at \
     FROM step_results";
const LOG_COLUMNS: &str =
    "SELECT id, execution_id, severity, message, step_name, at FROM execution_logs";

/// Scopes a query on step results or logs to the tenant: its organization and, for customer
/// users, their customer's executions.
fn push_tenant<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, tenant: &Tenant) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if let Some(customer_id) = tenant.customer_id {
        sql.push(" AND execution_id IN (SELECT id FROM executions WHERE customer_id = ");
        DB::bind_uuid(sql, customer_id);
        sql.push(")");
    }
}

fn push_steps_of<DB: Dialect>(
    sql: &mut QueryBuilder<'_, DB>,
    tenant: &Tenant,
    execution_id: Uuid,
    step_name: Option<&str>,
) {
    push_tenant(sql, tenant);
    sql.push(" AND execution_id = ");
    DB::bind_uuid(sql, execution_id);
    if let Some(name) = step_name {
        sql.push(" AND step_name = ");
        DB::bind_text(sql, name.to_string());
    }
}

fn push_log_filter<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, filter: &LogFilter) {
    if let Some(execution_id) = filter.execution_id {
        sql.push(" AND execution_id = ");
        DB::bind_uuid(sql, execution_id);
    }
    for (i, severity) in filter.severities.iter().enumerate() {
        sql.push(if i == 0 { " AND severity IN (" } else { ", " });
        DB::bind_text(sql, severity.as_str().to_string());
    }
    if !filter.severities.is_empty() {
        sql.push(")");
    }
}

impl Store {
    /// Commits one completed step's result together with the log lines written before it:
    /// [`Store::record_steps`] with one step.
    pub async fn record_step(
        &self,
        org_id: Uuid,
        step: &StepResult,
        logs: &[LogLine],
    ) -> Result<(), StoreError> {
        self.record_steps(org_id, std::slice::from_ref(step), logs)
            .await
    }

    /// Commits completed steps' results together with the log lines written before them
    /// (grouped with other writes into one commit, [`crate::batch`]; a result large enough
    /// for the blob store is committed first, alone, with its blob). A result already
    /// recorded under the same key (a step run again after a lost worker) is kept.
    pub async fn record_steps(
        &self,
        org_id: Uuid,
        steps: &[StepResult],
        logs: &[LogLine],
    ) -> Result<(), StoreError> {
        let steps = self.record_oversized(org_id, steps.to_vec()).await?;
        if steps.is_empty() && logs.is_empty() {
            return Ok(());
        }
        let write = Write::Checkpoint {
            org_id,
            steps,
            logs: logs.to_vec(),
        };
        self.batcher.write(write).await.map(|_| ())
    }

    /// Commits the results of `steps` large enough for the blob store, each with its blob;
    /// gives back the others, for a grouped write.
    pub(crate) async fn record_oversized(
        &self,
        org_id: Uuid,
        steps: Vec<StepResult>,
    ) -> Result<Vec<StepResult>, StoreError> {
        let mut rest = Vec::with_capacity(steps.len());
        for step in steps {
            if !step.from_trigger && step.results.as_ref().is_some_and(oversized) {
                self.record_blob_step(org_id, &step).await?;
            } else {
                rest.push(step);
            }
        }
        Ok(rest)
    }

    /// Commits one step whose result goes to the blob store.
    async fn record_blob_step(&self, org_id: Uuid, step: &StepResult) -> Result<(), StoreError> {
        // A large result goes to the blob store; the row keeps its id and no value.
        let blob = Some(step.id);
        let results: Option<JsonText<&serde_json::Value>> = None;
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO step_results (org_id, id, execution_id, step_key, step_name, loop_path, results, error, effects, started_at, ended_at, results_blob) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (execution_id, step_key) DO NOTHING",
            )
            .bind(org_id).bind(step.id).bind(step.execution_id).bind(&step.step_key).bind(&step.step_name)
            .bind(&step.loop_path).bind(results).bind(&step.error)
            .bind((!step.effects.is_empty()).then_some(JsonText(&step.effects)))
            .bind(step.started_at).bind(step.ended_at).bind(blob)
            .execute(&mut *tx).await?.rows_affected();
            if let (Some(id), Some(value), 1) = (blob, &step.results, inserted) {
                sqlx::query("INSERT INTO blobs (org_id, id, execution_id, step_result_id, data) VALUES ($1, $2, $3, $2, $4)")
                    .bind(org_id).bind(id).bind(step.execution_id).bind(JsonText(value))
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every step result of an execution, in the order they completed: what a resumed run
    /// starts from.
    pub async fn checkpoints(&self, execution_id: Uuid) -> Result<Vec<StepResult>, StoreError> {
        let rows: Vec<StepRow> = read!(self, pool => {
            sqlx::query_as(
                &format!("{STEP_COLUMNS} WHERE execution_id = $1 ORDER BY id"),
            )
            .bind(execution_id).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(StepResult::from).collect())
    }

    /// A page of an execution's step results (of one step, when `step_name` is given), in the
    /// order they completed.
    pub async fn step_results(
        &self,
        tenant: &Tenant,
        execution_id: Uuid,
        step_name: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StepResult>, StoreError> {
        let listing = Listing {
            query: "stepResults",
            sort: Sort {
                field: IdOrder,
                direction: Direction::Asc,
            },
            page,
        };
        let rows: Vec<StepRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(STEP_COLUMNS);
            push_steps_of(&mut sql, tenant, execution_id, step_name);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(listing.finish(rows.into_iter().map(StepResult::from).collect()))
    }

    /// How many step results an execution has (of one step, when `step_name` is given).
    pub async fn count_step_results(
        &self,
        tenant: &Tenant,
        execution_id: Uuid,
        step_name: Option<&str>,
    ) -> Result<i64, StoreError> {
        Ok(read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM step_results");
            push_steps_of(&mut sql, tenant, execution_id, step_name);
            sql.build_query_scalar().fetch_one(pool).await
        })?)
    }

    /// A page of log lines, oldest first.
    pub async fn logs(
        &self,
        tenant: &Tenant,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogLine>, StoreError> {
        let listing = Listing {
            query: "logs",
            sort: Sort {
                field: IdOrder,
                direction: Direction::Asc,
            },
            page,
        };
        let rows: Vec<LogRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(LOG_COLUMNS);
            push_tenant(&mut sql, tenant);
            push_log_filter(&mut sql, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        let lines = rows
            .into_iter()
            .map(LogLine::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(listing.finish(lines))
    }

    /// How many log lines match.
    pub async fn count_logs(&self, tenant: &Tenant, filter: &LogFilter) -> Result<i64, StoreError> {
        Ok(read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM execution_logs");
            push_tenant(&mut sql, tenant);
            push_log_filter(&mut sql, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?)
    }
}

impl HasId for StepResult {
    fn row_id(&self) -> Uuid {
        self.id
    }
}

impl HasId for LogLine {
    fn row_id(&self) -> Uuid {
        self.id
    }
}
