//! Executions: the durable queue's rows. Enqueuing commits the row, and its payload (in
//! `execution_payloads`, or the blob store when large), before the caller acknowledges
//! anything; the worker side (claims with leases, checkpoints) builds on these rows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ferry_core::execution::{Execution, ExecutionStatus};
use ferry_core::instance::FlowConfig;
use ferry_core::payload::Payload;
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use sqlx::QueryBuilder;

use crate::backend::{read, write, Dialect};
use crate::batch::{Done, Write};
use crate::page::{HasId, IdOrder, Listing, Page, PageRequest, Sort};
use crate::{new_id, now, Direction, Standing, Store, StoreError, Tenant};

/// Inserts `$execution` (an [`Execution`]) of organization `$org` through `$conn`, inside a
/// `write!` body (a macro so that the one text serves both databases' connection types), with
/// `$key` (an `Option<&str>`) as its retry cancellation key.
macro_rules! insert_execution {
    ($conn:expr, $org:expr, $execution:expr) => {
        $crate::executions::insert_execution!($conn, $org, $execution, None::<&str>, false)
    };
    ($conn:expr, $org:expr, $execution:expr, $key:expr, $fifo:expr) => {{
        let e: &ferry_core::execution::Execution = $execution;
        // A large payload goes to the blob store, named by the row's `payload_blob`; others to
        // `execution_payloads`.
        let blob = $crate::blobs::payload_oversized(&e.trigger_payload).then_some(e.id);
        sqlx::query(
            "INSERT INTO executions (org_id, id, instance_id, customer_id, flow_config_id, flow_key, status, is_synchronous, \
             queued_at, invoked_by, retry_for, retry_attempt, replay_for, not_before, cancellation_key, fifo, payload_blob) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind($org).bind(e.id).bind(e.instance_id).bind(e.customer_id).bind(e.flow_config_id).bind(&e.flow_key)
        .bind(e.status.as_str()).bind(e.is_synchronous).bind(e.queued_at).bind(e.invoked_by)
        .bind(e.retry_for).bind(e.retry_attempt).bind(e.replay_for).bind(e.not_before).bind($key).bind($fifo).bind(blob)
        .execute($conn)
        .await?;
        let payload = $crate::json_text::JsonText(e.trigger_payload.raw());
        match blob {
            Some(id) => sqlx::query("INSERT INTO blobs (org_id, id, execution_id, data) VALUES ($1, $2, $2, $3)")
                .bind($org).bind(id).bind(payload),
            None => sqlx::query("INSERT INTO execution_payloads (execution_id, data) VALUES ($1, $2)")
                .bind(e.id).bind(payload),
        }
        .execute($conn)
        .await?;
    }};
}
pub(crate) use insert_execution;

/// The most rows one multi-row `INSERT` takes (20 values a row stays under both databases'
/// limits on bound values).
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// Queued executions (or held ones, with their lease), before their `VALUES`: nineteen columns.
pub(crate) const INSERT_QUEUED: &str =
    "INSERT INTO executions (org_id, id, instance_id, customer_id, flow_config_id, flow_key, status, is_synchronous, \
     queued_at, invoked_by, retry_for, retry_attempt, replay_for, not_before, fifo, \
     started_at, attempt, lease_owner, lease_until) ";

/// Execution payloads, before their `VALUES`: two columns.
pub(crate) const INSERT_PAYLOADS: &str = "INSERT INTO execution_payloads (execution_id, data) ";

/// Inserts new executions, each `(org_id, &Execution, fifo, Option<&Lease>)` in the slice
/// `$rows` (a lease for one held at enqueue, [`crate::eager`]), with one multi-row `INSERT`
/// per [`ROWS_PER_INSERT`], through `$conn` inside a `write!` body. For executions without a
/// cancellation key whose payloads are not large enough for the blob store (the callers write
/// those with [`insert_execution!`]).
macro_rules! insert_executions {
    ($conn:expr, $rows:expr) => {
        for rows in $rows.chunks($crate::executions::ROWS_PER_INSERT) {
            let mut sql = sqlx::QueryBuilder::new($crate::executions::INSERT_QUEUED);
            sql.push_values(rows, |mut row, (org_id, e, fifo, lease)| {
                let e: &ferry_core::execution::Execution = e;
                let lease: Option<&$crate::runs::Lease> = *lease;
                row.push_bind(*org_id)
                    .push_bind(e.id)
                    .push_bind(e.instance_id)
                    .push_bind(e.customer_id)
                    .push_bind(e.flow_config_id)
                    .push_bind(&e.flow_key)
                    .push_bind(e.status.as_str())
                    .push_bind(e.is_synchronous)
                    .push_bind(e.queued_at)
                    .push_bind(e.invoked_by)
                    .push_bind(e.retry_for)
                    .push_bind(e.retry_attempt)
                    .push_bind(e.replay_for)
                    .push_bind(e.not_before)
                    .push_bind(*fifo)
                    .push_bind(e.started_at)
                    .push_bind(e.attempt)
                    .push_bind(lease.map(|l| l.owner.as_str()))
                    .push_bind(lease.map(|l| l.until));
            });
            sql.build().execute($conn).await?;
            let mut sql = sqlx::QueryBuilder::new($crate::executions::INSERT_PAYLOADS);
            sql.push_values(rows, |mut row, (_, e, _, _)| {
                let e: &ferry_core::execution::Execution = e;
                row.push_bind(e.id)
                    .push_bind($crate::json_text::JsonText(e.trigger_payload.raw()));
            });
            sql.build().execute($conn).await?;
        }
    };
}
pub(crate) use insert_executions;

/// Which executions a list returns.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Executions of this instance.
    pub instance_id: Option<Uuid>,
    /// Executions in this status.
    pub status: Option<ExecutionStatus>,
    /// Executions a `flow.invoke` step of this execution started.
    pub invoked_by: Option<Uuid>,
    /// Executions of this customer's instances.
    pub customer_id: Option<Uuid>,
    /// Executions of this flow config.
    pub flow_config_id: Option<Uuid>,
    /// Executions of the flow with this identity (stable key, else name).
    pub flow_key: Option<String>,
    /// Failed ones only (`false`), or ones without error only (`true`).
    pub error_is_null: Option<bool>,
    /// Started at or after this time.
    pub started_at_gte: Option<DateTime<Utc>>,
    /// Started at or before this time.
    pub started_at_lte: Option<DateTime<Utc>>,
    /// Replays only (`false`) or originals only (`true`).
    pub replay_for_is_null: Option<bool>,
    /// Replays of this execution.
    pub replay_for: Option<Uuid>,
    /// Automatic retries of this execution.
    pub retry_for: Option<Uuid>,
}

