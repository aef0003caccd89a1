//! Steps that call a custom component's action (`<component>.<action>`): the action's
//! `perform` runs in a `ferry-js` sandbox from the bundle of the version the definition pins,
//! with the step's evaluated inputs (cleaned by the SDK) and the same `context`, logs,
//! `invokeFlow`, state and response fields as a code step.

use ferry_definition::model::Step;
use ferry_js::{ComponentCall, Operation};
use serde_json::{Map, Value};

use super::code::{apply, context, StepHost};
use super::walk::Run;
use super::Host;

/// The custom action a step calls.
pub(super) struct Member<'s> {
    /// The component's key.
    pub(super) component: &'s str,
    /// The action's key.
    pub(super) member: &'s str,
    /// The step.
    pub(super) step: &'s Step,
}

/// Runs the action with `inputs` (the step at `key`): its `data`.
pub(super) async fn run<H: Host>(
    run: &Run<'_, H>,
    call: Member<'_>,
    inputs: Map<String, Value>,
    key: &str,
) -> Result<Value, String> {
    let Member {
        component,
        member,
        step,
    } = call;
    let bundle = run.bundle(component).ok_or_else(|| {
        format!(
            "custom component {component:?} is not pinned in the integration's componentVersions"
        )
    })?;
    let (deadline, time_limit) = run.deadline();
    let call = ComponentCall {
        bundle: bundle.to_string(),
        operation: Operation::Action {
            key: member.to_string(),
            params: Value::Object(inputs),
        },
        context: context(run, key),
        deadline: deadline.into_std(),
        time_limit,
    };
    let host = StepHost::new(run, &step.name, key);
    let output = run
        .executor
        .js
        .run_component(call, &host)
        .await
        .map_err(|e| format!("{component}.{member}: {e}"))?;
    apply(run, key, output)
}
