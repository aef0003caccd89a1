//! The worker's side of the durable queue: claiming queued executions with a lease, renewing
//! it, and ending an execution with its result, its last log lines and the state it changed,
//! in one transaction.
//!
//! A claim takes executions that are queued (their instance enabled), or running under a
//! lease that ran out, which is how a lost worker's executions come back. Ending requires the
//! lease: an execution cancelled meanwhile, or taken by another worker after this one's lease
//! ran out, is not overwritten.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_core::execution::{Execution, ExecutionStatus, LogLine, StepResult};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::backend::{read, write, Backend};
use crate::batch::{Done, Finish, Sent, Write};
use crate::executions::{ExecutionRow, COLUMNS};
use crate::limits::{limited_pick, CLAIM_LOCK};
use crate::records::insert_logs;
use crate::{now, Store, StoreError};

/// An execution a worker holds, with its organization.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The execution's organization.
    pub org_id: Uuid,
    /// The execution, as claimed (status RUNNING).
    pub execution: Execution,
}

/// A worker's hold on a running execution: who holds it, and until when unless renewed.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) owner: String,
    pub(crate) until: DateTime<Utc>,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// The worker still holds the execution.
    Held,
    /// The execution was cancelled; the worker should stop it.
    Cancelled,
    /// Another worker holds it, or it ended: this worker must let it go.
    Lost,
}

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Ending {
    /// SUCCEEDED, FAILED, FAILED_RETRY_PENDING or CANCELLED.
    pub status: ExecutionStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The last step's result, for a synchronous caller.
    pub result: Option<Value>,
    /// With FAILED_RETRY_PENDING: when the automatic retry, queued with the ending, may start.
    pub retry_at: Option<DateTime<Utc>>,
}

/// An execution's end handed to the writer ([`Store::send_end`]).
pub struct SentEnd(Sent);

impl SentEnd {
    /// Once the end is committed: `true`, or `false`, with nothing written, when the worker
    /// no longer held the execution.
    pub async fn committed(self) -> Result<bool, StoreError> {
        Ok(matches!(self.0.answer().await?, Done::Ended(true)))
    }
}

impl Ending {
    /// Ended well, with this final result.
    pub fn succeeded(result: Option<Value>) -> Self {
        Ending {
            status: ExecutionStatus::Succeeded,
            error: None,
            result,
            retry_at: None,
        }
    }

    /// Failed for good.
    pub fn failed(error: String) -> Self {
        Ending {
            status: ExecutionStatus::Failed,
            error: Some(error),
            result: None,
            retry_at: None,
        }
    }

    /// Failed, with an automatic retry queued to start at `retry_at`.
    pub fn retry_pending(error: String, retry_at: DateTime<Utc>) -> Self {
        Ending {
            status: ExecutionStatus::FailedRetryPending,
            error: Some(error),
            result: None,
            retry_at: Some(retry_at),
        }
    }
}

/// Where an execution stands: its status, and once it ended, its error or its result. What
/// a caller waiting for an execution needs, read without the payload ([`Store::standing`]) or
/// handed over by the worker that ended it.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Its status.
    pub status: ExecutionStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The last step's result, for a synchronous caller.
    pub result: Option<Value>,
}

impl From<&Ending> for Standing {
    fn from(ending: &Ending) -> Self {
        Standing {
            status: ending.status,
            error: ending.error.clone(),
            result: ending.result.clone(),
        }
    }
}

/// What is written with an execution's end, if its worker still holds it.
#[derive(Debug, Clone, Default)]
pub struct EndRecords {
    /// Step results not committed yet, in the order their steps ended.
    pub steps: Vec<StepResult>,
    /// The last log lines.
    pub logs: Vec<LogLine>,
    /// The state scopes it changed (written for a succeeded end).
    pub states: Vec<StateWrite>,
}

/// A state scope's new value, written when an execution succeeds.
#[derive(Debug, Clone)]
pub struct StateWrite {
    /// `flow`, `instance` or `integration`.
    pub scope: &'static str,
    /// The flow config, instance or integration the state belongs to.
    pub owner_id: Uuid,
    /// The whole scope's value.
    pub value: Value,
}

/// A claimed row, as the claim's statements return it.
#[derive(sqlx::FromRow)]
pub(crate) struct ClaimedRow {
    pub(crate) org_id: Uuid,
    #[sqlx(flatten)]
    pub(crate) execution: ExecutionRow,
}

