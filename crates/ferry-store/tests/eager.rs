//! Executions held at enqueue (eager dispatch), on SQLite and PostgreSQL alike: a held
//! execution is committed as a claim would leave it, only executions a claim would take at once
//! are held, and a held execution whose worker is lost or gives it back runs again.

use std::time::Duration;

use ferry_core::execution::{Execution, ExecutionStatus};
use ferry_store::testing::{fixture, Fixture, TestStore};
use ferry_store::{ConcurrencyLimits, EndRecords, Ending, Entry, Holder, NewExecution, Store};
use serde_json::json;

ferry_store::store_tests!(
    a_held_execution_is_committed_running_under_its_workers_lease,
    executions_a_claim_might_not_take_at_once_are_queued_instead,
    a_held_execution_whose_worker_is_lost_is_taken_again,
    an_execution_handed_back_is_queued_as_if_never_taken,
);

const HOLDER: Holder<'static> = Holder {
    owner: "eager",
    lease: Duration::from_secs(30),
};

/// Commits `new` through `store`, holding it for `holder` if it may.
async fn enter(store: &Store, f: &Fixture, new: NewExecution, holder: Holder<'_>) -> Entry {
    store.enqueue_or_hold(&f.org, new, holder).await.unwrap()
}

async fn hold(t: &TestStore, f: &Fixture, holder: Holder<'_>) -> Execution {
    match enter(
        &t.store,
        f,
        f.execution("new-order", json!({ "n": 1 })),
        holder,
    )
    .await
    {
        Entry::Held(claimed) => claimed.execution,
        Entry::Queued(execution) => panic!("{} was queued, not held", execution.id),
    }
}

async fn a_held_execution_is_committed_running_under_its_workers_lease(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let held = hold(t, &f, HOLDER).await;
    assert_eq!(held.status, ExecutionStatus::Running);
    assert_eq!(held.attempt, 1);
    assert_eq!(held.started_at, Some(held.queued_at));
    assert_eq!(held.trigger_payload, json!({ "n": 1 }));

    let stored = t.store.execution(&f.org, held.id).await.unwrap();
    assert_eq!(stored.status, ExecutionStatus::Running);
    assert_eq!(stored.attempt, 1);
    assert_eq!(stored.started_at, Some(held.queued_at));
    assert_eq!(stored.trigger_payload, json!({ "n": 1 }));
    let others = t
        .store
        .claim_executions("other", 10, HOLDER.lease)
        .await
        .unwrap();
    assert!(others.is_empty(), "no other worker takes a held execution");

    let ending = Ending::succeeded(Some(json!({ "data": "done" })));
    let ended = t
        .store
        .finish_execution(
            f.org.org_id,
            held.id,
            "other",
            &ending,
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert!(!ended, "only the holder ends it");
    let ended = t
        .store
        .finish_execution(
            f.org.org_id,
            held.id,
            HOLDER.owner,
            &ending,
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert!(ended);
    let stored = t.store.execution(&f.org, held.id).await.unwrap();
    assert_eq!(stored.status, ExecutionStatus::Succeeded);
    assert_eq!(stored.result, Some(json!({ "data": "done" })));
}

async fn executions_a_claim_might_not_take_at_once_are_queued_instead(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let fifo = NewExecution {
        fifo: true,
        ..f.execution("new-order", json!({}))
    };
    let keyed = NewExecution {
        cancellation_key: Some("order-1".into()),
        ..f.execution("new-order", json!({}))
    };
    let large = f.execution(
        "new-order",
        json!({ "big": "x".repeat(ferry_store::BLOB_THRESHOLD) }),
    );
    for (why, new) in [("FIFO", fifo), ("cancellation key", keyed), ("blob", large)] {
        match enter(&t.store, &f, new, HOLDER).await {
            Entry::Queued(execution) => {
                let stored = t.store.execution(&f.org, execution.id).await.unwrap();
                assert_eq!(stored.status, ExecutionStatus::Queued, "{why}");
            }
            Entry::Held(_) => panic!("held despite its {why}"),
        }
    }
    let limited = t.store.clone().with_concurrency_limits(ConcurrencyLimits {
        per_instance: Some(5),
        per_organization: None,
    });
    let entry = enter(&limited, &f, f.execution("new-order", json!({})), HOLDER).await;
    assert!(
        matches!(entry, Entry::Queued(_)),
        "held despite concurrency limits"
    );
    let claimed = t
        .store
        .claim_executions("worker", 10, HOLDER.lease)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4, "every one of them is in the queue");
}

/// A node that dies leaves its held executions RUNNING: another worker takes them once their
/// lease runs out (as it does a claimed one's), and a SQLite store, which one process uses,
/// queues them again at start.
async fn a_held_execution_whose_worker_is_lost_is_taken_again(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let short = Holder {
        owner: "doomed",
        lease: Duration::ZERO,
    };
    let lost = hold(t, &f, short).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let taken = t
        .store
        .claim_executions("survivor", 10, HOLDER.lease)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].execution.id, lost.id);
    assert_eq!(taken[0].execution.attempt, 2, "its second take");
    assert_eq!(taken[0].execution.trigger_payload, json!({ "n": 1 }));

    let left = hold(t, &f, HOLDER).await;
    assert_eq!(t.store.recover_running().await.unwrap(), 2);
    let stored = t.store.execution(&f.org, left.id).await.unwrap();
    assert_eq!(stored.status, ExecutionStatus::Queued);
}

async fn an_execution_handed_back_is_queued_as_if_never_taken(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let held = hold(t, &f, HOLDER).await;
    assert!(
        !t.store.hand_back(held.id, "other").await.unwrap(),
        "only the holder hands it back"
    );
    assert!(t.store.hand_back(held.id, HOLDER.owner).await.unwrap());
    let stored = t.store.execution(&f.org, held.id).await.unwrap();
    assert_eq!(stored.status, ExecutionStatus::Queued);
    assert_eq!(stored.attempt, 0);
    assert_eq!(stored.started_at, None);
    assert!(!t.store.hand_back(held.id, HOLDER.owner).await.unwrap());

    let taken = t
        .store
        .claim_executions("next", 10, HOLDER.lease)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].execution.attempt, 1, "a first attempt still");
}
