//! The worker: takes executions from the store's queue, runs them, and writes how they ended.
//!
//! A worker claims as many queued executions as it has free slots (`concurrency`), each under
//! a lease it renews while the execution runs; a heartbeat that finds the execution cancelled
//! stops it before its next step. Step results are committed in groups as the executor goes
//! (its [`Host`](crate::run::Host) is the store); the end — status, final result, the last
//! step results and log lines, changed state — is one transaction, and the claim for the slot
//! it frees is sent behind it, to commit in the same group. When it has nothing to do, a
//! worker waits for a [`Signals::queued`] wake-up or its poll interval, whichever comes first.
//! Executions this node queues while the worker has a free slot skip the queue: see
//! [`dispatch`].

mod dispatch;
mod host;
mod prepare;
mod shared;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::{Execution, ExecutionStatus, LogLine, Severity};
use ferry_definition::model::RetryConfig;
use ferry_store::{Claimed, EndRecords, Ending, LeaseState, StateWrite, Store};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::definitions::Definitions;
use crate::run::{Ended, Executor, JsOptions, Limits, Outcome, Scope};
use crate::signals::Signals;
pub use dispatch::Dispatch;
use dispatch::{Handed, Slot, Slots};
pub use host::INVOKE_TIMEOUT;
pub use prepare::config_vars;
use prepare::{Prepared, Unrunnable};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This node's name in leases.
    pub node_id: String,
    /// How many executions run at once.
    pub concurrency: usize,
    /// How long a claim holds without renewal (renewed every third of it).
    pub lease: Duration,
    /// How often an idle worker looks at the queue without being woken.
    pub poll_interval: Duration,
    /// What an execution may use.
    pub limits: Limits,
    /// How long a stopping worker lets running executions finish.
    pub grace: Duration,
}

impl WorkerOptions {
    /// Defaults: 32 executions at once, 30 s leases, 1 s polling, 15 min and 100 MiB step
    /// results per execution, 30 s grace.
    pub fn new(node_id: impl Into<String>) -> Self {
        WorkerOptions {
            node_id: node_id.into(),
            concurrency: 32,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            limits: Limits::default(),
            grace: Duration::from_secs(30),
        }
    }
}

/// What a worker reports as executions end (metrics, for instance).
pub trait Observer: Send + Sync {
    /// An execution ended with `status` after running for `took` (since its first start).
    fn execution_ended(&self, status: ExecutionStatus, took: Duration);
}

/// A worker; clones share everything.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    definitions: Arc<Definitions>,
    signals: Arc<Signals>,
    executor: Arc<Executor>,
    options: Arc<WorkerOptions>,
    observer: Option<Arc<dyn Observer>>,
    bundles: Arc<crate::bundles::Bundles>,
    slots: Arc<Slots>,
}

impl Worker {
    /// A worker on `store`, sharing the node's parsed definitions and signals, whose `code.run`
    /// steps run in sandboxes with the default limits ([`Worker::with_js`] sets others).
    pub fn new(
        store: Store,
        definitions: Arc<Definitions>,
        signals: Arc<Signals>,
        options: WorkerOptions,
    ) -> Self {
        let slots = Slots::new(&options.node_id, options.lease, options.concurrency);
        Worker {
            store,
            definitions,
            signals,
            executor: Arc::new(Executor::new()),
            options: Arc::new(options),
            observer: None,
            bundles: Arc::default(),
            slots: Arc::new(slots),
        }
    }

    /// What this node queues executions through, so that it hands those this worker can
    /// start at once straight to it.
    pub fn dispatch(&self) -> Dispatch {
        Dispatch::local(self.store.clone(), self.signals.clone(), self.slots.clone())
    }

    /// Runs `code.run` steps in sandboxes that follow `js` (memory limit, how many compute at
    /// once, `fetch` limits).
    pub fn with_js(mut self, js: JsOptions) -> Self {
        self.executor = Arc::new(Executor::with_js(js));
        self
    }