pub(crate) const COLUMNS: &str = "SELECT id, instance_id, customer_id, flow_config_id, flow_key, status, is_synchronous, \
     COALESCE((SELECT b.data FROM blobs b WHERE b.id = executions.payload_blob), \
       (SELECT p.data FROM execution_payloads p WHERE p.execution_id = executions.id)) AS trigger_payload, error, \
     queued_at, started_at, ended_at, attempt, result, invoked_by, retry_for, retry_attempt, replay_for, not_before FROM executions";

fn push_where<DB: Dialect>(
    sql: &mut QueryBuilder<'_, DB>,
    tenant: &Tenant,
    filter: &ExecutionFilter,
) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if let Some(customer_id) = tenant.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(instance_id) = filter.instance_id {
        sql.push(" AND instance_id = ");
        DB::bind_uuid(sql, instance_id);
    }
    if let Some(invoker) = filter.invoked_by {
        sql.push(" AND invoked_by = ");
        DB::bind_uuid(sql, invoker);
    }
    if let Some(customer_id) = filter.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(flow_config_id) = filter.flow_config_id {
        sql.push(" AND flow_config_id = ");
        DB::bind_uuid(sql, flow_config_id);
    }
    if let Some(flow_key) = &filter.flow_key {
        sql.push(" AND flow_key = ");
        DB::bind_text(sql, flow_key.clone());
    }
    match filter.replay_for_is_null {
        Some(true) => sql.push(" AND replay_for IS NULL"),
        Some(false) => sql.push(" AND replay_for IS NOT NULL"),
        None => sql,
    };
    if let Some(original) = filter.replay_for {
        sql.push(" AND replay_for = ");
        DB::bind_uuid(sql, original);
    }
    if let Some(original) = filter.retry_for {
        sql.push(" AND retry_for = ");
        DB::bind_uuid(sql, original);
    }
    match filter.error_is_null {
        Some(true) => sql.push(" AND error IS NULL"),
        Some(false) => sql.push(" AND error IS NOT NULL"),
        None => sql,
    };
    if let Some(at) = filter.started_at_gte {
        sql.push(" AND started_at >= ");
        DB::bind_time(sql, at);
    }
    if let Some(at) = filter.started_at_lte {
        sql.push(" AND started_at <= ");
        DB::bind_time(sql, at);
    }
    if let Some(status) = filter.status {
        sql.push(" AND status = ");
        DB::bind_text(sql, status.as_str().to_string());
    }
}

