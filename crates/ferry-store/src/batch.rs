//! Group commit: the hot path's writes — queued executions, claims, step checkpoints and the
//! ends of executions — from every task of this node go through one writer task, which commits
//! whatever has arrived while the previous commit was on its way to disk as **one**
//! transaction (one `fsync` on SQLite), then answers each caller.
//!
//! Nothing is acknowledged early: a caller's future resolves only after the transaction that
//! holds its write committed, so a webhook is still answered only once its execution row is
//! on disk, and a step's result is still committed before the executor goes on. Batching adds
//! no waiting either: a write that arrives at an idle writer is committed at once; only writes
//! that arrive during a commit wait for the next one (they would have waited for the single
//! SQLite writer anyway).
//!
//! Values large enough for the blob store ([`crate::blobs`]) are not grouped: their writers
//! commit them with their blobs directly. Rows of one kind are written with one multi-row
//! `INSERT` per batch. If a batch fails (a
//! row that breaks a constraint, say, because its instance was just deleted), each write is
//! tried again alone, so one bad write fails only its own caller.

use std::collections::HashMap;

use ferry_core::execution::{Execution, LogLine, StepResult};
use sqlx::types::Json;
use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::backend::{write, Backend};
use crate::executions::{insert_executions, ROWS_PER_INSERT};
use crate::runs::{claim_statements, take_claims, Claim, ClaimedRow, EndRecords, Ending, Lease};
use crate::{new_id, now, StoreError};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 512;

/// One write to group.
#[derive(Debug)]
pub(crate) enum Write {
    /// Queue an execution, or hold it for its worker (without a cancellation key: those cancel
    /// older retries too).
    Enqueue {
        org_id: Uuid,
        execution: Box<Execution>,
        fifo: bool,
        /// For an execution held at enqueue ([`crate::eager`]): its worker's lease.
        lease: Option<Lease>,
    },
    /// Steps' results with the log lines written before them.
    Checkpoint {
        org_id: Uuid,
        steps: Vec<StepResult>,
        logs: Vec<LogLine>,
    },
    /// The end of an execution the writer's worker holds.
    Finish(Box<Finish>),
    /// A worker's claim of queued executions.
    Claim(Claim),
}

/// What a write gave, once committed.
pub(crate) enum Done {
    /// A checkpoint.
    Written,
    /// An enqueue: the execution queued, handed back (not copied for the writer).
    Enqueued(Box<Execution>),
    /// An end: whether the worker still held the execution (else nothing was written).
    Ended(bool),
    /// A claim: the rows taken.
    Claimed(Vec<ClaimedRow>),
}

/// An execution's end: see [`crate::Store::finish_execution`].
#[derive(Debug)]
pub(crate) struct Finish {
    pub(crate) org_id: Uuid,
    pub(crate) id: Uuid,
    pub(crate) owner: String,
    pub(crate) ending: Ending,
    pub(crate) records: EndRecords,
}

/// Ends the executions of `$ends` (a `Vec<&Finish>`) whose workers still hold them, with
/// one `UPDATE … FROM (VALUES …)` per chunk of rows instead of one statement per end (each
/// statement is a round trip to SQLite's connection thread while the single writer waits).
/// Gives each ended execution's id with its chain's first attempt (`retry_for`).
macro_rules! end_held {
    ($conn:expr, $ends:expr, $at:expr) => {{
        let mut held: HashMap<Uuid, Option<Uuid>> = HashMap::new();
        for rows in $ends.chunks(ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::new(
                "UPDATE executions SET status = e.column2, error = e.column3, result = e.column4, ended_at = ",
            );
            sql.push_bind($at);
            sql.push(", lease_owner = NULL, lease_until = NULL FROM (");
            sql.push_values(rows, |mut row, end: &&Finish| {
                row.push_bind(end.id).push_bind(end.ending.status.as_str()).push_bind(&end.ending.error)
                    .push_bind(end.ending.result.as_ref().map(Json)).push_bind(&end.owner);
            });
            // Unqualified in RETURNING: SQLite allows only the updated table's columns there.
            sql.push(
                ") AS e WHERE executions.id = e.column1 AND executions.lease_owner = e.column5 \
                 AND executions.status = 'RUNNING' RETURNING id, retry_for",
            );
            let ended: Vec<(Uuid, Option<Uuid>)> = sql.build_query_as().fetch_all($conn).await?;
            held.extend(ended);
        }
        held
    }};
}