    /// Reports ended executions to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs executions until `stop` turns true, then lets running ones finish (up to the grace
    /// period; those still running after it are picked up again when their lease runs out).
    ///
    /// Claims when a slot is free and the queue may hold work: at start, on a
    /// [`Signals::queued`] wake-up, every poll interval, and while claims keep filling every
    /// slot they have. Executions handed over by [`Dispatch`] start as they come.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let Some(mut handover) = self.slots.take_handover() else {
            tracing::error!("a worker runs only once");
            return;
        };
        self.recover().await;
        let listening = tokio::spawn(self.clone().listen());
        let mut running = JoinSet::new();
        let mut poll = tokio::time::interval(self.options.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wanted = true;
        while !*stop.borrow() {
            while running.try_join_next().is_some() {}
            if wanted {
                wanted = self.claim_into(&mut running).await;
            }
            tokio::select! {
                Some(first) = handover.recv() => {
                    // One commit answers many enqueues at once; letting their tasks hand
                    // over before taking the batch lets the batch read each instance once
                    // (at 8 clients, 15–25 % more executions/s than without the yield).
                    tokio::task::yield_now().await;
                    self.start_handed(first, &mut handover, &mut running)
                }
                _ = self.slots.freed(), if wanted => {}
                _ = self.signals.work_queued() => wanted = true,
                _ = poll.tick() => wanted = true,
                _ = stop.changed() => {}
            }
        }
        listening.abort();
        self.slots.close();
        handover.close();
        while let Some(first) = handover.recv().await {
            self.start_handed(first, &mut handover, &mut running);
        }
        self.finish(running).await;
    }

    /// Lets `running` finish within the grace period, then hands back what is left.
    async fn finish(&self, mut running: JoinSet<()>) {
        let finishing = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(self.options.grace, finishing)
            .await
            .is_ok()
        {
            return;
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        match self.store.release_leases(&self.options.node_id).await {
            Ok(count) => tracing::warn!(
                count,
                "executions still running after the grace period were handed back to the queue"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "could not hand back leases; they run out on their own")
            }
        }
    }

    /// Claims queued executions for the free slots and starts them. Says whether to claim
    /// again as soon as a slot frees: no slot was free, or the claim filled them all.
    async fn claim_into(&self, running: &mut JoinSet<()>) -> bool {
        let slots = self.slots.free();
        if slots.is_empty() {
            return true;
        }
        let began = self.signals.queued_count();
        let options = &self.options;
        let claimed = match self
            .store
            .claim_executions(&options.node_id, slots.len() as i64, options.lease)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "could not claim executions; retrying");
                return false;
            }
        };
        let full = claimed.len() == slots.len();
        self.slots.claimed(full, began);
        let shared = Arc::new(shared::ClaimShared::of(claimed.iter()));
        for (claimed, slot) in claimed.into_iter().zip(slots) {
            let taken = Taken {
                claimed,
                shared: shared.clone(),
                slot,
            };
            running.spawn(self.clone().execute(taken));
        }
        full
    }

    /// Starts `first` and whatever else was handed over meanwhile, as one claim would: they
    /// read each instance once.
    fn start_handed(
        &self,
        first: Handed,
        handover: &mut mpsc::UnboundedReceiver<Handed>,
        running: &mut JoinSet<()>,
    ) {
        let mut handed = vec![first];
        while let Ok(more) = handover.try_recv() {
            handed.push(more);
        }
        let shared = Arc::new(shared::ClaimShared::of(handed.iter().map(|h| &h.claimed)));
        for Handed { claimed, slot } in handed {
            let taken = Taken {
                claimed,
                shared: shared.clone(),
                slot,
            };
            running.spawn(self.clone().execute(taken));
        }
    }

    /// Wakes this worker whenever any node queues executions (PostgreSQL's notifications; on
    /// SQLite there is nothing to listen to: the node's own signals wake it). A lost
    /// connection is retried every few seconds; polling covers the gap.
    async fn listen(self) {
        loop {
            match self.store.listen_queued().await {
                Ok(None) => return,
                Ok(Some(mut listener)) => {
                    while let Ok(()) = listener.next().await {
                        self.signals.queued();
                    }
                    // The connection broke and could not be made again at once.
                    self.signals.queued();
                }
                Err(err) => {
                    tracing::debug!(error = %err, "cannot listen for queued executions; polling meanwhile")
                }
            }
            tokio::time::sleep(LISTEN_RETRY).await;
        }
    }

    /// On SQLite, which one process uses, executions left running by a killed previous life
    /// are queued again at once; on PostgreSQL, other nodes may hold them, so their leases
    /// decide.
    async fn recover(&self) {
        if self.store.kind() != "sqlite" {
            return;
        }
        match self.store.recover_running().await {
            Ok(0) => {}
            Ok(count) => tracing::warn!(
                count,
                "resuming executions a previous run of this server left unfinished"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "could not recover unfinished executions; their leases decide")
            }
        }
    }

    /// Runs one claimed execution to its end.
    async fn execute(self, taken: Taken) {
        let Taken {
            mut claimed,
            shared,
            slot,
        } = taken;
        let id = claimed.execution.id;
        let committed = match self.run_to_end(&mut claimed, &shared).await {
            Some(end) => self.settle(&claimed, end, slot).await,
            None => None,
        };
        // Its watchers take the end committed here, or else read where it stands.
        self.signals.ended(id, committed.as_ref());
    }

    /// Prepares and runs a claimed execution: the end to commit, if it has one (a paused
    /// instance's execution is handed back, a cancelled one released, an interrupted one
    /// left to its lease).
    async fn run_to_end(&self, claimed: &mut Claimed, shared: &shared::ClaimShared) -> Option<End> {
        let id = claimed.execution.id;
        let prepared = match claimed.execution.attempt {
            taken if taken > MAX_TAKES => Err(Unrunnable::Invalid(format!(
                "it was taken by a worker {taken} times without ending (each lost its lease); giving up"
            ))),
            _ => self.prepare(claimed, shared).await,
        };
        match prepared {
            Ok(prepared) if !prepared.instance.enabled => {
                self.hand_back(id).await;
                None
            }
            Ok(prepared) => self.run_prepared(claimed, prepared).await,
            Err(Unrunnable::Invalid(why)) => {
                let line = LogLine::new(
                    id,
                    Severity::Error,
                    &format!("Execution cannot run: {why}"),
                    None,
                );
                Some(End {
                    ending: Ending::failed(format!("cannot run: {why}")),
                    records: EndRecords {
                        logs: vec![line],
                        ..EndRecords::default()
                    },
                })
            }
            Err(Unrunnable::Store(err)) => {
                tracing::warn!(execution = %id, error = %err, "could not load the execution; it runs again when its lease ends");
                None
            }
        }
    }

    /// Queues again an execution whose instance was paused since it was claimed (or held):
    /// it waits in the queue, as a paused instance's executions do.
    async fn hand_back(&self, id: Uuid) {
        match self.store.hand_back(id, &self.options.node_id).await {
            Ok(true) => {
                tracing::info!(execution = %id, "its instance is paused; the execution waits in the queue")
            }
            Ok(false) => {
                tracing::info!(execution = %id, "its instance is paused, and the execution is no longer this worker's (cancelled, or taken over)")
            }
            Err(err) => {
                tracing::warn!(execution = %id, error = %err, "could not queue again an execution of a paused instance; it runs when its lease runs out")
            }
        }
    }

    /// Runs a prepared execution: the end to commit, if it has one.
    async fn run_prepared(&self, claimed: &Claimed, prepared: Prepared) -> Option<End> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(
            self.clone()
                .heartbeat(claimed.execution.id, cancelled.clone()),
        );
        let host = host::StoreHost {
            worker: self,
            org_id: claimed.org_id,
            execution: &claimed.execution,
            instance: &prepared.instance,
            definition: &prepared.definition,
            cancelled,
        };
        let retry = prepared.job.flow.retry_config.clone();
        let outcome = self.executor.run(prepared.job, &host).await;
        heartbeat.abort();
        self.conclude(claimed, (&prepared.instance, retry.as_ref()), outcome)
            .await
    }

    /// Renews the lease until aborted; flags a cancellation or a lost lease.
    async fn heartbeat(self, id: Uuid, cancelled: Arc<AtomicBool>) {
        let every = self.options.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self
                .store
                .renew_lease(id, &self.options.node_id, self.options.lease)
                .await
            {
                Ok(LeaseState::Held) => {}
                Ok(LeaseState::Cancelled | LeaseState::Lost) => {
                    cancelled.store(true, Ordering::Relaxed);
                    return;
                }
                Err(err) => {
                    tracing::warn!(execution = %id, error = %err, "could not renew a lease")
                }
            }
        }
    }

    /// How the execution ended: the end to commit, if it has one (a cancelled execution is
    /// released here; an interrupted one is left to its lease).
    async fn conclude(
        &self,
        claimed: &Claimed,
        (instance, retry): (&ferry_core::instance::Instance, Option<&RetryConfig>),
        outcome: Outcome,
    ) -> Option<End> {
        let id = claimed.execution.id;
        let (steps, logs) = match instance.disable_logs_and_step_results {
            true => (Vec::new(), Vec::new()),
            false => (outcome.steps, outcome.logs),
        };
        let ending = match outcome.ended {
            Ended::Succeeded => Ending::succeeded(outcome.result),
            Ended::Failed(error) => match retry_at(&claimed.execution, retry) {
                Some(at) => {
                    tracing::info!(execution = %id, retry_at = %at, "execution failed; a retry is queued");
                    Ending::retry_pending(error, at)
                }
                None => Ending::failed(error),
            },
            Ended::Cancelled => {
                let store = &self.store;
                let owner = &self.options.node_id;
                let released = match store.record_steps(claimed.org_id, &steps, &[]).await {
                    Ok(()) => {
                        store
                            .release_cancelled(claimed.org_id, id, owner, &logs)
                            .await
                    }
                    Err(err) => Err(err),
                };
                if let Err(err) = released {
                    tracing::warn!(execution = %id, error = %err, "could not release a cancelled execution");
                }
                return None;
            }
            Ended::Interrupted(why) => {
                tracing::warn!(execution = %id, reason = %why, "execution interrupted; it resumes when its lease ends");
                return None;
            }
        };
        let states = match ending.status {
            ExecutionStatus::Succeeded => state_writes(claimed, instance, &outcome.states),
            _ => Vec::new(),
        };
        let records = EndRecords {
            steps,
            logs,
            states,
        };
        Some(End { ending, records })
    }

    /// Commits `end`: its ending, if the worker still held the execution and the commit went
    /// through.
    ///
    /// The execution's slot is freed once the end is handed to the store, before it commits:
    /// the claim for the slot's next execution then commits with this end, instead of
    /// waiting for a commit of its own after it. (For that moment the worker holds one more
    /// execution than it has slots, the one ending; concurrency limits still count it.)
    async fn settle(&self, claimed: &Claimed, end: End, slot: Slot) -> Option<Ending> {
        let End { ending, records } = end;
        let id = claimed.execution.id;
        let owner = &self.options.node_id;
        let sent = self
            .store
            .send_end(claimed.org_id, id, owner, &ending, records)
            .await;
        drop(slot);
        let committed = match sent {
            Ok(sent) => sent.committed().await,
            Err(err) => Err(err),
        };
        match committed {
            Ok(true) => {
                tracing::debug!(execution = %id, status = ending.status.as_str(), "execution ended");
                if let Some(observer) = &self.observer {
                    let started = claimed
                        .execution
                        .started_at
                        .unwrap_or(claimed.execution.queued_at);
                    let took = (chrono::Utc::now() - started).to_std().unwrap_or_default();
                    observer.execution_ended(ending.status, took);
                }
                Some(ending)
            }
            Ok(false) => {
                tracing::info!(execution = %id, "execution was cancelled or taken over before it ended here");
                None
            }
            Err(err) => {
                tracing::warn!(execution = %id, error = %err, "could not record the end of an execution; it runs again when its lease ends");
                None
            }
        }
    }
}