/// An execution to queue.
#[derive(Debug, Clone)]
pub struct NewExecution {
    /// The instance.
    pub instance_id: Uuid,
    /// The instance's customer.
    pub customer_id: Uuid,
    /// The flow config triggered.
    pub flow_config_id: Uuid,
    /// The flow's identity.
    pub flow_key: String,
    /// Whether a caller waits for its result.
    pub is_synchronous: bool,
    /// The trigger's result.
    pub trigger_payload: Payload,
    /// The execution whose `flow.invoke` step asks for this one.
    pub invoked_by: Option<Uuid>,
    /// The execution this one replays.
    pub replay_for: Option<Uuid>,
    /// The value of the flow's retry cancellation field in the payload: queuing this execution
    /// cancels the queued retries of older ones with the same key.
    pub cancellation_key: Option<String>,
    /// Whether the flow runs one execution at a time, in arrival order.
    pub fifo: bool,
}

/// What [`Store::enqueue_unless_duplicate`] did.
#[derive(Debug, Clone)]
pub enum Enqueued {
    /// The execution is committed.
    Queued(Box<Execution>),
    /// An execution with the same dedupe key was queued within the window; nothing was added.
    Duplicate {
        /// The execution that holds the key.
        execution_id: Uuid,
    },
}

/// How long a dedupe key drops repeats.
pub const DEDUPE_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

impl NewExecution {
    /// The execution as it is committed: queued now, with a new id.
    pub(crate) fn queued(self) -> Execution {
        Execution {
            id: new_id(),
            instance_id: self.instance_id,
            customer_id: self.customer_id,
            flow_config_id: self.flow_config_id,
            flow_key: self.flow_key,
            status: ExecutionStatus::Queued,
            is_synchronous: self.is_synchronous,
            trigger_payload: self.trigger_payload,
            error: None,
            queued_at: now(),
            started_at: None,
            ended_at: None,
            attempt: 0,
            result: None,
            invoked_by: self.invoked_by,
            retry_for: None,
            retry_attempt: 0,
            replay_for: self.replay_for,
            not_before: None,
        }
    }
}

/// What a webhook URL leads to: the instance's routing facts and flow configs (its config
/// values, secrets included, are not read: a webhook does not need them).
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The instance's organization.
    pub org_id: Uuid,
    /// The instance.
    pub instance_id: Uuid,
    /// Its name, for messages and logs.
    pub instance_name: String,
    /// Its customer.
    pub customer_id: Uuid,
    /// Its integration.
    pub integration_id: Uuid,
    /// The published version it runs.
    pub version_id: Uuid,
    /// Whether it is enabled (a paused one answers 409).
    pub enabled: bool,
    /// Every flow config of the instance (for `webhookUrls`).
    pub flow_configs: Vec<FlowConfig>,
    /// The flow config called.
    pub flow_config_id: Uuid,
    /// The flow's identity.
    pub flow_key: String,
    /// Keys callers must send as `Api-Key` when the endpoint is secured.
    pub api_keys: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExecutionRow {
    pub(crate) id: Uuid,
    pub(crate) instance_id: Uuid,
    pub(crate) customer_id: Uuid,
    pub(crate) flow_config_id: Uuid,
    pub(crate) flow_key: String,
    pub(crate) status: String,
    pub(crate) is_synchronous: bool,
    pub(crate) trigger_payload: Json<Box<RawValue>>,
    pub(crate) error: Option<String>,
    pub(crate) queued_at: DateTime<Utc>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub(crate) attempt: i32,
    pub(crate) result: Option<Json<Value>>,
    pub(crate) invoked_by: Option<Uuid>,
    pub(crate) retry_for: Option<Uuid>,
    pub(crate) retry_attempt: i32,
    pub(crate) replay_for: Option<Uuid>,
    pub(crate) not_before: Option<DateTime<Utc>>,
}

