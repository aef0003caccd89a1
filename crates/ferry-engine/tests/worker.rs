//! The worker against a real store (SQLite and PostgreSQL): an execution whose workers keep
//! getting lost is failed after a bounded number of takes instead of looping forever.

use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::ExecutionStatus;
use ferry_engine::definitions::Definitions;
use ferry_engine::signals::Signals;
use ferry_engine::worker::{Worker, WorkerOptions, MAX_TAKES};
use ferry_store::testing::{fixture, TestStore};
use ferry_store::NewExecution;
use serde_json::json;
use tokio::sync::watch;

ferry_store::store_tests!(an_execution_that_keeps_losing_its_worker_is_failed);

async fn an_execution_that_keeps_losing_its_worker_is_failed(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let new = NewExecution {
        instance_id: f.instance.id,
        customer_id: f.customer,
        flow_config_id: f.instance.flow_configs[0].id,
        flow_key: "new-order".into(),
        is_synchronous: false,
        trigger_payload: json!({}),
        invoked_by: None,
        replay_for: None,
        cancellation_key: None,
        fifo: false,
    };
    let execution = t.store.enqueue_execution(&f.org, new).await.unwrap();
    // Workers that take it and die: each claim's lease runs out at once.
    for _ in 0..MAX_TAKES {
        let claimed = t
            .store
            .claim_executions("doomed", 1, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let mut options = WorkerOptions::new("survivor");
    options.poll_interval = Duration::from_millis(50);
    let worker = Worker::new(
        t.store.clone(),
        Arc::new(Definitions::default()),
        Arc::new(Signals::default()),
        options,
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let mut ended = None;
    for _ in 0..100 {
        let found = t.store.execution(&f.org, execution.id).await.unwrap();
        if found.status.is_final() {
            ended = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    let ended = ended.expect("the execution ends");
    assert_eq!(ended.status, ExecutionStatus::Failed);
    let error = ended.error.unwrap();
    assert!(
        error.contains(&format!("taken by a worker {} times", MAX_TAKES + 1)),
        "{error}"
    );
}