fn claimed(rows: Vec<ClaimedRow>) -> Result<Vec<Claimed>, StoreError> {
    rows.into_iter()
        .map(|row| {
            Ok(Claimed {
                org_id: row.org_id,
                execution: Execution::try_from(row.execution)?,
            })
        })
        .collect()
}

/// The condition of the partial index `executions_flow_config_unfinished` (migration 25; on
/// PostgreSQL also `flow_config_id IS NOT NULL`, migration 27, which its queries' `flow_config_id
/// = …` implies): an execution that is queued, running, or failed with a retry pending. A query
/// that reads that index holds this term as written, since SQLite uses a partial index only
/// then (PostgreSQL proves narrower terms imply it).
macro_rules! unfinished {
    () => {
        "status IN ('QUEUED', 'RUNNING', 'FAILED_RETRY_PENDING')"
    };
}
pub(crate) use unfinished;

/// One walk of the queue: which rows (`$3` is now), in which order. Each is a range of a
/// partial index (`executions_queued (queued_at)`, `executions_leased (lease_until)`) read in
/// order and stopped at the claim's limit (`$4`), so a claim costs the same with ten or a
/// million executions queued (a 32-row claim over 10,000 queued rows: 7–17 ms as one `OR`
/// query with a sort, 0.1–0.2 ms as two walks, in `sqlite3`).
struct Walk {
    rows: &'static str,
    order: &'static str,
}

/// Queued executions that are due, in arrival order.
const QUEUED: Walk = Walk {
    rows: "e.status = 'QUEUED' AND (e.not_before IS NULL OR e.not_before <= $3)",
    order: "e.queued_at",
};

/// Running executions whose lease ran out (a lost worker's), soonest expired first; none in
/// the normal case.
const EXPIRED: Walk = Walk {
    rows: "e.status = 'RUNNING' AND e.lease_until < $3",
    order: "e.lease_until",
};

/// What else an execution `e` needs to be taken, checked only on the rows the walk reaches:
/// its instance is enabled, and a FIFO one waits while an earlier one of its flow config
/// (outside its own retry chain) is queued, running, or failed with a retry pending.
/// Further eligibility rules are further `AND` terms here.
const ELIGIBLE: &str = concat!(
    "EXISTS (SELECT 1 FROM instances i WHERE i.id = e.instance_id AND i.enabled) \
     AND (NOT e.fifo OR NOT EXISTS (SELECT 1 FROM executions o WHERE o.flow_config_id = e.flow_config_id AND o.fifo \
        AND o.",
    unfinished!(),
    " AND COALESCE(o.retry_for, o.id) <> COALESCE(e.retry_for, e.id) \
        AND (o.status <> 'QUEUED' OR o.queued_at < e.queued_at)))"
);

/// The running executions whose lease `$1` holds. A held lease has an end, `lease_until`:
/// saying so lets PostgreSQL read the running executions' index, `executions_leased`, which
/// keeps only rows with one (migration 27).
const HELD_BY: &str = "lease_owner = $1 AND status = 'RUNNING' AND lease_until IS NOT NULL";

/// A claim to make (in a grouped commit, [`crate::batch`]).
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) owner: String,
    pub(crate) limit: i64,
    pub(crate) lease: Duration,
}

/// The claim's two statements (`$1` owner, `$2` lease end, `$3` now, `$4` limit): expired
/// leases, then queued rows.
pub(crate) fn claim_statements(backend: &Backend) -> [String; 2] {
    let lock = match backend {
        Backend::Sqlite(_) => "",
        Backend::Postgres(_) => " FOR UPDATE OF e SKIP LOCKED",
    };
    let columns = returned_columns();
    [EXPIRED, QUEUED].map(|walk| {
        let pick = format!(
            "SELECT e.id FROM executions e WHERE {rows} AND {ELIGIBLE} ORDER BY {order} LIMIT $4{lock}",
            rows = walk.rows,
            order = walk.order,
        );
        format!(
            "UPDATE executions SET status = 'RUNNING', lease_owner = $1, lease_until = $2, \
             started_at = COALESCE(started_at, $3), attempt = attempt + 1 \
             WHERE {picked} RETURNING org_id, {columns}",
            picked = picked_once(backend, &pick),
        )
    })
}

