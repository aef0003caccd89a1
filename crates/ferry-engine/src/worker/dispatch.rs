//! Eager dispatch: a node that queues an execution while its worker has a free slot commits it
//! already held by that worker ([`Store::enqueue_or_hold`]) and hands it over in memory, so it
//! starts without a claim: no claim statements, no second commit to wait for, no payload read
//! back from the database.
//!
//! The slot is reserved before the commit, so a held execution never waits for one. Nothing
//! is held while the queue may have older work (the queue keeps its arrival order): after a
//! claim that filled every slot it had, or once anything was queued ([`Signals::queued`])
//! since the worker's last claim that found the queue drained. New executions then queue
//! behind the old ones, and freed slots go to claims until a claim comes back short.
//!
//! The handover cannot lose an execution: one whose worker stopped before taking it is handed
//! back to the queue ([`Store::hand_back`]); if even that fails, its lease runs out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_store::{Claimed, Entry, Holder, NewExecution, Store, StoreError, Tenant};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::signals::Signals;

/// Commits new executions, handing them to this node's worker when it can start them now, and
/// otherwise queuing them (and waking idle workers). Clones share everything.
#[derive(Clone)]
pub struct Dispatch {
    store: Store,
    signals: Arc<Signals>,
    /// This node's worker, if it runs one.
    local: Option<Arc<Slots>>,
}

impl Dispatch {
    /// A dispatch that only queues: for a node that runs no worker.
    pub fn queue_only(store: Store, signals: Arc<Signals>) -> Self {
        Dispatch {
            store,
            signals,
            local: None,
        }
    }

    pub(super) fn local(store: Store, signals: Arc<Signals>, slots: Arc<Slots>) -> Self {
        Dispatch {
            store,
            signals,
            local: Some(slots),
        }
    }

    /// Commits `new`; when this returns, the execution exists and will run. Gives its id.
    pub async fn enqueue(&self, tenant: &Tenant, new: NewExecution) -> Result<Uuid, StoreError> {
        let reserved = self.local.as_ref().and_then(|slots| {
            let slot = slots.reserve(&self.signals)?;
            Some((slots, slot))
        });
        let Some((slots, slot)) = reserved else {
            let execution = self.store.enqueue_execution(tenant, new).await?;
            self.signals.queued();
            return Ok(execution.id);
        };
        let holder = Holder {
            owner: &slots.owner,
            lease: slots.lease,
        };
        match self.store.enqueue_or_hold(tenant, new, holder).await? {
            Entry::Queued(execution) => {
                self.signals.queued();
                Ok(execution.id)
            }
            Entry::Held(claimed) => {
                let id = claimed.execution.id;
                self.hand_over(slots, Handed { claimed, slot }).await;
                Ok(id)
            }
        }
    }

    /// Gives a held execution to the worker, or back to the queue if the worker stopped.
    async fn hand_over(&self, slots: &Slots, handed: Handed) {
        let Err(mpsc::error::SendError(handed)) = slots.handover.send(handed) else {
            return;
        };
        let id = handed.claimed.execution.id;
        match self.store.hand_back(id, &slots.owner).await {
            Ok(true) => {
                tracing::info!(execution = %id, "the worker stopped before taking an execution; it is queued again");
                self.signals.queued();
            }
            Ok(false) => {
                tracing::info!(execution = %id, "the worker stopped before taking an execution, which is no longer its own (cancelled, or taken over)")
            }
            Err(err) => {
                tracing::warn!(execution = %id, error = %err, "could not queue again an execution the stopped worker did not take; it runs when its lease runs out")
            }
        }
    }
}

/// An execution held for the worker, with the slot reserved for it.
pub(super) struct Handed {
    pub(super) claimed: Claimed,
    pub(super) slot: Slot,
}

/// One of a worker's slots, taken by an execution; dropping it frees the slot and wakes the
/// worker to claim for it ([`Slots::freed`]).
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    freed: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The permit goes back first: the claim the wake-up starts must find the slot free.
        drop(self.permit.take());
        self.freed.notify_one();
    }
}

/// A worker's slots (one per execution it may run at once), shared by its claims and by
/// eager dispatch, and the channel held executions come in by.
pub(super) struct Slots {
    owner: String,
    lease: Duration,
    permits: Arc<Semaphore>,
    /// Woken as a slot is freed.
    freed: Arc<Notify>,
    /// [`Signals::queued_count`] when the last claim that found the queue drained began, or
    /// [`NOT_DRAINED`].
    drained_at: AtomicU64,
    handover: mpsc::UnboundedSender<Handed>,
    taken: Mutex<Option<mpsc::UnboundedReceiver<Handed>>>,
}

