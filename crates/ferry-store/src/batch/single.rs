//! The common grouped commit on PostgreSQL as **one statement**: queued executions with their
//! payloads, ends, and step results and log lines, each kind of row bound as arrays (one array
//! per column, `UNNEST`ed) in data-modifying CTEs. Every statement is a round trip over the
//! network, and the writer commits one batch at a time, so a commit of seven statements in a
//! transaction kept the batch waiting seven round trips; this is one, needs no `BEGIN` or
//! `COMMIT` (a statement is its own transaction), and its text never changes, so it stays
//! prepared.
//!
//! It takes the batches that hold only enqueues, checkpoints and ends that neither queue a
//! retry nor write state ([`Single::of`]); the others go through [`super::plan`]. As there,
//! an end's step results and log lines are written only if its update found the execution
//! held, and the end of a retry chain fails the attempts that waited for it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ferry_core::execution::{LogLine, StepResult};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::plan::{Owned, Sorted};
use super::sql::{INSERT_LOGS, INSERT_STEPS, KEEP_RECORDED_STEP};
use super::{Done, Finish, Write};
use crate::json_text::JsonText;
use crate::unnest::QueuedColumns;
use crate::StoreError;

/// The executions `x` an end `e` (from `UNNEST`) finds: held by its owner, running, and
/// looked up by id, `ids` being the ends' ids again. Repeating them as `x.id = ANY(ids)` gives
/// the primary key an index condition in any join order: when the statistics say `executions`
/// is nearly empty (a new database), the planner otherwise puts it first in the join and
/// reads all of it through its primary key for every commit.
pub(super) fn ended_rows(ids: &str) -> String {
    format!(
        "x.id = e.id AND x.id = ANY({ids}::uuid[]) AND x.lease_owner = e.owner \
         AND x.status = 'RUNNING'"
    )
}

/// The statement: `$1`–`$20` queued executions and payloads, `$21` now, `$22`–`$26` ends,
/// `$27`–`$39` step results, `$40`–`$47` log lines. (`of_end` marks the rows written only if
/// their execution's end found it held.) Built once, from the column lists the other paths
/// insert with, so that a column added there and not here fails every test of this path.
pub(super) fn statement() -> String {
    let ended = ended_rows("$22");
    let queued = crate::unnest::queued_ctes();
    format!(
        "WITH {queued}, ended AS (
    UPDATE executions x SET status = e.status, error = e.error, result = e.result, ended_at = $21,
        lease_owner = NULL, lease_until = NULL
    FROM UNNEST($22::uuid[], $23::text[], $24::text[], $25::json[], $26::text[])
        AS e (id, status, error, result, owner)
    WHERE {ended}
    RETURNING x.id, x.retry_for
), chains AS (
    UPDATE executions SET status = 'FAILED' WHERE status = 'FAILED_RETRY_PENDING'
        AND (id IN (SELECT retry_for FROM ended) OR retry_for IN (SELECT retry_for FROM ended))
), steps AS (
    {INSERT_STEPS}
    SELECT s.org_id, s.id, s.execution_id, s.step_key, s.step_name, s.loop_path, s.results,
        s.results_from_trigger, s.error, s.effects, s.started_at, s.ended_at
    FROM UNNEST($27::uuid[], $28::uuid[], $29::uuid[], $30::text[], $31::text[], $32::text[],
        $33::json[], $34::bool[], $35::text[], $36::json[], $37::timestamptz[], $38::timestamptz[],
        $39::bool[])
        AS s (org_id, id, execution_id, step_key, step_name, loop_path, results,
            results_from_trigger, error, effects, started_at, ended_at, of_end)
    WHERE NOT s.of_end OR s.execution_id IN (SELECT id FROM ended)
    {KEEP_RECORDED_STEP}
), logs AS (
    {INSERT_LOGS}
    SELECT l.org_id, l.id, l.execution_id, l.severity, l.message, l.step_name, l.at
    FROM UNNEST($40::uuid[], $41::uuid[], $42::uuid[], $43::text[], $44::text[], $45::text[],
        $46::timestamptz[], $47::bool[])
        AS l (org_id, id, execution_id, severity, message, step_name, at, of_end)
    WHERE NOT l.of_end OR l.execution_id IN (SELECT id FROM ended)
)
SELECT id FROM ended"
    )
}

/// A batch this statement can take, as its columns.
#[derive(Default)]
pub(super) struct Single<'a> {
    queued: QueuedColumns<'a>,
    ends: EndColumns<'a>,
    steps: StepColumns<'a>,
    logs: LogColumns<'a>,
}

#[derive(Default)]
struct EndColumns<'a> {
    id: Vec<Uuid>,
    status: Vec<&'static str>,
    error: Vec<Option<&'a str>>,
    result: Vec<Option<JsonText<&'a Value>>>,
    owner: Vec<&'a str>,
}

#[derive(Default)]
struct StepColumns<'a> {
    org_id: Vec<Uuid>,
    id: Vec<Uuid>,
    execution_id: Vec<Uuid>,
    step_key: Vec<&'a str>,
    step_name: Vec<&'a str>,
    loop_path: Vec<&'a str>,
    results: Vec<Option<JsonText<&'a Value>>>,
    from_trigger: Vec<bool>,
    error: Vec<Option<&'a str>>,
    effects: Vec<Option<JsonText<&'a ferry_core::execution::StepEffects>>>,
    started_at: Vec<DateTime<Utc>>,
    ended_at: Vec<DateTime<Utc>>,
    of_end: Vec<bool>,
}