/// `id` is one of the ids `pick` selects, with `pick` run once. On PostgreSQL `id IN (pick)`
/// may be planned as a join that runs the pick again for every row the statement updates:
/// with statistics taken on a quiet queue, a claim's pick (`LIMIT n FOR UPDATE SKIP LOCKED`)
/// then skipped the rows it had marked and took the next `n`, again and again, and one claim
/// for 32 marked thousands. An array of the pick is computed once before the update, and
/// the primary key looks its ids up.
fn picked_once(backend: &Backend, pick: &str) -> String {
    match backend {
        Backend::Sqlite(_) => format!("id IN ({pick})"),
        Backend::Postgres(_) => format!("id = ANY(ARRAY({pick}))"),
    }
}

/// The execution columns a claim returns: [`COLUMNS`] without its `SELECT` and `FROM`.
fn returned_columns() -> &'static str {
    COLUMNS
        .strip_prefix("SELECT ")
        .and_then(|c| c.strip_suffix(" FROM executions"))
        .unwrap_or(COLUMNS)
}

/// When a lease taken at `at` for `lease` runs out.
pub(crate) fn lease_end(at: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Claims up to `limit` executions for `owner`, leased for `lease`: first running ones
    /// whose lease ran out (a lost worker's), then queued ones that are due, oldest first.
    ///
    /// Two walks ([`EXPIRED`], [`QUEUED`]) in one transaction, each checking [`ELIGIBLE`] on
    /// the rows it reaches.
    pub async fn claim_executions(
        &self,
        owner: &str,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        if !self.limits.is_unlimited() {
            return self.claim_within_limits(owner, limit, lease).await;
        }
        let claim = Claim {
            owner: owner.to_string(),
            limit,
            lease,
        };
        match self.batcher.write(Write::Claim(claim)).await? {
            Done::Claimed(rows) => claimed(rows),
            _ => Ok(Vec::new()),
        }
    }

    /// A claim under concurrency limits ([`crate::limits`]): the candidates of both walks,
    /// ranked within their organization and instance, taken while the claim lock is held
    /// (PostgreSQL; SQLite's single writer already runs one claim at a time), so that no other
    /// claim counts running executions before this one's are marked. Not grouped: the lock
    /// must cover exactly this claim.
    async fn claim_within_limits(
        &self,
        owner: &str,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        let at = now();
        let until = lease_end(at, lease);
        let conditions = format!("(({}) OR ({})) AND {ELIGIBLE}", QUEUED.rows, EXPIRED.rows);
        let pick = limited_pick(&self.limits, "executions e", &conditions).unwrap_or_default();
        let columns = returned_columns();
        // The pick does not lock its rows, so the status is checked again on the row being
        // updated (one may have been cancelled or taken meanwhile).
        let update = format!(
            "UPDATE executions SET status = 'RUNNING', lease_owner = $1, lease_until = $2, \
             started_at = COALESCE(started_at, $3), attempt = attempt + 1 \
             WHERE {picked} AND (status = 'QUEUED' OR (status = 'RUNNING' AND lease_until < $3)) \
             RETURNING org_id, {columns}",
            picked = picked_once(&self.backend, &pick),
        );
        let rows: Vec<ClaimedRow> = match &self.backend {
            Backend::Sqlite(pools) => {
                sqlx::query_as(&update)
                    .bind(owner)
                    .bind(until)
                    .bind(at)
                    .bind(limit)
                    .fetch_all(&pools.writer)
                    .await?
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query_as(&update)
                    .bind(owner)
                    .bind(until)
                    .bind(at)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        claimed(rows)
    }

    /// Extends `owner`'s lease on execution `id`, and says whether the worker should go on.
    pub async fn renew_lease(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
    ) -> Result<LeaseState, StoreError> {
        let renewed = write!(self, pool => {
            sqlx::query("UPDATE executions SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'RUNNING'")
                .bind(lease_end(now(), lease)).bind(id).bind(owner)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        if renewed == 1 {
            return Ok(LeaseState::Held);
        }
        let status: Option<(String, Option<String>)> = read!(self, pool => {
            sqlx::query_as("SELECT status, lease_owner FROM executions WHERE id = $1")
                .bind(id).fetch_optional(pool).await
        })?;
        Ok(match status {
            Some((status, Some(holder))) if status == "CANCELLED" && holder == owner => {
                LeaseState::Cancelled
            }
            _ => LeaseState::Lost,
        })
    }

    /// Ends execution `id` held by `owner`, committing with it its last step results and log
    /// lines and the state it changed (grouped with other writes into one commit,
    /// [`crate::batch`]; a step result large enough for the blob store is committed first,
    /// alone). Answers `false`, writing nothing, when the worker no longer holds it.
    pub async fn finish_execution(
        &self,
        org_id: Uuid,
        id: Uuid,
        owner: &str,
        ending: &Ending,
        records: EndRecords,
    ) -> Result<bool, StoreError> {
        let sent = self.send_end(org_id, id, owner, ending, records).await?;
        sent.committed().await
    }

    /// [`Store::finish_execution`] in two halves: this one returns as soon as the end is
    /// handed to the grouped commit's writer, before it commits, so that what the caller then
    /// writes through that writer (the claim for the slot the execution leaves, say) commits
    /// with it or after it; [`SentEnd::committed`] then answers as `finish_execution` does.
    /// (A claim under concurrency limits is not grouped, and may commit first.)
    pub async fn send_end(
        &self,
        org_id: Uuid,
        id: Uuid,
        owner: &str,
        ending: &Ending,
        mut records: EndRecords,
    ) -> Result<SentEnd, StoreError> {
        records.steps = self
            .record_oversized(org_id, std::mem::take(&mut records.steps))
            .await?;
        let finish = Finish {
            org_id,
            id,
            owner: owner.to_string(),
            ending: ending.clone(),
            records,
        };
        Ok(SentEnd(self.batcher.send(Write::Finish(Box::new(finish)))?))
    }

    /// Ends a cancelled execution's run: the worker gives the lease back and keeps its logs.
    pub async fn release_cancelled(
        &self,
        org_id: Uuid,
        id: Uuid,
        owner: &str,
        logs: &[LogLine],
    ) -> Result<(), StoreError> {
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let released = sqlx::query(
                "UPDATE executions SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'CANCELLED'",
            )
            .bind(id).bind(owner).execute(&mut *tx).await?.rows_affected();
            if released == 1 {
                insert_logs!(&mut *tx, org_id, logs);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Hands back the leases `owner` holds on running executions (a stopping worker that could
    /// not finish them): they are queued again at once, to resume after their last committed
    /// step, instead of waiting for their leases to run out.
    ///
    /// ([`HELD_BY`] names the rows.)
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE executions SET status = 'QUEUED', lease_owner = NULL, lease_until = NULL WHERE {HELD_BY}"
        );
        Ok(write!(self, pool => {
            sqlx::query(&sql).bind(owner).execute(pool).await.map(|done| done.rows_affected())
        })?)
    }

    /// Hands execution `id`, which `owner` holds but has not started running, back to the
    /// queue as if it had never been taken (its attempt and start undone), as a worker does
    /// with an execution of an instance paused meanwhile, or one held at enqueue
    /// ([`crate::eager`]) that its worker could not take. Answers whether `owner` held it.
    pub async fn hand_back(&self, id: Uuid, owner: &str) -> Result<bool, StoreError> {
        let handed = write!(self, pool => {
            sqlx::query(
                "UPDATE executions SET status = 'QUEUED', lease_owner = NULL, lease_until = NULL, attempt = attempt - 1, \
                 started_at = CASE WHEN attempt <= 1 THEN NULL ELSE started_at END \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'RUNNING'",
            )
            .bind(id).bind(owner).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(handed == 1)
    }

    /// Queues again every running execution: for a store only one process uses (SQLite),
    /// whatever runs at start-up was left by the previous life of this process, killed before
    /// it could finish; the executions resume after their last committed step.
    pub async fn recover_running(&self) -> Result<u64, StoreError> {
        Ok(write!(self, pool => {
            sqlx::query("UPDATE executions SET status = 'QUEUED', lease_owner = NULL, lease_until = NULL WHERE status = 'RUNNING'")
                .execute(pool).await.map(|done| done.rows_affected())
        })?)
    }

    /// The stored value of a state scope.
    pub async fn state(
        &self,
        org_id: Uuid,
        scope: &str,
        owner_id: Uuid,
    ) -> Result<Option<Value>, StoreError> {
        let value: Option<Json<Value>> = read!(self, pool => {
            sqlx::query_scalar("SELECT value FROM flow_state WHERE org_id = $1 AND scope = $2 AND owner_id = $3")
                .bind(org_id).bind(scope).bind(owner_id).fetch_optional(pool).await
        })?;
        Ok(value.map(|json| json.0))
    }

    /// The stored values of several state scopes, each `(scope, owner)`, in one read: a
    /// value per pair, in order, `None` where nothing is stored.
    pub async fn states(
        &self,
        org_id: Uuid,
        scopes: &[(&str, Uuid)],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, Uuid, Json<Value>)> = read!(self, pool => {
            let mut sql = sqlx::QueryBuilder::new("SELECT scope, owner_id, value FROM flow_state WHERE org_id = ");
            sql.push_bind(org_id).push(" AND (");
            for (i, (scope, owner)) in scopes.iter().enumerate() {
                sql.push(if i == 0 { "(scope = " } else { " OR (scope = " });
                sql.push_bind(*scope).push(" AND owner_id = ").push_bind(*owner).push(")");
            }
            sql.push(")");
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(scopes
            .iter()
            .map(|(scope, owner)| {
                rows.iter()
                    .find(|(s, o, _)| s == scope && o == owner)
                    .map(|(_, _, value)| value.0.clone())
            })
            .collect())
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::schedules::BUSY;
    use crate::testing;

    /// `query` with the parameters of `sql` bound: a claim's (`$1` owner, `$2` lease end, `$3`
    /// now, `$4` limit), the busy check's one (`$1` a flow config), or none.
    macro_rules! with_parameters {
        ($query:expr, $sql:expr) => {{
            let (query, at) = ($query, now());
            if $sql.contains("$4") {
                let until = lease_end(at, Duration::from_secs(30));
                query.bind("worker").bind(until).bind(at).bind(8_i64)
            } else if $sql.contains("$1") {
                query.bind(Uuid::now_v7())
            } else {
                query
            }
        }};
    }

    /// The lines of the plan `store` makes for `sql` ([`with_parameters`]). PostgreSQL is told
    /// not to scan whole tables, so that the plan shows which index it can use on these nearly
    /// empty ones.
    async fn plan(store: &Store, sql: &str) -> String {
        let lines: Vec<String> = match &store.backend {
            Backend::Sqlite(pools) => {
                let query = format!("EXPLAIN QUERY PLAN {sql}");
                let query = sqlx::query_as::<_, (i64, i64, i64, String)>(&query);
                let query = with_parameters!(query, sql);
                let rows = query.fetch_all(&pools.reader).await.unwrap();
                rows.into_iter().map(|row| row.3).collect()
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let query = format!("EXPLAIN {sql}");
                let query = sqlx::query_scalar::<_, String>(&query);
                let query = with_parameters!(query, sql);
                query.fetch_all(&mut *tx).await.unwrap()
            }
        };
        lines.join("\n")
    }

    /// The claim, a FIFO flow's check and a singleton schedule's busy check each read a
    /// partial index of unfinished executions (migration 25), on both stores: SQLite uses one
    /// only when the query repeats its condition, which this guards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_unfinished_executions_are_found_through_partial_indexes() {
        for t in testing::all().await {
            let [expired, queued] = claim_statements(&t.store.backend);
            let expected = [
                (expired.as_str(), "executions_leased"),
                (queued.as_str(), "executions_queued"),
                (queued.as_str(), "executions_flow_config_unfinished"),
                (BUSY, "executions_flow_config_unfinished"),
            ];
            for (sql, index) in expected {
                let plan = plan(&t.store, sql).await;
                assert!(
                    plan.contains(index),
                    "{}: no {index} in the plan of {sql}:\n{plan}",
                    t.url
                );
            }
        }
    }

    /// On PostgreSQL, a query that asks only for running rows (as an execution's end does,
    /// with its id) cannot read the partial indexes that hold running rows, which keep a dead
    /// entry for every execution that ran since the last VACUUM (migration 27); the planner,
    /// counting live rows only, would take them for small. Handing leases back ([`HELD_BY`])
    /// still reads the running executions' index, and the retry-chain update reads the small
    /// index of executions waiting for a retry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn running_rows_are_walked_by_lease_only_where_a_lease_is_compared() {
        let Some(t) = testing::postgres().await else {
            return;
        };
        let running = "SELECT id FROM executions WHERE status = 'RUNNING'";
        let plan_of_running = plan(&t.store, running).await;
        for partial in ["executions_leased", "executions_flow_config_unfinished"] {
            assert!(!plan_of_running.contains(partial), "{plan_of_running}");
        }
        let release =
            format!("SELECT id FROM executions WHERE {HELD_BY}").replace("$1", "'worker'");
        let plan_of_release = plan(&t.store, &release).await;
        assert!(
            plan_of_release.contains("executions_leased"),
            "{plan_of_release}"
        );
        let pending = "SELECT id FROM executions WHERE status = 'FAILED_RETRY_PENDING'";
        let plan_of_pending = plan(&t.store, pending).await;
        assert!(
            plan_of_pending.contains("executions_retry_pending"),
            "{plan_of_pending}"
        );
    }
}
