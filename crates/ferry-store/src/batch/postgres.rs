//! The grouped commit on PostgreSQL: the common batch as one statement ([`super::single`]);
//! the others (claims, retries, state) as one transaction, with one multi-row
//! statement per kind of row (per [`ROWS_PER_INSERT`] rows), since every statement is a round
//! trip over the network. Both run on the writer's own connection, planned for walking
//! indexes ([`PLANNER`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ferry_core::execution::{LogLine, StepResult};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::plan::{self, Commit, Owned, Queued, Sorted, Statements};
use super::single::Single;
use super::{Done, Finish, Write};
use crate::executions::{insert_executions, ROWS_PER_INSERT};
use crate::json_text::JsonText;
use crate::runs::{lease_end, Claim, ClaimedRow, StateWrite};
use crate::statistics::Growth;
use crate::{new_id, now, StoreError};

/// Commits batches on a PostgreSQL pool.
pub(super) struct PgCommit {
    pool: PgPool,
    /// The claim's statements ([`crate::runs::claim_statements`]), built once.
    claims: [String; 2],
    /// The one statement of a common batch ([`super::single::statement`]), built once.
    single: String,
    /// The executions committed, for the statistics of a new database ([`crate::statistics`]).
    growth: Growth,
    /// The store's pool, which analyzes `executions` (the writer's connection must not wait).
    shared: PgPool,
}

impl PgCommit {
    /// A writer on its own connection to `pool`'s database ([`writer_pool`]).
    pub(super) fn new(pool: &PgPool, claims: [String; 2]) -> Self {
        let single = super::single::statement();
        PgCommit {
            pool: writer_pool(pool),
            claims,
            single,
            growth: Growth::new("ANALYZE executions"),
            shared: pool.clone(),
        }
    }
}

impl Commit for PgCommit {
    async fn commit(&mut self, writes: &[&Write]) -> Result<Vec<Done>, StoreError> {
        let sorted = Sorted::of(writes);
        let queued = sorted.queued.len();
        let answers = match Single::of(&sorted) {
            Some(single) => single.run(&self.pool, &self.single, writes, now()).await?,
            None => {
                let tx = self.pool.begin().await?;
                let mut statements = PgStatements {
                    tx,
                    claims: &self.claims,
                };
                let answers = plan::write_all(&mut statements, writes, sorted, now()).await?;
                statements.tx.commit().await?;
                answers
            }
        };
        self.growth.added(&self.shared, queued);
        Ok(answers)
    }
}

struct PgStatements<'a> {
    tx: Transaction<'static, Postgres>,
    claims: &'a [String; 2],
}

/// How the writer's connection plans: an index walk wherever one can do the work, never a
/// scan of a whole table nor a sort of its rows. Every statement of a grouped commit finds
/// its rows by key (an execution's id, a state's owner) or walks an index in order (a claim
/// takes the first few due rows of `executions_queued` or `executions_leased`), which stays
/// cheap however large the tables grow. The other plans win only when the statistics say a
/// table is nearly empty: what they say after a quiet spell, or after a VACUUM of a new
/// database, just as a burst fills it. A prepared statement keeps such a plan until the next
/// ANALYZE, so without these settings every grouped commit scanned `executions` or sorted the
/// whole queue for as long as a burst lasted (13,000 queued rows: 18 ms a claim, against
/// 0.5 ms walking the index). Where no index serves a statement, PostgreSQL still scans.
const PLANNER: [(&str, &str); 2] = [("enable_seqscan", "off"), ("enable_sort", "off")];