/// Execution `id`'s stored `status`, parsed.
fn status_of(id: Uuid, status: &str) -> Result<ExecutionStatus, StoreError> {
    ExecutionStatus::parse(status)
        .ok_or_else(|| StoreError::Corrupt(format!("execution {id} has status {status:?}")))
}

impl TryFrom<ExecutionRow> for Execution {
    type Error = StoreError;
    fn try_from(row: ExecutionRow) -> Result<Self, StoreError> {
        let status = status_of(row.id, &row.status)?;
        Ok(Execution {
            id: row.id,
            instance_id: row.instance_id,
            customer_id: row.customer_id,
            flow_config_id: row.flow_config_id,
            flow_key: row.flow_key,
            status,
            is_synchronous: row.is_synchronous,
            trigger_payload: Payload::from_raw(row.trigger_payload.0),
            error: row.error,
            queued_at: row.queued_at,
            started_at: row.started_at,
            ended_at: row.ended_at,
            attempt: row.attempt,
            result: row.result.map(|json| json.0),
            invoked_by: row.invoked_by,
            retry_for: row.retry_for,
            retry_attempt: row.retry_attempt,
            replay_for: row.replay_for,
            not_before: row.not_before,
        })
    }
}

/// One flow config of the instance a webhook URL leads to, with the instance's routing facts
/// (the same on every row).
#[derive(sqlx::FromRow)]
struct TargetRow {
    org_id: Uuid,
    instance_id: Uuid,
    flow_config_id: Uuid,
    flow_key: String,
    api_keys: Json<Vec<String>>,
    customer_id: Uuid,
    integration_id: Uuid,
    version_id: Uuid,
    name: String,
    enabled: bool,
}

impl Store {
    /// The instance and flow a flow config's id (from a webhook URL) leads to: as read lately
    /// by this node ([`crate::targets`]), else read now.
    pub async fn webhook_target(
        &self,
        flow_config_id: Uuid,
    ) -> Result<Option<Arc<WebhookTarget>>, StoreError> {
        if let Some(target) = self.targets.fresh(flow_config_id) {
            return Ok(Some(target));
        }
        let ticket = self.targets.ticket();
        let Some(target) = self.read_webhook_target(flow_config_id).await? else {
            return Ok(None);
        };
        let target = Arc::new(target);
        self.targets.keep(ticket, &target);
        Ok(Some(target))
    }

    /// [`Store::webhook_target`] from the database, in one query (a row per flow config of
    /// the instance).
    async fn read_webhook_target(
        &self,
        flow_config_id: Uuid,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        let mut rows: Vec<TargetRow> = read!(self, pool => {
            sqlx::query_as(
                "SELECT i.org_id, i.id AS instance_id, f.id AS flow_config_id, f.flow_key, f.api_keys, i.customer_id, i.integration_id, \
                 i.version_id, i.name, i.enabled \
                 FROM instance_flow_configs t JOIN instances i ON i.id = t.instance_id \
                 JOIN instance_flow_configs f ON f.instance_id = i.id AND f.org_id = i.org_id \
                 WHERE t.id = $1 ORDER BY f.id",
            )
            .bind(flow_config_id)
            .fetch_all(pool)
            .await
        })?;
        let Some(called) = rows
            .iter()
            .position(|row| row.flow_config_id == flow_config_id)
        else {
            return Ok(None);
        };
        let flow_configs = rows
            .iter()
            .map(|row| FlowConfig {
                id: row.flow_config_id,
                flow_key: row.flow_key.clone(),
                api_keys: row.api_keys.0.clone(),
            })
            .collect();
        let row = rows.swap_remove(called);
        Ok(Some(WebhookTarget {
            org_id: row.org_id,
            instance_id: row.instance_id,
            instance_name: row.name,
            customer_id: row.customer_id,
            integration_id: row.integration_id,
            version_id: row.version_id,
            enabled: row.enabled,
            flow_configs,
            flow_config_id,
            flow_key: row.flow_key,
            api_keys: row.api_keys.0,
        }))
    }

