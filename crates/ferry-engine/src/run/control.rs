//! Control steps: `branch.onValue` and `branch.onExpression` run the one branch they choose;
//! `loop.overItems` and `loop.nTimes` run their steps per item, one at a time or up to
//! `concurrency` at once, and give the list of each iteration's last step result.

use std::sync::atomic::{AtomicBool, Ordering};

use ferry_core::execution::{now_micros, Severity};
use ferry_core::json::object;
use ferry_definition::model::{Branch, Step};
use ferry_definition::reference_name;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

use super::frame::Frame;
use super::walk::{Control, Halt, Run};
use super::Host;
use crate::condition;

/// The most iterations `loop.nTimes` runs.
pub const MAX_ITERATIONS: u64 = 1_000_000;
/// The most iterations a loop runs at once.
pub const MAX_CONCURRENCY: u64 = 64;

/// Runs a branch step: chooses a branch, commits its name as the step's result, runs it.
pub(super) async fn branch<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &mut Frame,
) -> Result<Control, Halt> {
    let reference = reference_name(&step.name);
    let key = frame.key(&reference);
    let started = now_micros();
    let chosen = match choose(run, step, frame) {
        Ok(chosen) => chosen,
        Err(error) => return fail(run, step, frame, &key, error),
    };
    let taken = chosen.map_or(Value::Null, |b| Value::String(b.name.clone()));
    let said = chosen.map_or("no branch".to_string(), |b| format!("branch {:?}", b.name));
    run.log(
        Severity::Info,
        format!("Step {:?} took {said}", step.name),
        Some(&step.name),
    );
    run.commit(&step.name, &key, frame, started, Ok(&taken))?;
    run.set_last(&taken);
    frame.set_results(&reference, taken);
    match chosen {
        Some(branch) => run.run_steps(&branch.steps, frame).await,
        None => Ok(Control::Next),
    }
}

fn fail<H: Host, T>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
    key: &str,
    error: String,
) -> Result<T, Halt> {
    run.log(
        Severity::Error,
        format!("Step {:?} failed: {error}", step.name),
        Some(&step.name),
    );
    run.commit(&step.name, key, frame, now_micros(), Err(&error))?;
    Err(Halt::Failed(format!(
        "step {:?} failed: {error}",
        step.name
    )))
}

/// The branch to take: the first whose value or condition matches, else the one with neither.
fn choose<'s, H: Host>(
    run: &Run<'_, H>,
    step: &'s Step,
    frame: &Frame,
) -> Result<Option<&'s Branch>, String> {
    let context = run.context(frame);
    let evaluate = |value: &Value| {
        run.executor
            .evaluator
            .evaluate(value, &context)
            .map_err(|e| e.to_string())
    };
    let input = match step.action.as_str() {
        "branch.onValue" => Some(evaluate(step.inputs.get("value").unwrap_or(&Value::Null))?),
        _ => None,
    };
    for branch in &step.branches {
        let holds = match (&input, &branch.value, &branch.condition) {
            (Some(input), Some(value), _) => {
                let value = evaluate(value)?;
                condition::compare("equals", input, &value).map_err(|e| e.to_string())?
            }
            (None, _, Some(cond)) => {
                let cond = evaluate(cond).map_err(|e| format!("branch {:?}: {e}", branch.name))?;
                condition::evaluate(&cond).map_err(|e| format!("branch {:?}: {e}", branch.name))?
            }
            _ => false,
        };
        if holds {
            return Ok(Some(branch));
        }
    }
    Ok(step
        .branches
        .iter()
        .find(|b| b.value.is_none() && b.condition.is_none()))
}

/// Runs a loop step and commits the list of its iterations' results.
pub(super) async fn repeat<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &mut Frame,
) -> Result<Control, Halt> {
    let reference = reference_name(&step.name);
    let key = frame.key(&reference);
    let started = now_micros();
    let (items, concurrency) = match plan(run, step, frame) {
        Ok(plan) => plan,
        Err(error) => return fail(run, step, frame, &key, error),
    };
    run.log(
        Severity::Info,
        format!("Step {:?} loops over {} items", step.name, items.len()),
        Some(&step.name),
    );
    let results = if concurrency <= 1 {
        sequential(run, step, frame, items).await?
    } else {
        concurrent(run, step, frame, items, concurrency).await?
    };
    let results = Value::Array(results);
    run.commit(&step.name, &key, frame, started, Ok(&results))?;
    run.set_last(&results);
    frame.set_results(&reference, results);
    Ok(Control::Next)
}

/// The items to loop over and how many run at once.
fn plan<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
) -> Result<(Vec<Value>, usize), String> {
    let context = run.context(frame);
    let input = |key: &str| -> Result<Value, String> {
        let raw = step.inputs.get(key).unwrap_or(&Value::Null);
        run.executor
            .evaluator
            .evaluate(raw, &context)
            .map_err(|e| format!("input `{key}`: {e}"))
    };
    let whole = |key: &str, value: &Value, max: u64| -> Result<u64, String> {
        let n = value
            .as_u64()
            .or_else(|| value.as_str()?.trim().parse().ok());
        n.filter(|n| *n <= max).ok_or_else(|| {
            format!("input `{key}`: expected a whole number from 0 to {max}, got {value}")
        })
    };
    if step.action == "loop.nTimes" {
        let n = whole("iterations", &input("iterations")?, MAX_ITERATIONS)?;
        return Ok(((0..n).map(|i| json!(i)).collect(), 1));
    }
    let items = match input("items")? {
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "input `items`: expected a list, got {}",
                kind(&other)
            ))
        }
    };
    let concurrency = match step.inputs.get("concurrency") {
        None => 1,
        Some(_) => whole("concurrency", &input("concurrency")?, MAX_CONCURRENCY)?.max(1),
    };
    Ok((items, concurrency as usize))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Makes the current item visible as `steps.<loop>.currentItem` and `.index`.
fn enter(frame: &mut Frame, reference: &str, index: usize, item: Value) {
    let entry = object([("currentItem", item), ("index", Value::from(index))]);
    frame.set_entry(reference, entry);
    frame.path.push(index);
}

/// The result of the loop body's last step in this iteration (null when it did not run).
fn last_result(step: &Step, frame: &Frame) -> Value {
    step.steps
        .last()
        .and_then(|last| frame.entry(&reference_name(&last.name)))
        .and_then(|entry| entry.get("results"))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn sequential<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
    items: Vec<Value>,
) -> Result<Vec<Value>, Halt> {
    let reference = reference_name(&step.name);
    let mut inner = frame.clone();
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        enter(&mut inner, &reference, index, item);
        let control = run.run_steps(&step.steps, &mut inner).await?;
        inner.path.pop();
        results.push(last_result(step, &inner));
        if let Control::Break = control {
            break;
        }
    }
    Ok(results)
}

async fn concurrent<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
    items: Vec<Value>,
    concurrency: usize,
) -> Result<Vec<Value>, Halt> {
    let reference = reference_name(&step.name);
    let broken = AtomicBool::new(false);
    let iterations = items.into_iter().enumerate().map(|(index, item)| {
        let mut inner = frame.clone();
        let (reference, broken) = (&reference, &broken);
        async move {
            if broken.load(Ordering::Relaxed) {
                return Ok(None);
            }
            enter(&mut inner, reference, index, item);
            if let Control::Break = run.run_steps(&step.steps, &mut inner).await? {
                broken.store(true, Ordering::Relaxed);
            }
            Ok::<_, Halt>(Some(last_result(step, &inner)))
        }
    });
    let results: Vec<Option<Value>> = futures::stream::iter(iterations)
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(results.into_iter().flatten().collect())
}
