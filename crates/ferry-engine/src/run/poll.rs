//! Polling triggers (`DESIGN.md` 3.3: an action plus a cursor kept in flow state).
//!
//! A flow whose trigger is `polling` is scheduled by its `cron` like a schedule trigger, and
//! each tick queues an execution (exactly once across nodes). That execution polls before its
//! steps: it runs the trigger's `action` (a built-in action such as `http.request`) with the
//! trigger's `inputs`, evaluated with `polling.cursor` (the cursor the last successful poll
//! kept; `null` the first time) besides the usual context. The records are at `itemsField` in
//! the action's result (`data` by default) and must be a list. With `cursorField`, a record is
//! new when its value there is beyond the cursor (numbers by value, text in text order, as ISO
//! timestamps sort), and the largest value seen becomes the next cursor; the first poll only
//! records where the records stand (none is new, as the reference's first poll does). Without
//! `cursorField`, every polled record is new.
//!
//! The cursor lives in the flow's state under the key `polling` (`{ "cursor": … }`), so it is
//! written when the execution succeeds, like any state: a failed run polls the same records
//! again on the next tick. The trigger's result is the schedule payload with `body.data` the
//! new records, `polledNoChanges`, and `polling: { previousCursor, cursor, polled }`. When
//! nothing is new the execution ends right there, succeeded, with the result
//! `{ data: null, polledNoChanges: true }`.

use ferry_components::run::value_at;
use ferry_components::{Inputs, StepCall};
use ferry_definition::model::Trigger;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

use super::state::Scope;
use super::walk::Run;
use super::Host;

/// The flow-state key of a polling trigger's cursor.
pub const POLLING_STATE_KEY: &str = "polling";

/// The result of a poll that found nothing new.
pub(super) fn no_changes() -> Value {
    json!({ "data": null, "polledNoChanges": true })
}

/// Whether a polling trigger's result says it found nothing new.
pub(super) fn found_nothing(result: &Value) -> bool {
    result["polledNoChanges"] == json!(true)
}

/// Polls: runs the trigger's action and gives the trigger's result (the schedule `payload`
/// with what is new), keeping the next cursor in the run's flow state.
pub(super) async fn poll<H: Host>(
    run: &Run<'_, H>,
    trigger: &Trigger,
    payload: &Value,
    key: &str,
) -> Result<Value, String> {
    let previous = run.with_states(|s| s.get(Scope::Flow, POLLING_STATE_KEY))["cursor"].clone();
    let polled = call_action(run, trigger, &previous, key).await?;
    let field = trigger.items_field.as_deref().unwrap_or("data");
    let items = match value_at(&polled, field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(format!(
                "itemsField `{field}` of the polled result is not a list (it is {})",
                kind(other)
            ))
        }
    };
    let (new, cursor) = match trigger.cursor_field.as_deref() {
        Some(field) => beyond(&items, field, &previous),
        None => (items.clone(), previous.clone()),
    };
    remember(run, &cursor)?;
    Ok(result(payload, new, (&previous, &cursor), items.len()))
}

/// Keeps `cursor` in the run's flow state (restored from a committed trigger result too).
pub(super) fn remember<H: Host>(run: &Run<'_, H>, cursor: &Value) -> Result<(), String> {
    run.with_states(|s| s.set(Scope::Flow, POLLING_STATE_KEY, json!({ "cursor": cursor })))
}

async fn call_action<H: Host>(
    run: &Run<'_, H>,
    trigger: &Trigger,
    cursor: &Value,
    key: &str,
) -> Result<Value, String> {
    let action = trigger.action.as_deref().unwrap_or_default();
    // A polling trigger's inputs read the run's context, no steps, and `polling.cursor`.
    let mut context = run.base_context().clone();
    context.insert("steps".into(), Value::Object(Map::new()));
    context.insert("polling".into(), json!({ "cursor": cursor }));
    let mut inputs = Map::new();
    for (name, raw) in &trigger.inputs {
        let value = run
            .executor
            .evaluator
            .evaluate(raw, &context)
            .map_err(|e| format!("input `{name}`: {e}"))?;
        inputs.insert(name.clone(), value);
    }
    let idempotency_key = run.idempotency_key(key);
    let call = StepCall {
        action,
        inputs: Inputs::from(inputs),
        idempotency_key: &idempotency_key,
    };
    let (deadline, limit) = run.deadline();
    let ran = tokio::time::timeout_at(deadline, run.executor.runner.run(&call)).await;
    match ran {
        Err(_) => Err(format!(
            "the execution ran past its time limit of {} s",
            limit.as_secs()
        )),
        Ok(None) => Err(format!("{action:?} cannot poll")),
        Ok(Some(done)) => done.map_err(|e| e.to_string()),
    }
}

/// The records whose `field` is beyond `cursor`, and the next cursor (the largest value
/// seen). With no cursor yet, nothing is new.
fn beyond(items: &[Value], field: &str, cursor: &Value) -> (Vec<Value>, Value) {
    let mut next = cursor.clone();
    let mut new = Vec::new();
    for item in items {
        let Some(value) = value_at(item, field).filter(|v| !v.is_null()) else {
            continue;
        };
        if !cursor.is_null() && compare(value, cursor) == Ordering::Greater {
            new.push(item.clone());
        }
        if next.is_null() || compare(value, &next) == Ordering::Greater {
            next = value.clone();
        }
    }
    (new, next)
}

/// Numbers by value; anything else by its text (ISO timestamps and zero-padded ids sort).
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => text(a).cmp(&text(b)),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::String(_) => "text",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "null",
    }
}

fn result(payload: &Value, new: Vec<Value>, cursors: (&Value, &Value), polled: usize) -> Value {
    let mut result = payload.as_object().cloned().unwrap_or_default();
    result.insert("polledNoChanges".into(), json!(new.is_empty()));
    result.insert(
        "polling".into(),
        json!({ "previousCursor": cursors.0, "cursor": cursors.1, "polled": polled }),
    );
    result.insert("body".into(), json!({ "data": new }));
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_beyond_the_cursor_are_new_and_the_largest_is_the_next_cursor() {
        let items = [json!({ "id": 3 }), json!({ "id": 7 }), json!({ "id": 5 })];
        let (new, next) = beyond(&items, "id", &json!(4));
        assert_eq!(new, vec![json!({ "id": 7 }), json!({ "id": 5 })]);
        assert_eq!(next, json!(7));
    }

    #[test]
    fn the_first_poll_only_records_the_cursor() {
        let items = [
            json!({ "at": "2025-01-02T00:00:00Z" }),
            json!({ "at": "2025-01-01T00:00:00Z" }),
        ];
        let (new, next) = beyond(&items, "at", &Value::Null);
        assert!(new.is_empty());
        assert_eq!(next, json!("2025-01-02T00:00:00Z"));
    }

    #[test]
    fn an_empty_poll_keeps_the_cursor_and_text_compares_in_order() {
        assert_eq!(beyond(&[], "id", &json!("b")), (vec![], json!("b")));
        let (new, _) = beyond(
            &[json!({ "id": "a" }), json!({ "id": "c" })],
            "id",
            &json!("b"),
        );
        assert_eq!(new, vec![json!({ "id": "c" })]);
    }
}
