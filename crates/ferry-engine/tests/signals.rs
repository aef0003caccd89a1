//! Waiting for an execution's end, on SQLite and PostgreSQL alike: an end committed on this
//! node is handed to its waiters with the notice, which take it without reading the store; a
//! notice without an end has them read where the execution stands; an execution that never
//! ends lets them go at their timeout; one waiter giving up leaves the others of the same
//! execution waiting for its notice.

use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::ExecutionStatus;
use ferry_engine::signals::Signals;
use ferry_store::testing::{fixture, Fixture, TestStore};
use ferry_store::{EndRecords, Ending, Standing};
use serde_json::json;
use tokio::task::JoinHandle;
use uuid::Uuid;

ferry_store::store_tests!(
    an_end_handed_over_with_its_notice_is_taken_as_it_is,
    a_notice_without_an_end_has_the_waiter_read_where_it_stands,
    a_waiter_goes_at_its_timeout,
    a_waiter_that_gives_up_leaves_the_others_watching,
);

/// Starts waiting, for at most `timeout`, for the end of a new execution: its id and the wait.
async fn wait(
    t: &TestStore,
    signals: &Arc<Signals>,
    timeout: Duration,
) -> (Fixture, Uuid, JoinHandle<Option<Standing>>) {
    let f = fixture(&t.store, &["f"]).await;
    let new = f.execution("f", json!({ "n": 1 }));
    let id = t.store.enqueue_execution(&f.org, new).await.unwrap().id;
    let (signals, store, tenant) = (signals.clone(), t.store.clone(), f.org);
    let waiting = tokio::spawn(async move {
        let waited = signals.wait_for_end(&store, &tenant, id, timeout).await;
        waited.unwrap()
    });
    (f, id, waiting)
}

/// Sends `ending` (or a bare notice) to the waiters of `id` until `waiting` ends: a notice
/// sent before the waiter watches reaches no one.
async fn notify_until_done(
    signals: &Signals,
    id: Uuid,
    ending: Option<&Ending>,
    waiting: JoinHandle<Option<Standing>>,
) -> Option<Standing> {
    while !waiting.is_finished() {
        signals.ended(id, ending);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waiting.await.unwrap()
}

async fn an_end_handed_over_with_its_notice_is_taken_as_it_is(t: &TestStore) {
    let signals = Arc::new(Signals::default());
    let (_, id, waiting) = wait(t, &signals, Duration::from_secs(20)).await;
    // The store still has it queued: only the notice can end the wait.
    let ending = Ending::succeeded(Some(json!({ "data": { "zone": "b", "id": 1 } })));
    let standing = notify_until_done(&signals, id, Some(&ending), waiting).await;
    assert_eq!(standing, Some(Standing::from(&ending)));
}

async fn a_notice_without_an_end_has_the_waiter_read_where_it_stands(t: &TestStore) {
    let signals = Arc::new(Signals::default());
    let (f, id, waiting) = wait(t, &signals, Duration::from_secs(20)).await;
    t.store
        .claim_executions("w", 1, Duration::from_secs(30))
        .await
        .unwrap();
    let ending = Ending::failed("boom".into());
    let records = EndRecords::default();
    let ended = t
        .store
        .finish_execution(f.org.org_id, id, "w", &ending, records);
    assert!(ended.await.unwrap());

    let standing = notify_until_done(&signals, id, None, waiting).await;
    let standing = standing.expect("it ended");
    assert_eq!(standing.status, ExecutionStatus::Failed);
    assert_eq!(standing.error.as_deref(), Some("boom"));
}

async fn a_waiter_goes_at_its_timeout(t: &TestStore) {
    let signals = Arc::new(Signals::default());
    let (_, id, waiting) = wait(t, &signals, Duration::from_millis(200)).await;
    // A notice that it may have ended, when it has not, does not end the wait.
    signals.ended(id, None);
    assert_eq!(waiting.await.unwrap(), None);
}

async fn a_waiter_that_gives_up_leaves_the_others_watching(t: &TestStore) {
    let signals = Arc::new(Signals::default());
    let (f, id, patient) = wait(t, &signals, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another waiter of the same execution gives up first.
    let hasty = signals.wait_for_end(&t.store, &f.org, id, Duration::from_millis(50));
    assert_eq!(hasty.await.unwrap(), None);
    // The store still has it queued: only the notice can end the first wait.
    let ending = Ending::succeeded(Some(json!({ "data": { "n": 2 } })));
    let standing = notify_until_done(&signals, id, Some(&ending), patient).await;
    assert_eq!(standing, Some(Standing::from(&ending)));
}