/// A claimed execution on its way to a task: what it shares with the rest of its claim, and
/// the slot it holds while it runs.
struct Taken {
    claimed: Claimed,
    shared: Arc<shared::ClaimShared>,
    slot: Slot,
}

/// How an execution ended, as it is committed.
struct End {
    ending: Ending,
    records: EndRecords,
}

/// How long a worker waits before listening again after its listener failed.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

/// When an automatic retry of `execution`, which just failed, may start: `None` when the flow
/// does not retry, the retries are used up, or a caller waits for the result (synchronous
/// executions are not retried). The wait doubles per attempt with exponential backoff, up to
/// 24 hours.
fn retry_at(
    execution: &Execution,
    retry: Option<&RetryConfig>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let retry = retry?;
    let next = u32::try_from(execution.retry_attempt).ok()? + 1;
    if execution.is_synchronous || next > retry.max_attempts.min(MAX_FLOW_RETRIES) {
        return None;
    }
    let factor = if retry.uses_exponential_backoff {
        2u64.saturating_pow(next - 1)
    } else {
        1
    };
    let minutes = u64::from(retry.delay_minutes)
        .saturating_mul(factor)
        .min(24 * 60);
    let wait = chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(24 * 60));
    Some(chrono::Utc::now() + wait)
}

/// How many times an execution may be taken by a worker (the first run, then once per lost
/// lease) before it is failed instead of run again: an execution that crashes its worker
/// every time must not loop forever.
pub const MAX_TAKES: i32 = 5;

/// The most automatic retries of one execution.
pub const MAX_FLOW_RETRIES: u32 = 10;

/// The changed persisted state scopes, with the rows they belong to.
fn state_writes(
    claimed: &Claimed,
    instance: &ferry_core::instance::Instance,
    states: &crate::run::States,
) -> Vec<StateWrite> {
    states
        .changed()
        .into_iter()
        .map(|(scope, value)| StateWrite {
            scope: scope.as_str(),
            owner_id: match scope {
                Scope::Flow | Scope::Execution => claimed.execution.flow_config_id,
                Scope::Instance => instance.id,
                Scope::Integration => instance.integration_id,
            },
            value,
        })
        .collect()
}
