//! What a grouped commit writes reads back exactly as it was written, on SQLite (where the
//! writer runs its statements through a connection of its own, not sqlx's) and PostgreSQL
//! alike: uuids, times with and without a fraction of a second, JSON, text and flags, whether
//! the store's own queries read them or a claim in the same kind of commit returns them.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use ferry_core::execution::{ExecutionStatus, LogLine, Severity, StepEffects, StepResult};
use ferry_store::testing::{fixture, TestStore};
use ferry_store::{EndRecords, Ending, LogFilter, PageRequest, Store, StoreError, StoreOptions};
use serde_json::json;
use uuid::Uuid;

ferry_store::store_tests!(
    an_execution_reads_back_as_queued_and_as_claimed,
    an_end_and_its_retry_read_back_as_written,
);

const LEASE: Duration = Duration::from_secs(30);

async fn an_execution_reads_back_as_queued_and_as_claimed(t: &TestStore) {
    let f = fixture(&t.store, &["orders"]).await;
    let payload = json!({
        "body": { "data": { "name": "Zoë \"Z\" O'Brien", "lines": [1, 2.5, null, true] } },
        "headers": { "content-type": "application/json" },
    });
    let queued = t
        .store
        .enqueue_execution(&f.org, f.execution("orders", payload.clone()))
        .await
        .unwrap();
    assert_eq!(queued.trigger_payload, payload);

    let stored = t.store.execution(&f.org, queued.id).await.unwrap();
    assert_eq!(stored, queued, "read back as it was queued");

    let claimed = t.store.claim_executions("w", 1, LEASE).await.unwrap();
    let [claimed] = claimed.as_slice() else {
        panic!("one claimed, not {}", claimed.len())
    };
    assert_eq!(claimed.org_id, f.org.org_id);
    assert_eq!(claimed.execution.status, ExecutionStatus::Running);
    assert_eq!(claimed.execution.attempt, 1);
    let stored = t.store.execution(&f.org, queued.id).await.unwrap();
    assert_eq!(claimed.execution, stored, "a claim returns what is stored");
    assert_eq!(
        (stored.queued_at, stored.trigger_payload),
        (queued.queued_at, payload.into())
    );
}

async fn an_end_and_its_retry_read_back_as_written(t: &TestStore) {
    let f = fixture(&t.store, &["orders"]).await;
    let first = t
        .store
        .enqueue_execution(&f.org, f.execution("orders", json!({ "n": 1 })))
        .await
        .unwrap();
    t.store.claim_executions("w", 1, LEASE).await.unwrap();

    let step = step_result(first.id);
    let line = LogLine::new(
        first.id,
        Severity::Warn,
        "ünïcode «line»",
        Some("Transform"),
    );
    // A whole second: written without a fraction.
    let retry_at = (Utc::now() - chrono::Duration::seconds(2)).trunc_subsecs(0);
    let records = EndRecords {
        steps: vec![step.clone()],
        logs: vec![line.clone()],
        states: vec![],
    };
    let ending = Ending::retry_pending("boom: 'quoted'".into(), retry_at);
    let ended = t
        .store
        .finish_execution(f.org.org_id, first.id, "w", &ending, records)
        .await
        .unwrap();
    assert!(ended);

    let stored = t.store.execution(&f.org, first.id).await.unwrap();
    assert_eq!(stored.status, ExecutionStatus::FailedRetryPending);
    assert_eq!(stored.error.as_deref(), Some("boom: 'quoted'"));
    assert!(stored.ended_at.is_some());
    assert_eq!(t.store.checkpoints(first.id).await.unwrap(), vec![step]);
    let its_own = LogFilter {
        execution_id: Some(first.id),
        severities: vec![],
    };
    let lines = t
        .store
        .logs(&f.org, &its_own, &PageRequest::first_page())
        .await
        .unwrap();
    let lines: Vec<LogLine> = lines.items.into_iter().map(|(line, _)| line).collect();
    assert_eq!(lines, vec![line]);

    let retried = t.store.claim_executions("w", 1, LEASE).await.unwrap();
    let [retry] = retried.as_slice() else {
        panic!("the retry is claimed, not {} executions", retried.len())
    };
    let retry = &retry.execution;
    assert_eq!(retry.retry_for, Some(first.id));
    assert_eq!(retry.retry_attempt, 1);
    assert_eq!(retry.not_before, Some(retry_at));
    assert_eq!(
        retry.queued_at, first.queued_at,
        "keeps its place in the queue"
    );
    assert_eq!(retry.trigger_payload, json!({ "n": 1 }));
    let stored = t.store.execution(&f.org, retry.id).await.unwrap();
    assert_eq!(&stored, retry);
}

fn step_result(execution_id: Uuid) -> StepResult {
    let started_at = ferry_core::execution::now_micros();
    StepResult {
        id: Uuid::now_v7(),
        execution_id,
        step_key: "transform:".into(),
        step_name: "Transform".into(),
        loop_path: String::new(),
        results: Some(json!({ "total": 12.5, "lines": [{ "sku": "A-1" }], "note": null })),
        from_trigger: false,
        error: None,
        effects: StepEffects {
            response: json!({ "statusCode": 201 })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..StepEffects::default()
        },
        started_at,
        ended_at: started_at + chrono::Duration::milliseconds(3),
    }
}

/// An in-memory SQLite database is one database per connection: refused, naming the URL.
#[tokio::test]
async fn an_in_memory_sqlite_database_is_refused() {
    for url in ["sqlite::memory:", "sqlite://ferry.db?mode=memory"] {
        let err = Store::open(&StoreOptions::new(url)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedUrl(_)),
            "{url}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(url), "{message}");
        assert!(message.contains("in-memory"), "{message}");
    }
}
