//! In-process signals between the parts of one node: the ingress wakes idle workers when it
//! queues an execution, and a worker tells whoever waits (a synchronous webhook, a
//! synchronous `flow.invoke`) that an execution ended. Other nodes' work is seen by polling
//! the store; these signals only make the common, single-node case prompt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ferry_store::{Ending, Standing};
use tokio::sync::{oneshot, Notify};
use uuid::Uuid;

/// Wake-ups and completion notices, shared by a node's ingress and workers.
#[derive(Default)]
pub struct Signals {
    wake: Notify,
    /// How many times [`Signals::queued`] was called.
    queued: AtomicU64,
    waiters: Mutex<HashMap<Uuid, Vec<Watcher>>>,
    /// The key of the next watcher registered.
    next_watcher: AtomicU64,
}

/// One waiter's interest in an execution: its key (so that it stops watching alone, however
/// many others watch the same execution) and where to tell it that the execution ended, with
/// where it stands when the worker that ended it hands that over, `None` when the watcher
/// should read it.
struct Watcher {
    key: u64,
    sender: oneshot::Sender<Option<Standing>>,
}

/// A registered interest in an execution's end, dropped from [`Signals`] when it is dropped
/// (its waiter gave up, or its request went away).
struct Watch<'a> {
    signals: &'a Signals,
    id: Uuid,
    key: u64,
    notice: oneshot::Receiver<Option<Standing>>,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut waiters = self.signals.lock();
        if let Some(watchers) = waiters.get_mut(&self.id) {
            watchers.retain(|watcher| watcher.key != self.key);
            if watchers.is_empty() {
                waiters.remove(&self.id);
            }
        }
    }
}

impl Signals {
    /// Tells an idle worker that executions were queued.
    pub fn queued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// How many times [`Signals::queued`] was called: a worker compares it with the count
    /// when its last claim began, to tell whether anything was queued since.
    pub fn queued_count(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    /// Waits until [`Signals::queued`] is called (or was, since the last wait).
    pub async fn work_queued(&self) {
        self.wake.notified().await;
    }

    /// Registers interest in execution `id` ending; its receiver fires when it does.
    fn watch(&self, id: Uuid) -> Watch<'_> {
        let (sender, notice) = oneshot::channel();
        let key = self.next_watcher.fetch_add(1, Ordering::Relaxed);
        let watcher = Watcher { key, sender };
        self.lock().entry(id).or_default().push(watcher);
        Watch {
            signals: self,
            id,
            key,
            notice,
        }
    }

    /// Tells the watchers of `id` that it ended: `ending` when it is the end just committed,
    /// which they take as it is; `None` when they should read where it stands (it may not
    /// have ended: handed back, or its end not recorded).
    pub fn ended(&self, id: Uuid, ending: Option<&Ending>) {
        let watchers = self.lock().remove(&id).unwrap_or_default();
        if watchers.is_empty() {
            return;
        }
        let standing = ending.map(Standing::from);
        for watcher in watchers {
            let _ = watcher.sender.send(standing.clone());
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Watcher>>> {
        // No code panics while holding this lock; a poisoned map is still whole.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How often a waiter re-reads the store, for executions another node runs.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

impl Signals {
    /// Waits up to `timeout` for execution `id` to end; gives where it stands once it ended,
    /// or `None` when the time ran out. It reads the store once (the execution may have
    /// ended before the watch began), then only when told to or every [`POLL_INTERVAL`]: an
    /// end committed on this node is handed over with its notice.
    pub async fn wait_for_end(
        &self,
        store: &ferry_store::Store,
        tenant: &ferry_store::Tenant,
        id: Uuid,
        timeout: Duration,
    ) -> Result<Option<Standing>, ferry_store::StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut watch = self.watch(id);
        let mut handed = None;
        loop {
            let standing = match handed.take() {
                Some(standing) => standing,
                None => store.standing(tenant, id).await?,
            };
            if standing.status.is_final() {
                return Ok(Some(standing));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let pause = POLL_INTERVAL.min(deadline - now);
            // A notice ends this watch: unless it handed over an end, the wait goes on with a
            // new one. (Its receiver may not be polled again once it has answered.)
            if let Ok(notice) = tokio::time::timeout(pause, &mut watch.notice).await {
                handed = notice.ok().flatten();
                if !handed.as_ref().is_some_and(|s| s.status.is_final()) {
                    watch = self.watch(id);
                }
            }
        }
    }
}
