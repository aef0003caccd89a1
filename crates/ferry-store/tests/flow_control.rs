//! FIFO claims and automatic retries in the store, on SQLite and PostgreSQL alike.

use std::time::Duration;

use chrono::Utc;
use ferry_core::execution::ExecutionStatus;
use ferry_store::testing::{fixture, Fixture, TestStore};
use ferry_store::{EndRecords, Ending, NewExecution};
use serde_json::json;
use uuid::Uuid;

ferry_store::store_tests!(
    fifo_executions_are_claimed_one_at_a_time_and_retries_keep_their_place,
    a_retry_waits_for_its_time_and_the_chain_settles_when_it_ends,
);

const LEASE: Duration = Duration::from_secs(30);

async fn enqueue(t: &TestStore, f: &Fixture, n: u32, fifo: bool) -> Uuid {
    let new = NewExecution {
        instance_id: f.instance.id,
        customer_id: f.customer,
        flow_config_id: f.instance.flow_configs[0].id,
        flow_key: "ordered".into(),
        is_synchronous: false,
        trigger_payload: json!({ "n": n }).into(),
        invoked_by: None,
        replay_for: None,
        cancellation_key: None,
        fifo,
    };
    t.store.enqueue_execution(&f.org, new).await.unwrap().id
}

/// The ids claimed, sorted (a claim's rows come back in no particular order).
async fn claim(t: &TestStore) -> Vec<Uuid> {
    let claimed = t.store.claim_executions("w", 10, LEASE).await.unwrap();
    let mut ids: Vec<Uuid> = claimed.into_iter().map(|c| c.execution.id).collect();
    ids.sort();
    ids
}

async fn fifo_executions_are_claimed_one_at_a_time_and_retries_keep_their_place(t: &TestStore) {
    let f = fixture(&t.store, &["ordered"]).await;
    let first = enqueue(t, &f, 1, true).await;
    let second = enqueue(t, &f, 2, true).await;
    let third = enqueue(t, &f, 3, true).await;
    let free = enqueue(t, &f, 4, false).await;

    assert_eq!(
        claim(t).await,
        vec![first, free],
        "only the head of the FIFO queue, and the non-FIFO one"
    );
    assert!(
        claim(t).await.is_empty(),
        "nothing more while the head runs"
    );
    let org = f.org.org_id;
    t.store
        .finish_execution(
            org,
            first,
            "w",
            &Ending::succeeded(None),
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert_eq!(claim(t).await, vec![second]);

    // The second fails with a retry due now: the retry runs before the third.
    let retry_now = Ending::retry_pending("boom".into(), Utc::now());
    t.store
        .finish_execution(org, second, "w", &retry_now, EndRecords::default())
        .await
        .unwrap();
    let retried = claim(t).await;
    assert_eq!(retried.len(), 1);
    assert_ne!(retried[0], third, "the third waits behind the retry");
    let retry = t.store.execution(&f.org, retried[0]).await.unwrap();
    assert_eq!((retry.retry_for, retry.retry_attempt), (Some(second), 1));
    t.store
        .finish_execution(
            org,
            retry.id,
            "w",
            &Ending::succeeded(None),
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert_eq!(claim(t).await, vec![third]);
}

async fn a_retry_waits_for_its_time_and_the_chain_settles_when_it_ends(t: &TestStore) {
    let f = fixture(&t.store, &["ordered"]).await;
    let first = enqueue(t, &f, 1, false).await;
    claim(t).await;
    let later = Utc::now() + chrono::Duration::minutes(5);
    let org = f.org.org_id;
    t.store
        .finish_execution(
            org,
            first,
            "w",
            &Ending::retry_pending("boom".into(), later),
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        t.store.execution(&f.org, first).await.unwrap().status,
        ExecutionStatus::FailedRetryPending
    );
    assert!(
        claim(t).await.is_empty(),
        "the retry is not due for five minutes"
    );

    ferry_store::testing::make_retries_due(&t.store).await;
    let retry = claim(t).await;
    assert_eq!(retry.len(), 1);
    t.store
        .finish_execution(
            org,
            retry[0],
            "w",
            &Ending::failed("boom again".into()),
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        t.store.execution(&f.org, first).await.unwrap().status,
        ExecutionStatus::Failed,
        "the first attempt no longer waits for a retry"
    );
}
