//! The blob store, on SQLite and PostgreSQL alike: a large trigger payload or step result is
//! kept out of its row, read back as it was, carried to retries, and pruned with its result;
//! a trigger's result, which is its execution's payload, is not stored a second time.

use std::time::Duration;

use chrono::Utc;
use ferry_core::execution::StepResult;
use ferry_store::testing::{self, fixture, make_retries_due, stored_sizes, TestStore};
use ferry_store::{EndRecords, Ending, PageRequest, PruneScope, BLOB_THRESHOLD};
use serde_json::{json, Value};
use uuid::{NoContext, Timestamp, Uuid};

ferry_store::store_tests!(
    a_large_payload_round_trips_from_the_blob_store,
    a_large_step_result_round_trips_and_is_pruned_with_its_result,
    a_trigger_result_is_read_from_its_execution,
);

const LEASE: Duration = Duration::from_secs(30);

/// About a megabyte of JSON.
fn megabyte() -> Value {
    let rows: Vec<Value> = (0..10_000)
        .map(|n| json!({ "n": n, "text": "x".repeat(90) }))
        .collect();
    json!({ "body": { "data": rows } })
}

/// Queues an execution of `payload`: its id.
async fn enqueue(t: &TestStore, f: &ferry_store::testing::Fixture, payload: Value) -> Uuid {
    let new = f.execution("f", payload);
    t.store.enqueue_execution(&f.org, new).await.unwrap().id
}

/// Step result `key` of execution `execution_id`, with id `id`.
fn step_result(execution_id: Uuid, id: Uuid, key: &str, results: Value) -> StepResult {
    StepResult {
        id,
        ..testing::step_result(execution_id, key, results)
    }
}

async fn a_large_payload_round_trips_from_the_blob_store(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let payload = megabyte();
    assert!(payload.to_string().len() > 1_000_000);
    let id = enqueue(t, &f, payload.clone()).await;
    let small = enqueue(t, &f, json!({ "n": 1 })).await;

    let (row, _, blobs) = stored_sizes(&t.store, id).await;
    assert!(row < 16, "the row keeps no payload ({row} bytes)");
    assert_eq!(blobs, 1);
    assert_eq!(
        stored_sizes(&t.store, small).await.2,
        0,
        "small payloads stay in their row"
    );
    assert_eq!(
        t.store.execution(&f.org, id).await.unwrap().trigger_payload,
        payload
    );

    let claimed = t.store.claim_executions("w", 1, LEASE).await.unwrap();
    assert_eq!(
        claimed[0].execution.trigger_payload, payload,
        "the worker gets it whole"
    );
    let retry_at = Utc::now();
    let ending = Ending::retry_pending("boom".into(), retry_at);
    assert!(t
        .store
        .finish_execution(f.org.org_id, id, "w", &ending, EndRecords::default())
        .await
        .unwrap());
    make_retries_due(&t.store).await;
    let mut claimed = t.store.claim_executions("w", 10, LEASE).await.unwrap();
    claimed.retain(|c| c.execution.id != small);
    assert_eq!(claimed.len(), 1, "the retry");
    assert_eq!(
        claimed[0].execution.trigger_payload, payload,
        "a retry carries the payload"
    );

    t.store
        .delete_instance(&f.org, f.instance.id)
        .await
        .unwrap();
    assert!(t.store.execution(&f.org, id).await.is_err());
}

async fn a_large_step_result_round_trips_and_is_pruned_with_its_result(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let id = enqueue(t, &f, json!({})).await;
    let big = megabyte();
    let old = Utc::now() - chrono::Duration::days(20);
    let step = |key: &str, results: Value, made: Uuid| step_result(id, made, key, results);
    let old_id = Uuid::new_v7(Timestamp::from_unix(NoContext, old.timestamp() as u64, 0));
    t.store
        .record_step(f.org.org_id, &step("Big", big.clone(), old_id), &[])
        .await
        .unwrap();
    let fresh = "y".repeat(BLOB_THRESHOLD * 2);
    t.store
        .record_step(
            f.org.org_id,
            &step("Fresh", json!(fresh), Uuid::now_v7()),
            &[],
        )
        .await
        .unwrap();
    t.store
        .record_step(f.org.org_id, &step("Small", json!(1), Uuid::now_v7()), &[])
        .await
        .unwrap();

    let (_, rows, blobs) = stored_sizes(&t.store, id).await;
    assert!(
        rows < 64,
        "the rows keep only the small result ({rows} bytes)"
    );
    assert_eq!(blobs, 2);
    let listed = t
        .store
        .step_results(&f.org, id, None, &PageRequest::first_page())
        .await
        .unwrap();
    let results: Vec<Value> = listed
        .items
        .iter()
        .map(|(s, _)| s.results.clone().unwrap())
        .collect();
    assert_eq!(
        results,
        vec![big.clone(), json!(fresh), json!(1)],
        "read back as written"
    );
    let checkpoints = t.store.checkpoints(id).await.unwrap();
    assert_eq!(
        checkpoints[0].results,
        Some(big),
        "a resumed run gets it whole"
    );

    let cutoff = Utc::now() - chrono::Duration::days(14);
    let pruned = t
        .store
        .prune(PruneScope::Default, cutoff, 100)
        .await
        .unwrap();
    assert_eq!(pruned.step_results, 1);
    assert_eq!(
        stored_sizes(&t.store, id).await.2,
        1,
        "the pruned result's blob went with it"
    );
}

async fn a_trigger_result_is_read_from_its_execution(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    for payload in [json!({ "body": { "data": { "n": 1 } } }), megabyte()] {
        let id = enqueue(t, &f, payload.clone()).await;
        let claimed = t.store.claim_executions("w", 1, LEASE).await.unwrap();
        assert_eq!(claimed[0].execution.id, id);
        let trigger = StepResult {
            from_trigger: true,
            ..step_result(id, Uuid::now_v7(), "trigger:", payload.clone())
        };
        let records = EndRecords {
            steps: vec![trigger.clone()],
            ..EndRecords::default()
        };
        let ending = Ending::succeeded(None);
        assert!(t
            .store
            .finish_execution(f.org.org_id, id, "w", &ending, records)
            .await
            .unwrap());

        let (_, rows, blobs) = stored_sizes(&t.store, id).await;
        assert_eq!(rows, 0, "the step result row keeps no copy of the payload");
        let payload_blobs = i64::from(payload.to_string().len() > BLOB_THRESHOLD);
        assert_eq!(blobs, payload_blobs, "nor does the blob store");
        let listed = t
            .store
            .step_results(&f.org, id, None, &PageRequest::first_page())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].0, trigger, "read back as written");
        assert_eq!(
            t.store.checkpoints(id).await.unwrap(),
            vec![trigger],
            "a resumed run gets the payload as the trigger's result"
        );
    }
}
