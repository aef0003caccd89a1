//! Schedules: one row per scheduled flow config of a deployed instance, and the firing of due
//! ones.
//!
//! The store knows no cron. Whoever fires schedules (the engine's scheduler) supplies a
//! [`Cadence`]: when a schedule fires next, and the trigger payload of the execution a tick
//! queues. [`Store::fire_due`] then, in one transaction, takes the due rows (on PostgreSQL
//! with `FOR UPDATE SKIP LOCKED`, so nodes sharing the database take distinct rows; SQLite has
//! a single writer), advances each row's `next_fire_at` past `now` and queues its execution.
//! A tick is therefore claimed and queued together, exactly once:
//!
//! - ticks missed while no scheduler ran fire once, not once per missed tick (the next time is
//!   computed after `now`, not after the missed tick);
//! - a singleton schedule skips its tick while an execution of its flow config is queued or
//!   running;
//! - a paused instance's schedules advance without queueing anything.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use ferry_core::execution::Execution;
use ferry_core::payload::Payload;
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Backend, Dialect};
use crate::executions::{insert_execution, insert_executions, ROWS_PER_INSERT};
use crate::runs::unfinished;
use crate::{NewExecution, Store, StoreError, Tenant};

/// A flow config's schedule, as a deploy computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchedule {
    /// The flow config it fires (one of the instance's).
    pub flow_config_id: Uuid,
    /// The cron expression, as written.
    pub cron: String,
    /// The IANA time zone the expression is read in.
    pub timezone: String,
    /// Whether a tick is skipped while an execution of the flow config is queued or running.
    pub singleton: bool,
    /// The first tick.
    pub next_fire_at: DateTime<Utc>,
}

/// A stored schedule, with what firing it needs to know of its instance.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Schedule {
    /// The instance's organization.
    pub org_id: Uuid,
    /// The flow config it fires.
    pub flow_config_id: Uuid,
    /// The instance.
    pub instance_id: Uuid,
    /// The instance's customer.
    pub customer_id: Uuid,
    /// The flow's identity (the flow config's current one).
    pub flow_key: String,
    /// The cron expression.
    pub cron: String,
    /// The IANA time zone of the expression.
    pub timezone: String,
    /// Whether a tick is skipped while an execution of the flow config is queued or running.
    pub singleton: bool,
    /// The next tick; `None` once no next time could be computed (stopped until redeployed).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Whether the instance is enabled (a paused one's ticks queue nothing).
    pub enabled: bool,
}

/// What the store asks of whoever fires schedules.
pub trait Cadence: Sync {
    /// The schedule's first tick strictly after `after`; an error stops the schedule.
    fn next_fire_at(
        &self,
        schedule: &Schedule,
        after: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String>;

    /// The trigger payload of the execution the schedule's current tick queues.
    fn payload(&self, schedule: &Schedule) -> Value;
}

/// What became of one due tick.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// The execution was queued.
    Queued(Box<Execution>),
    /// A singleton schedule whose previous execution is still queued or running.
    SkippedRunning,
    /// The instance is paused.
    SkippedPaused,
    /// No next time could be computed (the reason); the schedule stopped without firing.
    Stopped(String),
}

/// One due tick, fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The schedule; its `next_fire_at` is the tick that was due.
    pub schedule: Schedule,
    /// What became of it.
    pub outcome: TickOutcome,
    /// The schedule's next tick (`None` when it stopped).
    pub next_fire_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "SELECT s.org_id, s.flow_config_id, s.instance_id, i.customer_id, f.flow_key, s.cron, \
     s.timezone, s.singleton, s.next_fire_at, i.enabled \
     FROM schedules s JOIN instances i ON i.id = s.instance_id JOIN instance_flow_configs f ON f.id = s.flow_config_id";

/// Whether a flow config has a queued or running execution (the `unfinished!` term lets SQLite
/// read the partial index `executions_flow_config_unfinished`).
pub(crate) const BUSY: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM executions WHERE flow_config_id = $1 AND ",
    unfinished!(),
    " AND status IN ('QUEUED', 'RUNNING'))"
);

/// Adds a schedule, or changes an existing one; an unchanged expression keeps its next tick,
/// so that a redeploy neither skips nor repeats one.
const UPSERT: &str = "INSERT INTO schedules (org_id, flow_config_id, instance_id, flow_key, cron, timezone, singleton, next_fire_at) \
     SELECT f.org_id, f.id, f.instance_id, f.flow_key, $4, $5, $6, $7 FROM instance_flow_configs f \
     WHERE f.org_id = $1 AND f.instance_id = $2 AND f.id = $3 \
     ON CONFLICT (flow_config_id) DO UPDATE SET flow_key = excluded.flow_key, singleton = excluded.singleton, \
     next_fire_at = CASE WHEN schedules.cron = excluded.cron AND schedules.timezone = excluded.timezone \
       AND schedules.next_fire_at IS NOT NULL THEN schedules.next_fire_at ELSE excluded.next_fire_at END, \
     cron = excluded.cron, timezone = excluded.timezone";