/// No claim has found the queue drained since the last one that filled its slots.
const NOT_DRAINED: u64 = u64::MAX;

impl Slots {
    /// `concurrency` slots for the worker `owner`, whose leases last `lease`.
    pub(super) fn new(owner: &str, lease: Duration, concurrency: usize) -> Self {
        let (handover, taken) = mpsc::unbounded_channel();
        Slots {
            owner: owner.to_string(),
            lease,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            freed: Arc::default(),
            drained_at: AtomicU64::new(NOT_DRAINED),
            handover,
            taken: Mutex::new(Some(taken)),
        }
    }

    /// The receiving end of the handover, for the worker's run (once).
    pub(super) fn take_handover(&self) -> Option<mpsc::UnboundedReceiver<Handed>> {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Every slot free now, for a claim.
    pub(super) fn free(&self) -> Vec<Slot> {
        std::iter::from_fn(|| self.take()).collect()
    }

    /// Resolves once a slot was freed since the last time it resolved (at once if one was).
    pub(super) async fn freed(&self) {
        self.freed.notified().await
    }

    fn take(&self) -> Option<Slot> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Slot {
            permit: Some(permit),
            freed: self.freed.clone(),
        })
    }

    /// Notes how a claim that began when [`Signals::queued_count`] was `began` went: it
    /// filled every slot it had (`full`: more may be queued), or found the queue drained.
    pub(super) fn claimed(&self, full: bool, began: u64) {
        let drained_at = if full { NOT_DRAINED } else { began };
        self.drained_at.store(drained_at, Ordering::Release);
    }

    /// A slot for an execution to hold, if one is free and nothing may be queued.
    fn reserve(&self, signals: &Signals) -> Option<Slot> {
        if self.drained_at.load(Ordering::Acquire) != signals.queued_count() {
            return None;
        }
        self.take()
    }

    /// No more slots for claims or eager dispatch: the worker is stopping.
    pub(super) fn close(&self) {
        self.permits.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(concurrency: usize) -> Slots {
        Slots::new("node", Duration::from_secs(30), concurrency)
    }

    #[test]
    fn nothing_is_held_before_a_claim_found_the_queue_drained() {
        let slots = slots(2);
        assert!(slots.reserve(&Signals::default()).is_none());
    }

    #[test]
    fn a_drained_queue_lets_executions_take_free_slots_until_none_is_left() {
        let (slots, signals) = (slots(2), Signals::default());
        slots.claimed(false, signals.queued_count());
        let first = slots.reserve(&signals);
        let second = slots.reserve(&signals);
        assert!(first.is_some() && second.is_some());
        assert!(slots.reserve(&signals).is_none(), "no slot left");
        drop(first);
        assert!(slots.reserve(&signals).is_some(), "a freed slot");
    }

    #[test]
    fn anything_queued_since_the_drained_claim_began_stops_holding() {
        let (slots, signals) = (slots(2), Signals::default());
        let began = signals.queued_count();
        signals.queued();
        slots.claimed(false, began);
        assert!(slots.reserve(&signals).is_none());
        slots.claimed(false, signals.queued_count());
        assert!(slots.reserve(&signals).is_some());
    }

    #[test]
    fn a_claim_that_filled_its_slots_stops_holding() {
        let (slots, signals) = (slots(2), Signals::default());
        slots.claimed(true, signals.queued_count());
        assert!(slots.reserve(&signals).is_none());
    }

    #[test]
    fn a_claim_takes_every_free_slot_and_a_closed_worker_none() {
        let (slots, signals) = (slots(3), Signals::default());
        slots.claimed(false, signals.queued_count());
        let held = slots.reserve(&signals);
        assert_eq!(slots.free().len(), 2);
        drop(held);
        slots.close();
        assert!(slots.free().is_empty());
        assert!(slots.reserve(&signals).is_none());
    }

    #[tokio::test]
    async fn a_freed_slot_wakes_the_worker_even_if_it_was_not_waiting_yet() {
        let slots = slots(1);
        let taken = slots.free();
        assert_eq!(taken.len(), 1);
        drop(taken);
        tokio::time::timeout(Duration::from_secs(5), slots.freed())
            .await
            .expect("the freed slot's wake-up is kept for the worker");
        assert_eq!(slots.free().len(), 1, "and the slot is free for its claim");
    }
}
