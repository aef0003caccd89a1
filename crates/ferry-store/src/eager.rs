//! Executions held at enqueue: a node whose worker has a free slot commits a new execution
//! already RUNNING under that worker's lease, in the same grouped commit ([`crate::batch`]) as
//! a queued one, and its worker runs it without claiming it. That saves, per execution, the
//! claim's statements and the commit they wait for, and reading the payload back.
//!
//! The held row is what a claim would have made of the queued one: status RUNNING, started,
//! first attempt, the worker's lease. Everything after treats it as any claimed execution: the
//! worker renews the lease while it runs and ends it under the lease; if the node dies, the
//! lease runs out and another worker takes it (or, on SQLite, the next start queues it again).
//!
//! Only executions a claim would take at once are held: none while concurrency limits apply
//! (only a claim counts what runs), none of a FIFO flow (it may have to wait for an earlier
//! one), none with a retry cancellation key (queuing one cancels older retries, which is not
//! grouped), none whose payload goes to the blob store. The caller has checked that the
//! instance is enabled, as a claim would; its worker checks again before running it.

use std::time::Duration;

use ferry_core::execution::{Execution, ExecutionStatus};

use crate::batch::Write;
use crate::runs::{lease_end, Lease};
use crate::{Claimed, NewExecution, Store, StoreError, Tenant};

/// What [`Store::enqueue_or_hold`] committed.
#[derive(Debug)]
pub enum Entry {
    /// The execution is queued, for any worker's claim.
    Queued(Execution),
    /// The execution is running, held by the worker that asked, which must run it or hand it
    /// back ([`Store::hand_back`]).
    Held(Claimed),
}

/// Who would hold an execution: a worker's name in leases, and how long its leases last.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    /// The worker's name in leases.
    pub owner: &'a str,
    /// How long a lease holds without renewal.
    pub lease: Duration,
}

impl Store {
    /// Commits `new`, held by `holder` when it may run at once (see the module), else queued as
    /// [`Store::enqueue_execution`] queues it. When this returns, the execution exists and
    /// will run.
    pub async fn enqueue_or_hold(
        &self,
        tenant: &Tenant,
        new: NewExecution,
        holder: Holder<'_>,
    ) -> Result<Entry, StoreError> {
        if !self.may_hold(&new) {
            return self.enqueue_execution(tenant, new).await.map(Entry::Queued);
        }
        let execution = new.held();
        let lease = Lease {
            owner: holder.owner.to_string(),
            until: lease_end(execution.queued_at, holder.lease),
        };
        let write = Write::Enqueue {
            org_id: tenant.org_id,
            execution: Box::new(execution),
            fifo: false,
            lease: Some(lease),
        };
        let execution = self.insert_grouped(write).await?;
        Ok(Entry::Held(Claimed {
            org_id: tenant.org_id,
            execution,
        }))
    }

    fn may_hold(&self, new: &NewExecution) -> bool {
        self.limits.is_unlimited()
            && !new.fifo
            && new.cancellation_key.is_none()
            && !crate::blobs::payload_oversized(&new.trigger_payload)
    }
}

impl NewExecution {
    /// The execution as it is committed when held: queued and started now, first attempt.
    fn held(self) -> Execution {
        let mut execution = self.queued();
        execution.status = ExecutionStatus::Running;
        execution.started_at = Some(execution.queued_at);
        execution.attempt = 1;
        execution
    }
}
