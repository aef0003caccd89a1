//! Evaluating a step's inputs, and calling its action: the actions that act on the execution
//! itself (`log.write`, `state.*`, `flow.stop`, `flow.invoke`,
//! `branch.selectExecutedStepResult`) run here, `code.run` in `code.rs`, custom components'
//! actions in `custom.rs`; the others go to the components' runner.

use ferry_components::{Inputs, StepCall};
use ferry_core::execution::Severity;
use ferry_definition::model::Step;
use serde_json::{json, Map, Value};

use super::frame::Frame;
use super::state::Scope;
use super::walk::Run;
use super::{Host, Invocation};

/// Whether a step's action keeps to the execution itself, so the results of the steps before
/// it need not be durable before it runs: control steps, logs, state, `flow.stop`, the pure
/// built-ins (text, collection, format, datetime, hash), and code steps and custom actions,
/// whose `fetch` and `invokeFlow` ask the run to commit first. HTTP requests, sleeps,
/// `flow.invoke` and anything unknown reach outside (or take long) and commit first.
pub(super) fn keeps_inside(action: &str) -> bool {
    let (component, member) = action.split_once('.').unwrap_or((action, ""));
    match component {
        "branch" | "loop" | "log" | "state" | "code" => true,
        "text" | "collection" | "format" | "datetime" | "hash" => true,
        "flow" => member == "stop",
        _ => ferry_components::custom::custom_member(action).is_some(),
    }
}

/// The step's inputs with their expressions evaluated; an error names the input.
pub(super) fn evaluate_inputs<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
) -> Result<Map<String, Value>, String> {
    let context = run.context(frame);
    let mut inputs = Map::new();
    for (key, raw) in &step.inputs {
        // Kept as written: the candidates are evaluated one by one, and code is not a template.
        let lazy = (step.action == "branch.selectExecutedStepResult" && key == "stepResults")
            || (step.action == "code.run" && key == "code");
        let value = if lazy {
            raw.clone()
        } else {
            run.executor
                .evaluator
                .evaluate(raw, &context)
                .map_err(|e| format!("input `{key}`: {e}"))?
        };
        inputs.insert(key.clone(), value);
    }
    Ok(inputs)
}

/// Runs the step's action once.
pub(super) async fn call<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
    inputs: Map<String, Value>,
    key: &str,
) -> Result<Value, String> {
    if let Some((component, member)) = ferry_components::custom::custom_member(&step.action) {
        let call = super::custom::Member {
            component,
            member,
            step,
        };
        return super::custom::run(run, call, inputs, key).await;
    }
    let inputs = Inputs::from(inputs);
    let text = |e: ferry_components::ActionError| e.to_string();
    match step.action.as_str() {
        "log.write" => {
            let level = inputs
                .opt_text("level")
                .map_err(text)?
                .unwrap_or_else(|| "info".into());
            let severity = Severity::parse(&level).ok_or_else(|| {
                format!("input `level`: expected debug, info, warn or error, got {level:?}")
            })?;
            run.log(
                severity,
                inputs.text("message").map_err(text)?,
                Some(&step.name),
            );
            Ok(Value::Null)
        }
        "state.get" | "state.set" | "state.append" | "state.delete" => {
            state(run, &step.action, &inputs)
        }
        "flow.stop" => {
            let response = json!({
                "data": inputs.get("body").cloned().unwrap_or(Value::Null),
                "statusCode": inputs.opt_number("statusCode").map_err(text)?.unwrap_or(200.0) as u16,
                "headers": inputs.get("headers").cloned().unwrap_or(json!({})),
                "contentType": inputs.get("contentType").cloned().unwrap_or(Value::Null),
            });
            run.set_response(response.clone());
            Ok(response)
        }
        "flow.invoke" => {
            let invocation = Invocation {
                flow: inputs.text("flow").map_err(text)?,
                data: inputs.get("data").cloned().unwrap_or(Value::Null),
                synchronous: inputs.flag("synchronous", false).map_err(text)?,
                idempotency_key: run.idempotency_key(key),
            };
            run.host.invoke_flow(invocation).await
        }
        "branch.selectExecutedStepResult" => select(run, frame, &inputs),
        "code.run" => super::code::run(run, step, frame, &inputs, key).await,
        action => {
            let idempotency_key = run.idempotency_key(key);
            let call = StepCall {
                action,
                inputs,
                idempotency_key: &idempotency_key,
            };
            match run.executor.runner.run(&call).await {
                Some(result) => result.map_err(text),
                None => Err(format!("unknown action {action:?}")),
            }
        }
    }
}

fn state<H: Host>(run: &Run<'_, H>, action: &str, inputs: &Inputs) -> Result<Value, String> {
    let text = |e: ferry_components::ActionError| e.to_string();
    let scope = Scope::parse(&inputs.text("scope").map_err(text)?)
        .map_err(|e| format!("input `scope`: {e}"))?;
    let key = inputs.text("key").map_err(text)?;
    run.with_states(|states| match action {
        "state.get" => Ok(states.get(scope, &key)),
        "state.set" => {
            let value = inputs.required("value").map_err(text)?.clone();
            states.set(scope, &key, value.clone())?;
            Ok(value)
        }
        "state.append" => {
            let item = inputs.required("value").map_err(text)?.clone();
            let list = match states.get(scope, &key) {
                Value::Null => vec![item],
                Value::Array(mut items) => {
                    items.push(item);
                    items
                }
                _ => {
                    return Err(format!(
                        "{} state {key:?} holds something other than a list",
                        scope.as_str()
                    ))
                }
            };
            states.set(scope, &key, Value::Array(list.clone()))?;
            Ok(Value::Array(list))
        }
        _ => {
            states.set(scope, &key, Value::Null)?;
            Ok(Value::Null)
        }
    })
}

/// `branch.selectExecutedStepResult`: the first of the given step results that exists (the
/// steps of branches not taken have none).
fn select<H: Host>(run: &Run<'_, H>, frame: &Frame, inputs: &Inputs) -> Result<Value, String> {
    let candidates = match inputs.get("stepResults") {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => return Err("input `stepResults`: is required".into()),
    };
    let context = run.context(frame);
    candidates
        .iter()
        .filter_map(|candidate| run.executor.evaluator.evaluate(candidate, &context).ok())
        .find(|value| !value.is_null())
        .ok_or_else(|| "none of the given steps ran".to_string())
}
