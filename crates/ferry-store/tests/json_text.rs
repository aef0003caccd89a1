//! JSON reads back as the text it was written in, on SQLite and PostgreSQL alike: object keys
//! in the order they came, duplicate keys and numbers as written. A trigger payload keeps its
//! very text (whitespace too), in its row or in the blob store, queued, claimed and retried;
//! a step result, its effects, an execution's result and flow state keep their keys' order,
//! whichever kind of grouped commit wrote them.

use std::time::Duration;

use chrono::Utc;
use ferry_core::execution::{StepEffects, StepResult};
use ferry_core::payload::Payload;
use ferry_store::testing::{fixture, make_retries_due, step_result, Fixture, TestStore};
use ferry_store::{EndRecords, Ending, StateWrite, BLOB_THRESHOLD};
use serde_json::{json, Map, Value};
use uuid::Uuid;

ferry_store::store_tests!(
    a_payload_reads_back_as_the_text_it_came_in,
    a_large_payload_reads_back_as_the_text_it_came_in,
    what_an_execution_makes_keeps_its_keys_in_order,
    state_set_outside_an_execution_keeps_its_keys_in_order,
);

const LEASE: Duration = Duration::from_secs(30);

/// A body `jsonb` would change: keys out of order, a duplicate key, a number in exponent
/// form, spacing of its own.
const SENT: &str = r#"{"sku":"A-1", "id":1,"id":3,"price":1.50e2,"lines":[{"zone":"b","at":2}]}"#;

/// Queues an execution of the payload `text`: its id.
async fn enqueue(t: &TestStore, f: &Fixture, text: &str) -> Uuid {
    let mut new = f.execution("f", Value::Null);
    new.trigger_payload = Payload::from_json(text).unwrap();
    t.store.enqueue_execution(&f.org, new).await.unwrap().id
}

/// Reads, claims, retries and claims again the execution of payload `text`, checking at each
/// step that the payload is `text` to the byte.
async fn assert_payload_kept(t: &TestStore, f: &Fixture, text: &str) {
    let id = enqueue(t, f, text).await;
    let read = t.store.execution(&f.org, id).await.unwrap();
    assert_eq!(read.trigger_payload.text(), text, "read back");

    let claimed = t.store.claim_executions("w", 1, LEASE).await.unwrap();
    assert_eq!(claimed[0].execution.trigger_payload.text(), text, "claimed");

    let ending = Ending::retry_pending("boom".into(), Utc::now());
    let records = EndRecords::default();
    let ended = t
        .store
        .finish_execution(f.org.org_id, id, "w", &ending, records);
    assert!(ended.await.unwrap());
    make_retries_due(&t.store).await;
    let retry = t.store.claim_executions("w", 1, LEASE).await.unwrap();
    assert_eq!(retry[0].execution.retry_for, Some(id));
    assert_eq!(retry[0].execution.trigger_payload.text(), text, "retried");
}

async fn a_payload_reads_back_as_the_text_it_came_in(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    assert_payload_kept(t, &f, SENT).await;
}

async fn a_large_payload_reads_back_as_the_text_it_came_in(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let filler = "x".repeat(BLOB_THRESHOLD);
    let large = format!(r#"{{"zone":"{filler}", "id":1,"id":2,"at":2E1}}"#);
    assert_payload_kept(t, &f, &large).await;
}

/// A value whose keys are out of order, as objects and nested.
fn unordered(n: i64) -> Value {
    json!({ "zone": n, "id": "x", "lines": [{ "sku": "A-1", "at": 1.5 }] })
}

fn step(execution_id: Uuid, key: &str, results: Value) -> StepResult {
    let effects = StepEffects {
        response: json!({ "statusCode": 201, "headers": { "x-zone": "b", "x-a": "c" } })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        state: [(
            "flow".to_owned(),
            Map::from_iter([("zone".into(), unordered(9))]),
        )]
        .into(),
    };
    StepResult {
        effects,
        ..step_result(execution_id, key, results)
    }
}

/// `value` as text: `serde_json` keeps object keys in order, while `Value`'s equality ignores
/// their order.
fn text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

/// Ends a claimed execution with a result, a step result (one of them large enough for the
/// blob store), and `states` (an end that writes state is committed by the other kind of
/// grouped commit); checks every value reads back in order.
async fn end_and_check(t: &TestStore, f: &Fixture, states: Vec<StateWrite>) {
    let id = enqueue(t, f, SENT).await;
    t.store.claim_executions("w", 1, LEASE).await.unwrap();
    let large = json!({ "zone": "x".repeat(BLOB_THRESHOLD), "id": 1 });
    // (Step results read back in the order of their ids: `small` was made first.)
    let (small, large) = (step(id, "small", unordered(1)), step(id, "large", large));
    t.store
        .record_step(f.org.org_id, &large, &[])
        .await
        .unwrap();
    let records = EndRecords {
        steps: vec![small.clone()],
        logs: vec![],
        states: states.clone(),
    };
    let ending = Ending::succeeded(Some(unordered(2)));
    let ended = t
        .store
        .finish_execution(f.org.org_id, id, "w", &ending, records);
    assert!(ended.await.unwrap());

    let read = t.store.execution(&f.org, id).await.unwrap();
    assert_eq!(text(&read.result), text(&unordered(2)), "the result");
    let steps = t.store.checkpoints(id).await.unwrap();
    let values = |steps: &[StepResult]| -> Vec<(String, String)> {
        let texts = |s: &StepResult| (text(&s.results), text(&s.effects));
        steps.iter().map(texts).collect()
    };
    assert_eq!(values(&steps), values(&[small, large]), "the step results");
    for state in states {
        let stored = t.store.state(f.org.org_id, state.scope, state.owner_id);
        assert_eq!(text(&stored.await.unwrap()), text(&Some(state.value)));
    }
}

async fn what_an_execution_makes_keeps_its_keys_in_order(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    end_and_check(t, &f, vec![]).await;
    let state = StateWrite {
        scope: "flow",
        owner_id: f.instance.flow_configs[0].id,
        value: unordered(3),
    };
    end_and_check(t, &f, vec![state]).await;
}

async fn state_set_outside_an_execution_keeps_its_keys_in_order(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let state = StateWrite {
        scope: "instance",
        owner_id: f.instance.id,
        value: unordered(4),
    };
    t.store.set_state(f.org.org_id, &state).await.unwrap();
    let stored = t.store.state(f.org.org_id, "instance", f.instance.id);
    assert_eq!(text(&stored.await.unwrap()), text(&Some(unordered(4))));
}