struct Job {
    write: Write,
    answer: oneshot::Sender<Result<Done, StoreError>>,
}

impl Job {
    /// Answers the caller; an enqueue gets its execution back.
    fn answer(self, done: Result<Done, StoreError>) {
        let done = match (self.write, done) {
            (Write::Enqueue { execution, .. }, Ok(Done::Written)) => Ok(Done::Enqueued(execution)),
            (_, done) => done,
        };
        let _ = self.answer.send(done);
    }
}

/// The handle callers send writes through; the writer task ends when every handle is gone.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the writer task on `backend`.
    ///
    /// On SQLite the writer gets a thread of its own. Each statement is a round trip to the
    /// connection's thread, and an answer from a thread outside the node's runtime queues the
    /// waiting task behind everything else that runtime has to do: under load, most of a
    /// commit was spent waiting there rather than in SQLite.
    pub(crate) fn start(backend: Backend) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let claims = claim_statements(&backend);
        let sqlite = matches!(backend, Backend::Sqlite(_));
        let writer = Writer { backend, claims };
        if sqlite {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(sqlx::Error::Io)?;
            std::thread::Builder::new()
                .name("ferry-store-writer".into())
                .spawn(move || runtime.block_on(writer.run(queue)))
                .map_err(sqlx::Error::Io)?;
        } else {
            tokio::spawn(writer.run(queue));
        }
        Ok(Batcher { jobs })
    }

    /// Commits `write` with whatever else is being written, answering once it is committed.
    pub(crate) async fn write(&self, write: Write) -> Result<Done, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job { write, answer })
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answered
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

struct Writer {
    backend: Backend,
    /// The claim's statements, built once.
    claims: [String; 2],
}