#[derive(Default)]
struct LogColumns<'a> {
    org_id: Vec<Uuid>,
    id: Vec<Uuid>,
    execution_id: Vec<Uuid>,
    severity: Vec<&'static str>,
    message: Vec<&'a str>,
    step_name: Vec<Option<&'a str>>,
    at: Vec<DateTime<Utc>>,
    of_end: Vec<bool>,
}

impl<'a> Single<'a> {
    /// The batch (its writes [`Sorted::of`]) as columns, if every write is one the statement
    /// takes: no claims, and no end that queues a retry or writes state.
    pub(super) fn of(sorted: &Sorted<'a>) -> Option<Self> {
        let takes = |end: &&Finish| end.ending.retry_at.is_none() && end.records.states.is_empty();
        if sorted.claims || !sorted.ends.iter().all(takes) {
            return None;
        }
        let mut single = Single::default();
        for &(org_id, e, fifo, lease) in &sorted.queued {
            single.queued.push(org_id, e, fifo, lease);
        }
        let (steps, logs) = (sorted.steps.iter().copied(), sorted.logs.iter().copied());
        single.push_records(steps, logs, false);
        for &end in &sorted.ends {
            single.ends.push(end);
            let org_id = end.org_id;
            let steps = end.records.steps.iter().map(|step| (org_id, step));
            let logs = end.records.logs.iter().map(|line| (org_id, line));
            single.push_records(steps, logs, true);
        }
        Some(single)
    }

    /// Step results and log lines; `of_end`: an end's, kept only if it found its execution held.
    fn push_records(
        &mut self,
        steps: impl IntoIterator<Item = Owned<'a, StepResult>>,
        logs: impl IntoIterator<Item = Owned<'a, LogLine>>,
        of_end: bool,
    ) {
        for (org_id, step) in steps {
            self.steps.push(org_id, step, of_end);
        }
        for (org_id, line) in logs {
            self.logs.push(org_id, line, of_end);
        }
    }

    /// Runs [`statement`] (its text) at time `at`: an answer for each of `writes`, in order.
    pub(super) async fn run(
        self,
        pool: &PgPool,
        statement: &str,
        writes: &[&Write],
        at: DateTime<Utc>,
    ) -> Result<Vec<Done>, StoreError> {
        let Single {
            queued: q,
            ends: e,
            steps: s,
            logs: l,
        } = self;
        let ended: Vec<Uuid> = sqlx::query_scalar_with(statement, q.arguments()?)
            .bind(at)
            .bind(e.id)
            .bind(e.status)
            .bind(e.error)
            .bind(e.result)
            .bind(e.owner)
            .bind(s.org_id)
            .bind(s.id)
            .bind(s.execution_id)
            .bind(s.step_key)
            .bind(s.step_name)
            .bind(s.loop_path)
            .bind(s.results)
            .bind(s.from_trigger)
            .bind(s.error)
            .bind(s.effects)
            .bind(s.started_at)
            .bind(s.ended_at)
            .bind(s.of_end)
            .bind(l.org_id)
            .bind(l.id)
            .bind(l.execution_id)
            .bind(l.severity)
            .bind(l.message)
            .bind(l.step_name)
            .bind(l.at)
            .bind(l.of_end)
            .fetch_all(pool)
            .await?;
        let held: HashSet<Uuid> = ended.into_iter().collect();
        Ok(writes
            .iter()
            .map(|write| match write {
                Write::Finish(end) => Done::Ended(held.contains(&end.id)),
                _ => Done::Written,
            })
            .collect())
    }
}

impl<'a> EndColumns<'a> {
    fn push(&mut self, end: &'a Finish) {
        self.id.push(end.id);
        self.status.push(end.ending.status.as_str());
        self.error.push(end.ending.error.as_deref());
        self.result.push(end.ending.result.as_ref().map(JsonText));
        self.owner.push(&end.owner);
    }
}

impl<'a> StepColumns<'a> {
    fn push(&mut self, org_id: Uuid, step: &'a StepResult, of_end: bool) {
        // A trigger's payload is read from its execution (`records::STEP_COLUMNS`).
        let results = step.results.as_ref().filter(|_| !step.from_trigger);
        self.org_id.push(org_id);
        self.id.push(step.id);
        self.execution_id.push(step.execution_id);
        self.step_key.push(&step.step_key);
        self.step_name.push(&step.step_name);
        self.loop_path.push(&step.loop_path);
        self.results.push(results.map(JsonText));
        self.from_trigger.push(step.from_trigger);
        self.error.push(step.error.as_deref());
        self.effects
            .push((!step.effects.is_empty()).then_some(JsonText(&step.effects)));
        self.started_at.push(step.started_at);
        self.ended_at.push(step.ended_at);
        self.of_end.push(of_end);
    }
}

impl<'a> LogColumns<'a> {
    fn push(&mut self, org_id: Uuid, line: &'a LogLine, of_end: bool) {
        self.org_id.push(org_id);
        self.id.push(line.id);
        self.execution_id.push(line.execution_id);
        self.severity.push(line.severity.as_str());
        self.message.push(&line.message);
        self.step_name.push(line.step_name.as_deref());
        self.at.push(line.at);
        self.of_end.push(of_end);
    }
}
