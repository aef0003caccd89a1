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
//! What a commit writes, and in which order, is [`plan`], once for both databases, over the
//! [`plan::Statements`] each implements: [`postgres`] with one multi-row statement per kind of
//! row (each statement is a round trip over the network), [`sqlite`] with one prepared
//! statement run once per row, synchronously on the writer's thread (each statement through
//! sqlx would be a round trip to the connection's own thread). On PostgreSQL the common batch
//! (enqueues, checkpoints, and ends without retries or state) is instead one statement,
//! [`single`], which writes the same rows under the same conditions.
//!
//! Values large enough for the blob store ([`crate::blobs`]) are not grouped: their writers
//! commit them with their blobs directly. If a batch fails (a row that breaks a constraint,
//! say, because its instance was just deleted), each write is tried again alone, so one bad
//! write fails only its own caller.

mod checkpoint;
mod durable;
mod plan;
mod postgres;
mod single;
mod sql;
mod sqlite;

use ferry_core::execution::{Execution, LogLine, StepResult};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::backend::Backend;
use crate::runs::{claim_statements, Claim, ClaimedRow, EndRecords, Ending, Lease};
use crate::StoreError;
use plan::Commit;

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

struct Job {
    write: Write,
    answer: oneshot::Sender<Result<Done, StoreError>>,
}

/// A committed write (or one that failed) and its answer, for [`plan::Commit::answer`].
type Answered = (Job, Result<Done, StoreError>);

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
    /// On SQLite the writer gets a thread of its own, and runs each commit's statements on
    /// that thread ([`sqlite`]); on PostgreSQL it is a task of the node's runtime.
    pub(crate) fn start(backend: Backend) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let claims = claim_statements(&backend);
        match backend {
            Backend::Sqlite(pools) => {
                let commit = sqlite::SqliteCommit::open(pools.writer, &pools.path, claims)?;
                let writer = Writer(commit);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(sqlx::Error::Io)?;
                std::thread::Builder::new()
                    .name("ferry-store-writer".into())
                    .spawn(move || runtime.block_on(writer.run(queue)))
                    .map_err(sqlx::Error::Io)?;
            }
            Backend::Postgres(pool) => {
                let writer = Writer(postgres::PgCommit::new(&pool, claims));
                tokio::spawn(writer.run(queue));
            }
        }
        Ok(Batcher { jobs })
    }

    /// Commits `write` with whatever else is being written, answering once it is committed.
    pub(crate) async fn write(&self, write: Write) -> Result<Done, StoreError> {
        self.send(write)?.answer().await
    }

    /// Hands `write` to the writer now: it commits with whatever else is being written, and
    /// whatever is sent after it commits in the same transaction or a later one.
    pub(crate) fn send(&self, write: Write) -> Result<Sent, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job { write, answer })
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        Ok(Sent(answered))
    }
}

/// A write handed to the writer ([`Batcher::send`]).
pub(crate) struct Sent(oneshot::Receiver<Result<Done, StoreError>>);

impl Sent {
    /// The write's answer, once it is committed (or failed).
    pub(crate) async fn answer(self) -> Result<Done, StoreError> {
        self.0
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

/// The writer: takes whatever writes have arrived, commits them together, answers each.
struct Writer<C>(C);

impl<C: Commit> Writer<C> {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Job>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        loop {
            if queue.is_empty() {
                self.0.idle();
            }
            if queue.recv_many(&mut jobs, MAX_BATCH).await == 0 {
                return;
            }
            self.commit_all(std::mem::take(&mut jobs)).await;
        }
    }

    /// Commits `jobs` as one transaction; if that fails, each alone.
    async fn commit_all(&mut self, jobs: Vec<Job>) {
        let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
        let answered = match self.0.commit(&writes).await {
            Ok(answers) => jobs.into_iter().zip(answers.into_iter().map(Ok)).collect(),
            Err(err) if jobs.len() == 1 => {
                jobs.into_iter().zip(std::iter::once(Err(err))).collect()
            }
            Err(err) => {
                tracing::debug!(error = %err, writes = jobs.len(), "a grouped commit failed; committing its writes one by one");
                let mut answered = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let answer = self.0.commit(&[&job.write]).await.and_then(|done| {
                        done.into_iter().next().ok_or_else(|| {
                            StoreError::Corrupt("a grouped write gave no answer".into())
                        })
                    });
                    answered.push((job, answer));
                }
                answered
            }
        };
        self.0.answer(answered);
    }
}