/// The writer's own connection, planning by [`PLANNER`]; the writer commits one batch at a
/// time, so one connection serves it, and no reader's query is planned its way.
pub(super) fn writer_pool(pool: &PgPool) -> PgPool {
    let options = (*pool.connect_options()).clone().options(PLANNER);
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(crate::backend::PG_ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

impl Statements for PgStatements<'_> {
    async fn insert_executions(&mut self, rows: &[Queued<'_>]) -> Result<(), StoreError> {
        insert_executions!(&mut *self.tx, rows);
        Ok(())
    }

    /// One `UPDATE … FROM (VALUES …)` per chunk of ends instead of one statement per end.
    async fn end_held(
        &mut self,
        ends: &[&Finish],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, Option<Uuid>>, StoreError> {
        let mut held = HashMap::new();
        for rows in ends.chunks(ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::new(
                "UPDATE executions SET status = e.column2, error = e.column3, result = e.column4, ended_at = ",
            );
            sql.push_bind(at);
            sql.push(", lease_owner = NULL, lease_until = NULL FROM (");
            sql.push_values(rows, |mut row, end: &&Finish| {
                row.push_bind(end.id)
                    .push_bind(end.ending.status.as_str())
                    .push_bind(&end.ending.error)
                    .push_bind(end.ending.result.as_ref().map(JsonText))
                    .push_bind(&end.owner);
            });
            sql.push(
                ") AS e WHERE executions.id = e.column1 AND executions.lease_owner = e.column5 \
                 AND executions.status = 'RUNNING' RETURNING id, retry_for",
            );
            let ended: Vec<(Uuid, Option<Uuid>)> =
                sql.build_query_as().fetch_all(&mut *self.tx).await?;
            held.extend(ended);
        }
        Ok(held)
    }

    async fn claim(
        &mut self,
        claim: &Claim,
        at: DateTime<Utc>,
    ) -> Result<Vec<ClaimedRow>, StoreError> {
        let until = lease_end(at, claim.lease);
        let mut rows: Vec<ClaimedRow> = Vec::new();
        for statement in self.claims {
            let left = claim.limit - rows.len() as i64;
            if left <= 0 {
                break;
            }
            let taken: Vec<ClaimedRow> = sqlx::query_as(statement)
                .bind(&claim.owner)
                .bind(until)
                .bind(at)
                .bind(left)
                .fetch_all(&mut *self.tx)
                .await?;
            rows.extend(taken);
        }
        Ok(rows)
    }

    async fn queue_retry(
        &mut self,
        end: &Finish,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let retry = new_id();
        sqlx::query(super::sql::QUEUE_RETRY)
            .bind(retry)
            .bind(retry_at)
            .bind(end.id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(super::sql::COPY_PAYLOAD)
            .bind(retry)
            .bind(end.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn close_chain(&mut self, first: Uuid) -> Result<(), StoreError> {
        sqlx::query(super::sql::CLOSE_CHAIN)
            .bind(first)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn write_state(
        &mut self,
        org_id: Uuid,
        state: &StateWrite,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(super::sql::WRITE_STATE)
            .bind(org_id)
            .bind(state.scope)
            .bind(state.owner_id)
            .bind(JsonText(&state.value))
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_steps(&mut self, rows: &[Owned<'_, StepResult>]) -> Result<(), StoreError> {
        for rows in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::new(super::sql::INSERT_STEPS);
            sql.push_values(rows, |mut row, (org_id, step)| {
                // A trigger's payload is read from its execution (`records::STEP_COLUMNS`).
                let results = step.results.as_ref().filter(|_| !step.from_trigger);
                row.push_bind(*org_id)
                    .push_bind(step.id)
                    .push_bind(step.execution_id)
                    .push_bind(&step.step_key)
                    .push_bind(&step.step_name)
                    .push_bind(&step.loop_path)
                    .push_bind(results.map(JsonText))
                    .push_bind(step.from_trigger)
                    .push_bind(&step.error)
                    .push_bind((!step.effects.is_empty()).then_some(JsonText(&step.effects)))
                    .push_bind(step.started_at)
                    .push_bind(step.ended_at);
            });
            sql.push(super::sql::KEEP_RECORDED_STEP);
            sql.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn insert_logs(&mut self, rows: &[Owned<'_, LogLine>]) -> Result<(), StoreError> {
        for rows in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::new(super::sql::INSERT_LOGS);
            sql.push_values(rows, |mut row, (org_id, line)| {
                row.push_bind(*org_id)
                    .push_bind(line.id)
                    .push_bind(line.execution_id)
                    .push_bind(line.severity.as_str())
                    .push_bind(&line.message)
                    .push_bind(&line.step_name)
                    .push_bind(line.at);
            });
            sql.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use serde_json::{json, Value};
    use sqlx::postgres::PgArguments;
    use sqlx::types::Json;

    use super::*;
    use crate::backend::Backend;
    use crate::runs::claim_statements;
    use crate::testing;

    /// An `EXPLAIN (FORMAT JSON)` query with its parameters bound.
    type Explain<'q> = sqlx::query::QueryAs<'q, Postgres, (Json<Value>,), PgArguments>;

    /// The plan `explain` gets on `pool`'s connections.
    async fn plan_on(pool: PgPool, explain: Explain<'_>) -> Value {
        let (plan,) = explain.fetch_one(&pool).await.unwrap();
        plan.0
    }

    /// A PostgreSQL store with a flow, whose `executions` keeps the statistics `taking` leaves
    /// (autovacuum is off for it), and its pool; none when PostgreSQL is not configured.
    async fn with_statistics(
        taking: &str,
    ) -> Option<(testing::TestStore, testing::Fixture, PgPool)> {
        let t = testing::postgres().await?;
        let Backend::Postgres(pool) = &t.store.backend else {
            panic!("a PostgreSQL store");
        };
        let pool = pool.clone();
        let fixture = testing::fixture(&t.store, &["flow"]).await;
        for statement in [
            "ALTER TABLE executions SET (autovacuum_enabled = false)",
            taking,
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        Some((t, fixture, pool))
    }

    /// Queues `count` executions at once, as a burst of webhooks would.
    async fn burst(t: &testing::TestStore, fixture: &testing::Fixture, count: u64) {
        let burst = (0..count).map(|n| {
            t.store
                .enqueue_execution(&fixture.org, fixture.execution("flow", json!({ "n": n })))
        });
        futures::future::try_join_all(burst).await.unwrap();
    }

    /// Whether every node of `plan` reading `table` has a condition on an index's key (no
    /// sequential scan, and no walk of a whole index, which a planner told not to scan may
    /// choose instead).
    fn reads_by_key(plan: &Value, table: &str) -> bool {
        match plan {
            Value::Object(node) => {
                let reads = node.get("Relation Name").and_then(Value::as_str) == Some(table);
                let keyed = node.contains_key("Index Cond") || node.contains_key("Recheck Cond");
                (!reads || keyed) && node.values().all(|v| reads_by_key(v, table))
            }
            Value::Array(items) => items.iter().all(|v| reads_by_key(v, table)),
            _ => true,
        }
    }

    /// Whether `plan` (`EXPLAIN (FORMAT JSON)`'s) has a node of type `kind`.
    fn has_node(plan: &Value, kind: &str) -> bool {
        match plan {
            Value::Object(node) => {
                node.get("Node Type").and_then(Value::as_str) == Some(kind)
                    || node.values().any(|v| has_node(v, kind))
            }
            Value::Array(items) => items.iter().any(|v| has_node(v, kind)),
            _ => false,
        }
    }

    /// A burst queued after the statistics were taken on a quiet queue: a claim on the writer's
    /// connection still walks the queue's index in order instead of sorting every queued row.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_walks_a_burst_in_order_whatever_the_statistics() {
        // Statistics taken on an empty queue.
        let Some((t, fixture, pool)) = with_statistics("ANALYZE executions").await else {
            return;
        };
        // Fewer than the writer's first ANALYZE waits for ([`crate::statistics`]).
        burst(&t, &fixture, crate::statistics::FIRST - 1).await;

        let queued = &claim_statements(&t.store.backend)[1];
        let explain = format!("EXPLAIN (FORMAT JSON) {queued}");
        let plan = |pool: PgPool| {
            let at = now();
            let explain = sqlx::query_as(&explain)
                .bind("worker")
                .bind(lease_end(at, std::time::Duration::from_secs(30)))
                .bind(at)
                .bind(8_i64);
            plan_on(pool, explain)
        };
        assert!(
            has_node(&plan(pool.clone()).await, "Sort"),
            "the planner, told the queue is empty, sorts the whole queue (what this guards against)"
        );
        let walked = plan(writer_pool(&pool)).await;
        assert!(!has_node(&walked, "Sort"), "{walked:#}");
        assert!(has_node(&walked, "Index Scan"), "{walked:#}");
    }

    /// The statistics of a new database, which say `executions` is empty, are taken again as
    /// the writer commits the first thousand executions, autovacuum or not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_filling_queue_gets_statistics_of_its_size() {
        let Some((t, fixture, pool)) = with_statistics("VACUUM ANALYZE executions").await else {
            return;
        };
        let pool = &pool;
        let counted = || async {
            let (rows,): (f32,) =
                sqlx::query_as("SELECT reltuples FROM pg_class WHERE oid = 'executions'::regclass")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            rows
        };
        assert!(
            counted().await <= 0.0,
            "the statistics say the table is empty"
        );
        burst(&t, &fixture, crate::statistics::FIRST + 100).await;
        let waited = std::time::Instant::now();
        while counted().await < 1_000.0 && waited.elapsed() < std::time::Duration::from_secs(10) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let rows = counted().await;
        assert!(rows >= 1_000.0, "the statistics say {rows} rows");
    }

    /// After a VACUUM of a new database, the statistics say `executions` is empty while a
    /// burst fills it: the writer still finds an execution to end by its key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_end_finds_its_execution_by_key_whatever_the_statistics() {
        let Some((_t, _, pool)) = with_statistics("VACUUM ANALYZE executions").await else {
            return;
        };
        let pool = &pool;
        // The grouped commit's end (`ended` in [`super::single`]): its rows, joined as there.
        let end = format!(
            "EXPLAIN (FORMAT JSON) SELECT x.id FROM executions x, \
             UNNEST($1::uuid[], $2::text[]) AS e (id, owner) WHERE {}",
            super::super::single::ended_rows("$1")
        );
        let plan = |pool: PgPool| {
            let explain = sqlx::query_as(&end)
                .bind(vec![Uuid::nil()])
                .bind(vec!["worker"]);
            plan_on(pool, explain)
        };
        assert!(
            has_node(&plan(pool.clone()).await, "Seq Scan"),
            "the planner, told the table is empty, scans it (what this guards against)"
        );
        let by_key = plan(writer_pool(pool)).await;
        assert!(reads_by_key(&by_key, "executions"), "{by_key:#}");
    }
}
