//! What one grouped commit writes, and in which order, whatever the database: the queued
//! executions first, then the ends (one statement for all of them, reporting which ones their
//! workers still held), each end's follow-ups and the claims in the order they were asked for,
//! and last every step result and log line. An end's follow-ups, step results, log lines and
//! state are written only if its update found the execution held.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ferry_core::execution::{Execution, LogLine, StepResult};
use uuid::Uuid;

use super::{Answered, Done, Finish, Write};
use crate::runs::{Claim, ClaimedRow, Lease, StateWrite};
use crate::StoreError;

/// A queued execution to insert: its organization, the execution, whether its flow runs in
/// order (FIFO), and the lease of one held for its worker at enqueue ([`crate::eager`]).
pub(crate) type Queued<'a> = (Uuid, &'a Execution, bool, Option<&'a Lease>);

/// A row that belongs to an organization: a step result or a log line.
pub(super) type Owned<'a, T> = (Uuid, &'a T);

/// One grouped commit on one database.
pub(super) trait Commit {
    /// Writes `writes` in one transaction: an answer for each, in their order.
    async fn commit(&mut self, writes: &[&Write]) -> Result<Vec<Done>, StoreError>;

    /// Answers the callers of what was committed: at once, unless the database must first
    /// make it durable ([`super::durable`]).
    fn answer(&self, answered: Vec<Answered>) {
        for (job, done) in answered {
            job.answer(done);
        }
    }

    /// Nothing is waiting to be written: a good moment to let others write.
    fn idle(&mut self) {}
}

/// The statements of a grouped commit, run inside its transaction. Each takes every row of
/// its kind at once, and does nothing when there is none.
pub(super) trait Statements {
    /// Inserts queued (or held) executions with their payloads.
    async fn insert_executions(&mut self, rows: &[Queued<'_>]) -> Result<(), StoreError>;

    /// Ends the executions of `ends` whose workers still hold them: the id of each one
    /// ended, with its chain's first attempt (`retry_for`).
    async fn end_held(
        &mut self,
        ends: &[&Finish],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, Option<Uuid>>, StoreError>;

    /// Takes up to `claim.limit` executions for `claim.owner`.
    async fn claim(
        &mut self,
        claim: &Claim,
        at: DateTime<Utc>,
    ) -> Result<Vec<ClaimedRow>, StoreError>;

    /// Queues the automatic retry of `end`'s execution: the same request, to start at
    /// `retry_at`, linked to the first execution of the chain and keeping its place in the
    /// queue (FIFO flows run it before anything that arrived after the first attempt).
    async fn queue_retry(
        &mut self,
        end: &Finish,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The end of the retry chain that began with `first`: the earlier attempts, which waited
    /// for this one, fail for good.
    async fn close_chain(&mut self, first: Uuid) -> Result<(), StoreError>;

    /// Writes a state scope's new value.
    async fn write_state(
        &mut self,
        org_id: Uuid,
        state: &StateWrite,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Inserts step results; one already recorded under the same key (a step run again after
    /// a lost worker) is kept.
    async fn insert_steps(&mut self, rows: &[Owned<'_, StepResult>]) -> Result<(), StoreError>;

    /// Inserts log lines.
    async fn insert_logs(&mut self, rows: &[Owned<'_, LogLine>]) -> Result<(), StoreError>;
}

/// A batch's writes sorted by kind: what its statements take at once.
pub(super) struct Sorted<'a> {
    pub(super) queued: Vec<Queued<'a>>,
    /// The checkpoints' step results and log lines (an end's own come with the end).
    pub(super) steps: Vec<Owned<'a, StepResult>>,
    pub(super) logs: Vec<Owned<'a, LogLine>>,
    pub(super) ends: Vec<&'a Finish>,
    /// Whether any write is a claim.
    pub(super) claims: bool,
}

impl<'a> Sorted<'a> {
    pub(super) fn of(writes: &[&'a Write]) -> Self {
        let mut sorted = Sorted {
            queued: Vec::new(),
            steps: Vec::new(),
            logs: Vec::new(),
            ends: Vec::new(),
            claims: false,
        };
        for write in writes {
            match write {
                Write::Enqueue {
                    org_id,
                    execution,
                    fifo,
                    lease,
                } => sorted
                    .queued
                    .push((*org_id, &**execution, *fifo, lease.as_ref())),
                Write::Checkpoint {
                    org_id,
                    steps,
                    logs,
                } => {
                    sorted
                        .steps
                        .extend(steps.iter().map(|step| (*org_id, step)));
                    sorted.logs.extend(logs.iter().map(|line| (*org_id, line)));
                }
                Write::Finish(end) => sorted.ends.push(&**end),
                Write::Claim(_) => sorted.claims = true,
            }
        }
        sorted
    }
}

/// Writes `writes` (`sorted`, [`Sorted::of`] them) through `statements`, at time `at`: the
/// answers, in the order of `writes`.
pub(super) async fn write_all<'a>(
    statements: &mut impl Statements,
    writes: &[&'a Write],
    sorted: Sorted<'a>,
    at: DateTime<Utc>,
) -> Result<Vec<Done>, StoreError> {
    let Sorted {
        queued,
        mut steps,
        mut logs,
        ends,
        ..
    } = sorted;
    statements.insert_executions(&queued).await?;
    let held = statements.end_held(&ends, at).await?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        let end = match write {
            Write::Finish(end) => end,
            Write::Claim(claim) => {
                answers.push(Done::Claimed(statements.claim(claim, at).await?));
                continue;
            }
            _ => {
                answers.push(Done::Written);
                continue;
            }
        };
        let ended = held.get(&end.id).copied();
        answers.push(Done::Ended(ended.is_some()));
        let Some(retry_for) = ended else { continue };
        if let Some(retry_at) = end.ending.retry_at {
            statements.queue_retry(end, retry_at).await?;
        } else if let Some(first) = retry_for {
            statements.close_chain(first).await?;
        }
        for state in &end.records.states {
            statements.write_state(end.org_id, state, at).await?;
        }
        steps.extend(end.records.steps.iter().map(|step| (end.org_id, step)));
        logs.extend(end.records.logs.iter().map(|line| (end.org_id, line)));
    }
    statements.insert_steps(&steps).await?;
    statements.insert_logs(&logs).await?;
    Ok(answers)
}
