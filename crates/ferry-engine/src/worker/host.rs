//! The executor's [`Host`] for a worker: step results and logs go to the store, `flow.invoke`
//! queues an execution of another flow of the same instance (and waits for it when asked),
//! and cancellation is what the lease heartbeat saw.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::{Execution, ExecutionStatus, LogLine, StepResult};
use ferry_core::id::{self, Kind};
use ferry_core::instance::Instance;
use ferry_core::json::object;
use ferry_definition::values::flow_identity;
use ferry_definition::Definition;
use ferry_store::{NewExecution, Tenant};
use serde_json::{json, Value};
use uuid::Uuid;

use super::Worker;
use crate::run::{Host, Invocation};

/// How long a synchronous `flow.invoke` waits for the invoked flow.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The host of one execution run by a worker.
pub(super) struct StoreHost<'a> {
    pub(super) worker: &'a Worker,
    pub(super) org_id: Uuid,
    pub(super) execution: &'a Execution,
    pub(super) instance: &'a Instance,
    pub(super) definition: &'a Definition,
    pub(super) cancelled: Arc<AtomicBool>,
}

impl Host for StoreHost<'_> {
    async fn checkpoint(&self, steps: Vec<StepResult>, logs: Vec<LogLine>) -> Result<(), String> {
        if self.instance.disable_logs_and_step_results {
            return Ok(());
        }
        self.worker
            .store
            .record_steps(self.org_id, &steps, &logs)
            .await
            .map_err(|e| e.to_string())
    }

    async fn invoke_flow(&self, invocation: Invocation) -> Result<Value, String> {
        let flow = self
            .definition
            .flows
            .iter()
            .find(|f| f.name == invocation.flow)
            .ok_or_else(|| format!("the integration has no flow {:?}", invocation.flow))?;
        let key = flow_identity(flow);
        let config = self
            .instance
            .flow_configs
            .iter()
            .find(|c| c.flow_key == key)
            .ok_or_else(|| format!("the instance has no flow config for {:?}", flow.name))?;
        let tenant = Tenant::organization(self.org_id);
        let new = NewExecution {
            instance_id: self.instance.id,
            customer_id: self.instance.customer_id,
            flow_config_id: config.id,
            flow_key: key.to_string(),
            is_synchronous: invocation.synchronous,
            trigger_payload: object([
                ("body", object([("data", invocation.data)])),
                (
                    "invokedBy",
                    json!({
                        "executionId": id::encode(Kind::InstanceExecutionResult, self.execution.id),
                        "idempotencyKey": invocation.idempotency_key,
                    }),
                ),
            ])
            .into(),
            invoked_by: Some(self.execution.id),
            replay_for: None,
            cancellation_key: None,
            fifo: false,
        };
        let store = &self.worker.store;
        let queued = self
            .worker
            .dispatch()
            .enqueue(&tenant, new)
            .await
            .map_err(|e| e.to_string())?;
        let execution_id = id::encode(Kind::InstanceExecutionResult, queued);
        if !invocation.synchronous {
            return Ok(json!({ "executionId": execution_id }));
        }
        let ended = self
            .worker
            .signals
            .wait_for_end(store, &tenant, queued, INVOKE_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        match ended {
            Some(done) if done.status == ExecutionStatus::Succeeded => Ok(done
                .result
                .and_then(|r| r.get("data").cloned())
                .unwrap_or(Value::Null)),
            Some(done) => Err(format!(
                "flow {:?} ended {}: {}",
                flow.name,
                done.status.as_str(),
                done.error.unwrap_or_default()
            )),
            None => Err(format!(
                "flow {:?} did not end within {} s (execution {execution_id})",
                flow.name,
                INVOKE_TIMEOUT.as_secs()
            )),
        }
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}