    /// Commits a queued execution; when this returns, the execution exists and will run.
    pub async fn enqueue_execution(
        &self,
        tenant: &Tenant,
        new: NewExecution,
    ) -> Result<Execution, StoreError> {
        let (key, fifo) = (new.cancellation_key.clone(), new.fifo);
        let execution = new.queued();
        // The common case (no cancellation key, a payload that fits the row) is grouped with
        // other writes into one commit; the rest is written here.
        if key.is_none() && !crate::blobs::payload_oversized(&execution.trigger_payload) {
            let write = Write::Enqueue {
                org_id: tenant.org_id,
                execution: Box::new(execution),
                fifo,
                lease: None,
            };
            return self.insert_grouped(write).await;
        }
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_execution!(&mut *tx, tenant.org_id, &execution, key.as_deref(), fifo);
            if let Some(key) = &key {
                // A newer request with the same key cancels the older requests' pending retries.
                sqlx::query(
                    "UPDATE executions SET status = 'CANCELLED', ended_at = $1, error = 'cancelled by a newer request with the same cancellation id' \
                     WHERE flow_config_id = $2 AND cancellation_key = $3 AND status = 'QUEUED' AND retry_for IS NOT NULL AND id <> $4",
                )
                .bind(execution.queued_at).bind(execution.flow_config_id).bind(key).bind(execution.id)
                .execute(&mut *tx).await?;
                // Their earlier attempts no longer wait for a retry.
                sqlx::query(
                    "UPDATE executions SET status = 'FAILED' WHERE flow_config_id = $1 AND cancellation_key = $2 AND status = 'FAILED_RETRY_PENDING'",
                )
                .bind(execution.flow_config_id).bind(key)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(execution)
    }

    /// Commits [`Write::Enqueue`] `write` with whatever else is being written.
    pub(crate) async fn insert_grouped(&self, write: Write) -> Result<Execution, StoreError> {
        match self.batcher.write(write).await? {
            Done::Enqueued(execution) => Ok(*execution),
            _ => Err(StoreError::Corrupt(
                "an enqueue was answered as another write".into(),
            )),
        }
    }

    /// One execution, if the tenant may see it.
    pub async fn execution(&self, tenant: &Tenant, id: Uuid) -> Result<Execution, StoreError> {
        let row: Option<ExecutionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            push_where(&mut sql, tenant, &ExecutionFilter::default());
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(Execution::try_from)
            .transpose()?
            .ok_or(StoreError::NotFound { kind: "execution" })
    }

    /// Where one execution stands, if the tenant may see it: its status, error and result,
    /// read without its payload (what a caller waiting for its end polls).
    pub async fn standing(&self, tenant: &Tenant, id: Uuid) -> Result<Standing, StoreError> {
        let row: Option<(String, Option<String>, Option<Json<Value>>)> = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT status, error, result FROM executions");
            push_where(&mut sql, tenant, &ExecutionFilter::default());
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        let (status, error, result) = row.ok_or(StoreError::NotFound { kind: "execution" })?;
        Ok(Standing {
            status: status_of(id, &status)?,
            error,
            result: result.map(|json| json.0),
        })
    }

    /// A page of executions, newest first.
    pub async fn executions(
        &self,
        tenant: &Tenant,
        filter: &ExecutionFilter,
        page: &PageRequest,
    ) -> Result<Page<Execution>, StoreError> {
        let sort = Sort {
            field: IdOrder,
            direction: Direction::Desc,
        };
        let listing = Listing {
            query: "executionResults",
            sort,
            page,
        };
        let rows: Vec<ExecutionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            push_where(&mut sql, tenant, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        let executions = rows
            .into_iter()
            .map(Execution::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(listing.finish(executions))
    }

    /// Cancels a queued or running execution: a queued one ends at once; a running one is
    /// marked cancelled and its worker stops it before its next step. Ended executions are
    /// left as they are (the answer says what they are).
    pub async fn cancel_execution(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Execution, StoreError> {
        let current = self.execution(tenant, id).await?;
        if current.status.is_final() {
            return Err(StoreError::Conflict {
                field: "id",
                message: format!(
                    "the execution has already ended ({})",
                    current.status.as_str()
                ),
            });
        }
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE executions SET status = 'CANCELLED', ended_at = $1, error = 'cancelled' \
                 WHERE id = $2 AND org_id = $3 AND status IN ('QUEUED', 'RUNNING')",
            )
            .bind(now()).bind(id).bind(tenant.org_id)
            .execute(&mut *tx).await?;
            if let Some(root) = current.retry_for {
                // A cancelled retry ends its chain: the earlier attempts failed for good.
                sqlx::query(
                    "UPDATE executions SET status = 'FAILED' WHERE status = 'FAILED_RETRY_PENDING' AND (id = $1 OR retry_for = $1)",
                )
                .bind(root).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        self.execution(tenant, id).await
    }

    /// Commits a queued execution unless another one of the same flow config took the same
    /// `dedupe_key` within the last [`DEDUPE_WINDOW`]; the check and the insert are one
    /// transaction, so of two concurrent repeats exactly one is queued.
    pub async fn enqueue_unless_duplicate(
        &self,
        tenant: &Tenant,
        new: NewExecution,
        dedupe_key: &str,
    ) -> Result<Enqueued, StoreError> {
        let at = now();
        let (key, fifo) = (new.cancellation_key.clone(), new.fifo);
        let execution = new.queued();
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let taken: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO dedupe_keys (flow_config_id, dedupe_key, execution_id, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (flow_config_id, dedupe_key) DO UPDATE SET execution_id = excluded.execution_id, expires_at = excluded.expires_at \
                 WHERE dedupe_keys.expires_at < $5 RETURNING execution_id",
            )
            .bind(execution.flow_config_id).bind(dedupe_key).bind(execution.id).bind(at + DEDUPE_WINDOW).bind(at)
            .fetch_optional(&mut *tx).await?;
            if taken.is_none() {
                let holder = sqlx::query_scalar("SELECT execution_id FROM dedupe_keys WHERE flow_config_id = $1 AND dedupe_key = $2")
                    .bind(execution.flow_config_id).bind(dedupe_key)
                    .fetch_optional(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(Enqueued::Duplicate { execution_id: holder.unwrap_or(execution.id) });
            }
            insert_execution!(&mut *tx, tenant.org_id, &execution, key.as_deref(), fifo);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(Enqueued::Queued(Box::new(execution)))
    }

    /// Queues a replay of execution `id`: the same flow of the same instance, with the same
    /// trigger payload, linked to it.
    pub async fn replay_execution(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Execution, StoreError> {
        let original = self.execution(tenant, id).await?;
        let new = NewExecution {
            instance_id: original.instance_id,
            customer_id: original.customer_id,
            flow_config_id: original.flow_config_id,
            flow_key: original.flow_key,
            is_synchronous: false,
            trigger_payload: original.trigger_payload,
            invoked_by: None,
            replay_for: Some(id),
            cancellation_key: None,
            fifo: false,
        };
        self.enqueue_execution(tenant, new).await
    }

    /// How many executions match.
    pub async fn count_executions(
        &self,
        tenant: &Tenant,
        filter: &ExecutionFilter,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM executions");
            push_where(&mut sql, tenant, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }
}

impl HasId for Execution {
    fn row_id(&self) -> Uuid {
        self.id
    }
}