/// Decides what a due tick does, given whether its flow config is busy (queued or running).
fn plan_tick(schedule: Schedule, busy: bool, now: DateTime<Utc>, cadence: &dyn Cadence) -> Tick {
    let next = cadence
        .next_fire_at(&schedule, now)
        .map(|at| at.trunc_subsecs(6));
    let outcome = match &next {
        Err(reason) => TickOutcome::Stopped(reason.clone()),
        Ok(_) if !schedule.enabled => TickOutcome::SkippedPaused,
        Ok(_) if busy => TickOutcome::SkippedRunning,
        Ok(_) => TickOutcome::Queued(Box::new(queued(&schedule, cadence))),
    };
    Tick {
        schedule,
        outcome,
        next_fire_at: next.ok(),
    }
}

fn queued(schedule: &Schedule, cadence: &dyn Cadence) -> Execution {
    NewExecution {
        instance_id: schedule.instance_id,
        customer_id: schedule.customer_id,
        flow_config_id: schedule.flow_config_id,
        flow_key: schedule.flow_key.clone(),
        is_synchronous: false,
        trigger_payload: Payload::from_value(cadence.payload(schedule)),
        invoked_by: None,
        replay_for: None,
        cancellation_key: None,
        fifo: false,
    }
    .queued()
}

impl Store {
    /// Sets an instance's schedules to `schedules` (on deploy): flow configs left out lose
    /// theirs, changed ones take the new expression and first tick, unchanged ones keep their
    /// next tick.
    pub async fn replace_schedules(
        &self,
        tenant: &Tenant,
        instance_id: Uuid,
        schedules: &[NewSchedule],
    ) -> Result<(), StoreError> {
        self.instance(tenant, instance_id).await?;
        let org_id = tenant.org_id;
        let keep: Vec<Uuid> = schedules.iter().map(|s| s.flow_config_id).collect();
        let all_known = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let existing: Vec<Uuid> = sqlx::query_scalar("SELECT flow_config_id FROM schedules WHERE org_id = $1 AND instance_id = $2")
                .bind(org_id).bind(instance_id).fetch_all(&mut *tx).await?;
            for gone in existing.iter().filter(|id| !keep.contains(id)) {
                sqlx::query("DELETE FROM schedules WHERE flow_config_id = $1").bind(gone).execute(&mut *tx).await?;
            }
            for s in schedules {
                let added = sqlx::query(UPSERT)
                    .bind(org_id).bind(instance_id).bind(s.flow_config_id).bind(&s.cron).bind(&s.timezone)
                    .bind(s.singleton).bind(s.next_fire_at.trunc_subsecs(6))
                    .execute(&mut *tx).await?.rows_affected();
                if added == 0 {
                    return Ok(false); // rolled back: the flow config is not the instance's
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)?;
        match all_known {
            true => {
                self.added(|filling| &filling.schedules, schedules.len());
                Ok(())
            }
            false => Err(StoreError::NotFound {
                kind: "flow config",
            }),
        }
    }

    /// An instance's schedules, in flow config order.
    pub async fn schedules(
        &self,
        tenant: &Tenant,
        instance_id: Uuid,
    ) -> Result<Vec<Schedule>, StoreError> {
        Ok(read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            sql.push(" WHERE s.org_id = ");
            Dialect::bind_uuid(&mut sql, tenant.org_id);
            sql.push(" AND s.instance_id = ");
            Dialect::bind_uuid(&mut sql, instance_id);
            if let Some(customer_id) = tenant.customer_id {
                sql.push(" AND i.customer_id = ");
                Dialect::bind_uuid(&mut sql, customer_id);
            }
            sql.push(" ORDER BY s.flow_config_id");
            sql.build_query_as().fetch_all(pool).await
        })?)
    }

    /// The earliest next tick of any schedule of any organization, for the scheduler to sleep
    /// until.
    pub async fn earliest_fire_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar(
                "SELECT next_fire_at FROM schedules WHERE next_fire_at IS NOT NULL ORDER BY next_fire_at LIMIT 1",
            )
            .fetch_optional(pool).await
        })?)
    }

    /// Fires up to `limit` schedules of any organization whose tick is due at `now`, oldest
    /// tick first: in one transaction, each is advanced to its next tick after `now` and, unless
    /// skipped, its execution is queued. Concurrent callers (other nodes) fire other rows.
    pub async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        cadence: &dyn Cadence,
    ) -> Result<Vec<Tick>, StoreError> {
        let lock = match &self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE OF s SKIP LOCKED",
        };
        let due =
            format!("{COLUMNS} WHERE s.next_fire_at <= $1 ORDER BY s.next_fire_at LIMIT $2{lock}");
        Ok(write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let rows: Vec<Schedule> = sqlx::query_as(&due).bind(now).bind(limit).fetch_all(&mut *tx).await?;
            let mut ticks = Vec::with_capacity(rows.len());
            for schedule in rows {
                let busy = schedule.singleton && sqlx::query_scalar(BUSY).bind(schedule.flow_config_id).fetch_one(&mut *tx).await?;
                ticks.push(plan_tick(schedule, busy, now, cadence));
            }
            tx.write_fired(&ticks).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ticks)
        }.await)?)
    }
}