impl Writer {
    async fn run(self, mut queue: mpsc::UnboundedReceiver<Job>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            self.commit_all(std::mem::take(&mut jobs)).await;
        }
    }

    /// Commits `jobs` as one transaction; if that fails, each alone.
    async fn commit_all(&self, jobs: Vec<Job>) {
        let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
        match self.commit(&writes).await {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    job.answer(Ok(answer));
                }
            }
            Err(err) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    job.answer(Err(err));
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, writes = jobs.len(), "a grouped commit failed; committing its writes one by one");
                for job in jobs {
                    let answer = self.commit(&[&job.write]).await.and_then(|done| {
                        done.into_iter().next().ok_or_else(|| {
                            StoreError::Corrupt("a grouped write gave no answer".into())
                        })
                    });
                    job.answer(answer);
                }
            }
        }
    }

    /// Runs `writes` in one transaction: queued executions, then the ends (one conditional
    /// `UPDATE` for all of them), each end's follow-ups and the claims, then every step result
    /// and log line, one `INSERT` each (an end's step results, log lines and state only if the
    /// update found its execution held).
    async fn commit(&self, writes: &[&Write]) -> Result<Vec<Done>, StoreError> {
        let at = now();
        let mut queued = Vec::new();
        let mut steps = Vec::new();
        let mut logs: Vec<(Uuid, &LogLine)> = Vec::new();
        let mut ends: Vec<&Finish> = Vec::new();
        for write in writes {
            match write {
                Write::Enqueue {
                    org_id,
                    execution,
                    fifo,
                    lease,
                } => queued.push((*org_id, &**execution, *fifo, lease.as_ref())),
                Write::Checkpoint {
                    org_id,
                    steps: done,
                    logs: lines,
                } => {
                    steps.extend(done.iter().map(|step| (*org_id, step)));
                    logs.extend(lines.iter().map(|line| (*org_id, line)));
                }
                Write::Finish(end) => ends.push(end),
                Write::Claim(_) => {}
            }
        }
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_executions!(&mut *tx, queued);
            let held = end_held!(&mut *tx, ends, at);
            let mut answers = Vec::with_capacity(writes.len());
            for write in writes {
                let end = match write {
                    Write::Finish(end) => end,
                    Write::Claim(claim) => {
                        answers.push(Done::Claimed(take_claims!(tx, &self.claims, claim, at)));
                        continue;
                    }
                    _ => {
                        answers.push(Done::Written);
                        continue;
                    }
                };
                // Nothing else of an end is written unless its update found the execution held.
                let ended = held.get(&end.id).copied();
                answers.push(Done::Ended(ended.is_some()));
                let Some(retry_for) = ended else { continue };
                if let Some(retry_at) = end.ending.retry_at {
                    // The retry: the same request, queued to start later, linked to the first
                    // execution of the chain, keeping its place in the queue (FIFO flows run it
                    // before anything that arrived after the first attempt).
                    let retry = new_id();
                    sqlx::query(
                        "INSERT INTO executions (org_id, id, instance_id, customer_id, flow_config_id, flow_key, status, is_synchronous, \
                         queued_at, retry_for, retry_attempt, not_before, cancellation_key, fifo, payload_blob) \
                         SELECT org_id, $1, instance_id, customer_id, flow_config_id, flow_key, 'QUEUED', FALSE, \
                         queued_at, COALESCE(retry_for, id), retry_attempt + 1, $2, cancellation_key, fifo, payload_blob \
                         FROM executions WHERE id = $3",
                    )
                    .bind(retry).bind(retry_at).bind(end.id)
                    .execute(&mut *tx).await?;
                    sqlx::query(
                        "INSERT INTO execution_payloads (execution_id, data) SELECT $1, data FROM execution_payloads WHERE execution_id = $2",
                    )
                    .bind(retry).bind(end.id)
                    .execute(&mut *tx).await?;
                } else if let Some(first) = retry_for {
                    // The end of a retry chain: earlier attempts waited for this one.
                    sqlx::query(
                        "UPDATE executions SET status = 'FAILED' WHERE status = 'FAILED_RETRY_PENDING' AND (id = $1 OR retry_for = $1)",
                    )
                    .bind(first)
                    .execute(&mut *tx).await?;
                }
                let records = &end.records;
                for state in &records.states {
                    sqlx::query(
                        "INSERT INTO flow_state (org_id, scope, owner_id, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (scope, owner_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(end.org_id).bind(state.scope).bind(state.owner_id).bind(Json(&state.value)).bind(at)
                    .execute(&mut *tx).await?;
                }
                steps.extend(records.steps.iter().map(|step| (end.org_id, step)));
                logs.extend(records.logs.iter().map(|line| (end.org_id, line)));
            }
            for rows in steps.chunks(ROWS_PER_INSERT) {
                let mut sql = QueryBuilder::new(
                    "INSERT INTO step_results (org_id, id, execution_id, step_key, step_name, loop_path, results, results_from_trigger, error, effects, started_at, ended_at) ",
                );
                sql.push_values(rows, |mut row, (org_id, step)| {
                    // A trigger's payload is read from its execution (`records::STEP_COLUMNS`).
                    let results = step.results.as_ref().filter(|_| !step.from_trigger);
                    row.push_bind(*org_id).push_bind(step.id).push_bind(step.execution_id).push_bind(&step.step_key)
                        .push_bind(&step.step_name).push_bind(&step.loop_path).push_bind(results.map(Json)).push_bind(step.from_trigger)
                        .push_bind(&step.error).push_bind((!step.effects.is_empty()).then_some(Json(&step.effects)))
                        .push_bind(step.started_at).push_bind(step.ended_at);
                });
                // A result already recorded under the same key (a step run again after a lost
                // worker) is kept.
                sql.push(" ON CONFLICT (execution_id, step_key) DO NOTHING");
                sql.build().execute(&mut *tx).await?;
            }
            for rows in logs.chunks(ROWS_PER_INSERT) {
                let mut sql = QueryBuilder::new(
                    "INSERT INTO execution_logs (org_id, id, execution_id, severity, message, step_name, at) ",
                );
                sql.push_values(rows, |mut row, (org_id, line)| {
                    row.push_bind(*org_id).push_bind(line.id).push_bind(line.execution_id).push_bind(line.severity.as_str())
                        .push_bind(&line.message).push_bind(&line.step_name).push_bind(line.at);
                });
                sql.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(answers)
        })
    }
}
