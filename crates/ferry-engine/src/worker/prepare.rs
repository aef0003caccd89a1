//! Turning a claimed execution row into a [`Job`]: its instance, customer and published
//! definition, the flow it runs, typed config values, stored state and, when a worker was
//! lost before, the results it committed.

use std::collections::HashMap;

use ferry_core::execution::Execution;
use ferry_core::id::{self, Kind};
use ferry_core::instance::Instance;
use ferry_definition::model::{Flow, Step, TriggerType};
use ferry_definition::values::{flow_identity, typed_value, var_identity};
use ferry_definition::Definition;
use ferry_store::{Claimed, StoreError, Tenant};
use serde_json::{json, Map, Value};

use super::shared::ClaimShared;
use super::Worker;
use crate::run::{Checkpoint, Job, Scope, States};

/// Why a claimed execution cannot run.
#[derive(Debug)]
pub(super) enum Unrunnable {
    /// The store failed; the execution is left for a later claim.
    Store(StoreError),
    /// Something about the execution itself; it fails with this message.
    Invalid(String),
}

impl From<StoreError> for Unrunnable {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind } => {
                Unrunnable::Invalid(format!("its {kind} no longer exists"))
            }
            other => Unrunnable::Store(other),
        }
    }
}

/// What a job runs against besides the job itself (for `flow.invoke`).
pub(super) struct Prepared {
    pub(super) job: Job,
    pub(super) instance: Instance,
    pub(super) definition: std::sync::Arc<Definition>,
}

impl Worker {
    /// Loads what execution `claimed` needs to run (its instance and customer through what
    /// its claim shares). The job takes the trigger payload out of `claimed`, which keeps
    /// the rest for how the execution ends.
    pub(super) async fn prepare(
        &self,
        claimed: &mut Claimed,
        shared: &ClaimShared,
    ) -> Result<Prepared, Unrunnable> {
        let trigger = std::mem::take(&mut claimed.execution.trigger_payload);
        let claimed = &*claimed;
        let execution = &claimed.execution;
        let tenant = Tenant::organization(claimed.org_id);
        let owner = shared
            .owner(&self.store, &tenant, execution.instance_id)
            .await?;
        let (instance, customer) = (owner.instance.clone(), &owner.customer);
        let definition = match self.definitions.cached(instance.version_id) {
            Some(found) => found,
            None => {
                let version = self
                    .store
                    .instance_version(&tenant, instance.version_id)
                    .await?;
                self.definitions.of(&version).map_err(|e| {
                    Unrunnable::Invalid(format!("its integration version does not parse: {e}"))
                })?
            }
        };
        let flow = definition
            .flows
            .iter()
            .find(|f| flow_identity(f) == execution.flow_key)
            .ok_or_else(|| {
                Unrunnable::Invalid(format!(
                    "its flow {:?} is not in the instance's version",
                    execution.flow_key
                ))
            })?;
        let mut context = Map::new();
        context.insert("configVars".into(), config_vars(&definition, &instance));
        context.insert(
            "customer".into(),
            json!({ "id": id::encode(Kind::Customer, customer.id), "name": customer.name, "externalId": customer.external_id }),
        );
        context.insert(
            "instance".into(),
            json!({ "id": id::encode(Kind::Instance, instance.id), "name": instance.name }),
        );
        context.insert(
            "flow".into(),
            json!({ "id": id::encode(Kind::InstanceFlowConfig, execution.flow_config_id), "name": flow.name, "stableKey": flow.stable_key }),
        );
        context.insert("integration".into(), json!({ "id": id::encode(Kind::Integration, instance.integration_id), "name": definition.name }));
        context.insert("execution".into(), execution_context(execution));
        let job = Job {
            execution_id: execution.id,
            flow: flow.clone(),
            trigger,
            context,
            states: self.states(claimed, shared, &instance, flow).await?,
            checkpoints: self.checkpoints(execution).await?,
            components: self
                .bundles
                .load(&self.store, &tenant, &definition.component_versions)
                .await?,
            limits: self.options.limits,
        };
        Ok(Prepared {
            job,
            instance,
            definition,
        })
    }

    async fn states(
        &self,
        claimed: &Claimed,
        shared: &ClaimShared,
        instance: &Instance,
        flow: &Flow,
    ) -> Result<States, StoreError> {
        // A polling trigger keeps its cursor in flow state.
        if flow.trigger.kind != TriggerType::Polling && !uses_state(&flow.steps) {
            return Ok(States::default());
        }
        let org = claimed.org_id;
        let owners = [
            claimed.execution.flow_config_id,
            instance.id,
            instance.integration_id,
        ];
        let wanted: Vec<(&str, uuid::Uuid)> = Scope::PERSISTED
            .iter()
            .map(|scope| scope.as_str())
            .zip(owners)
            .collect();
        let flow_config = claimed.execution.flow_config_id;
        let stored = shared
            .states(&self.store, (org, flow_config), &wanted)
            .await?;
        let mut loaded = stored.iter().cloned();
        Ok(States::loaded(
            loaded.next().flatten(),
            loaded.next().flatten(),
            loaded.next().flatten(),
        ))
    }

    async fn checkpoints(
        &self,
        execution: &Execution,
    ) -> Result<HashMap<String, Checkpoint>, StoreError> {
        if execution.attempt <= 1 {
            return Ok(HashMap::new());
        }
        Ok(Checkpoint::of(self.store.checkpoints(execution.id).await?))
    }
}

/// `configVars`: every variable by key, its value typed, else its default.
pub fn config_vars(definition: &Definition, instance: &Instance) -> Value {
    let values: HashMap<&str, &str> = instance
        .config_values
        .iter()
        .map(|v| (v.key.as_str(), v.value.as_str()))
        .collect();
    let vars = definition
        .required_config_vars
        .iter()
        .map(|var| {
            (
                var.key.clone(),
                typed_value(var, values.get(var_identity(var)).copied()),
            )
        })
        .collect();
    Value::Object(vars)
}

fn execution_context(execution: &Execution) -> Value {
    json!({
        "id": id::encode(Kind::InstanceExecutionResult, execution.id),
        "startedAt": execution.started_at,
        "attempt": execution.attempt,
    })
}

/// Whether any step (nested ones too) reads or writes state (code steps and custom actions may
/// do both).
fn uses_state(steps: &[Step]) -> bool {
    steps.iter().any(|step| {
        step.action.starts_with("state.")
            || step.action == "code.run"
            || ferry_components::custom::custom_member(&step.action).is_some()
            || uses_state(&step.steps)
            || step.branches.iter().any(|b| uses_state(&b.steps))
    })
}