/// Advances a firing's rows and queues their executions, inside its transaction: each
/// database its own way.
trait WriteFired {
    async fn write_fired(&mut self, ticks: &[Tick]) -> Result<(), sqlx::Error>;
}

impl WriteFired for sqlx::SqliteConnection {
    /// Rows advancing to the same next tick together, and the executions a few hundred to a
    /// statement: a minute's ten thousand ticks are a few dozen statements.
    async fn write_fired(&mut self, ticks: &[Tick]) -> Result<(), sqlx::Error> {
        for (next, ids) in advances(ticks) {
            for ids in ids.chunks(ROWS_PER_INSERT) {
                let mut sql = QueryBuilder::new("UPDATE schedules SET next_fire_at = ");
                sql.push_bind(next).push(" WHERE flow_config_id IN (");
                let mut list = sql.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                sql.push(")");
                sql.build().execute(&mut *self).await?;
            }
        }
        let (large, queued) = fired_executions(ticks);
        for (org_id, execution, _, _) in large {
            insert_execution!(&mut *self, org_id, execution);
        }
        insert_executions!(&mut *self, queued);
        Ok(())
    }
}

impl WriteFired for sqlx::PgConnection {
    /// One statement ([`FIRED`]), its rows bound as arrays: a statement of thousands of bound
    /// values cost PostgreSQL more to parse and bind (on each pooled connection in turn) than
    /// to run, and a minute's ten thousand ticks took twice as long to fire.
    async fn write_fired(&mut self, ticks: &[Tick]) -> Result<(), sqlx::Error> {
        let (large, queued) = fired_executions(ticks);
        for (org_id, execution, _, _) in large {
            insert_execution!(&mut *self, org_id, execution);
        }
        let mut columns = crate::unnest::QueuedColumns::default();
        for (org_id, execution, fifo, lease) in queued {
            columns.push(org_id, execution, fifo, lease);
        }
        let ids: Vec<Uuid> = ticks.iter().map(|t| t.schedule.flow_config_id).collect();
        let next: Vec<Option<DateTime<Utc>>> = ticks.iter().map(|t| t.next_fire_at).collect();
        sqlx::query_with(&FIRED, columns.arguments()?)
            .bind(ids)
            .bind(next)
            .execute(&mut *self)
            .await?;
        Ok(())
    }
}

/// PostgreSQL's writes of a firing: the queued executions and their payloads (`$1`–`$20`,
/// [`crate::unnest`]) and each fired row's next tick (`$21`, `$22`). The rows are looked up
/// by key whatever the statistics say (the `ANY` gives the key an index condition).
static FIRED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {queued}, advanced AS (
    UPDATE schedules s SET next_fire_at = a.next_fire_at
    FROM UNNEST($21::uuid[], $22::timestamptz[]) AS a (flow_config_id, next_fire_at)
    WHERE s.flow_config_id = a.flow_config_id AND s.flow_config_id = ANY($21::uuid[])
)
SELECT 1",
        queued = crate::unnest::queued_ctes()
    )
});

/// The fired rows by the next tick they advance to (none: the schedule stopped).
fn advances(ticks: &[Tick]) -> BTreeMap<Option<DateTime<Utc>>, Vec<Uuid>> {
    let mut by_next: BTreeMap<Option<DateTime<Utc>>, Vec<Uuid>> = BTreeMap::new();
    for tick in ticks {
        by_next
            .entry(tick.next_fire_at)
            .or_default()
            .push(tick.schedule.flow_config_id);
    }
    by_next
}

/// The executions `ticks` queue, `(org_id, execution, fifo, lease)` (never held): those whose payload goes to the
/// blob store (written one by one), and the others.
type Queued<'t> = Vec<(Uuid, &'t Execution, bool, Option<&'t crate::runs::Lease>)>;
fn fired_executions(ticks: &[Tick]) -> (Queued<'_>, Queued<'_>) {
    ticks
        .iter()
        .filter_map(|tick| match &tick.outcome {
            TickOutcome::Queued(execution) => {
                Some((tick.schedule.org_id, &**execution, false, None))
            }
            _ => None,
        })
        .partition(|(_, execution, _, _)| {
            crate::blobs::payload_oversized(&execution.trigger_payload)
        })
}
