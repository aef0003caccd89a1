//! What the executions of one claim share: the executions a worker takes together often
//! belong to the same instance (a busy webhook), so each instance and its customer, and each
//! flow config's stored state, are read once per claim, by whichever of them needs it first,
//! not once per execution. They are read after the claim committed, as each execution alone
//! would read them: no execution sees a configuration or a state older than its claim. (The
//! executions of one claim start together, so none of them could have seen what another one
//! of the claim writes at its end anyway.)

use std::collections::HashMap;
use std::sync::Arc;

use ferry_core::entity::Customer;
use ferry_core::instance::Instance;
use ferry_store::{Claimed, Store, StoreError, Tenant};
use serde_json::Value;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// An instance with its customer.
pub(super) struct Owner {
    pub(super) instance: Instance,
    pub(super) customer: Customer,
}

/// The instances of one claim, each read at most once (a failed read is tried again by the
/// next execution that needs it).
#[derive(Default)]
pub(super) struct ClaimShared {
    owners: HashMap<Uuid, OnceCell<Arc<Owner>>>,
    /// By flow config: its flow, instance and integration states as stored.
    states: HashMap<Uuid, OnceCell<Arc<Vec<Option<Value>>>>>,
}

impl ClaimShared {
    /// Room for the instances of `claimed`.
    pub(super) fn of<'a>(claimed: impl Iterator<Item = &'a Claimed> + Clone) -> Self {
        let owners = claimed
            .clone()
            .map(|c| (c.execution.instance_id, OnceCell::new()))
            .collect();
        let states = claimed
            .map(|c| (c.execution.flow_config_id, OnceCell::new()))
            .collect();
        ClaimShared { owners, states }
    }

    /// The stored values of `scopes` (each a scope with the row it belongs to), which the
    /// executions of flow config `flow_config` (of the claim) read: read now unless another
    /// execution of the claim already did.
    pub(super) async fn states(
        &self,
        store: &Store,
        (org, flow_config): (Uuid, Uuid),
        scopes: &[(&str, Uuid)],
    ) -> Result<Arc<Vec<Option<Value>>>, StoreError> {
        let read = || async { store.states(org, scopes).await.map(Arc::new) };
        match self.states.get(&flow_config) {
            Some(cell) => cell.get_or_try_init(read).await.cloned(),
            None => read().await,
        }
    }

    /// Instance `id` (of the claim) with its customer, read now unless another execution of
    /// the claim already did.
    pub(super) async fn owner(
        &self,
        store: &Store,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Arc<Owner>, StoreError> {
        let read = || async {
            let instance = store.instance(tenant, id).await?;
            let customer = store.customer(tenant, instance.customer_id).await?;
            Ok::<_, StoreError>(Arc::new(Owner { instance, customer }))
        };
        match self.owners.get(&id) {
            Some(cell) => cell.get_or_try_init(read).await.cloned(),
            None => read().await,
        }
    }
}
