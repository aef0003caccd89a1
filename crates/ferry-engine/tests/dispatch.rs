//! Eager dispatch against a real store (SQLite and PostgreSQL): executions queued while the
//! worker has room start without a claim and end exactly once; while every slot is busy they
//! queue, and run in arrival order; a stopped worker's dispatch only queues; an execution
//! whose instance was paused before its worker started it goes back to the queue.

use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::{Execution, ExecutionStatus};
use ferry_engine::definitions::Definitions;
use ferry_engine::signals::Signals;
use ferry_engine::worker::{Dispatch, Worker, WorkerOptions};
use ferry_store::testing::{fixture_with, Fixture, TestStore};
use ferry_store::ExecutionFilter;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

ferry_store::store_tests!(
    executions_dispatched_to_a_worker_with_room_start_at_once_and_end_once,
    while_every_slot_is_busy_executions_queue_and_run_in_arrival_order,
    a_stopped_workers_dispatch_queues_executions,
    an_execution_of_an_instance_paused_before_it_started_goes_back_to_the_queue,
);

const DEFINITION: &str = "name: Eager\nflows:\n  - name: quick\n    trigger: { type: webhook }\n    steps:\n      - { name: Say, action: log.write, inputs: { message: hi } }\n  - name: slow\n    trigger: { type: webhook }\n    steps:\n      - { name: Nap, action: sleep, inputs: { seconds: 1 } }\n";

/// A running worker (polling once a minute: what it runs, it was handed or woken for), its
/// dispatch, and the sender that stops it.
struct Running {
    dispatch: Dispatch,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(t: &TestStore, concurrency: usize) -> Running {
    let mut options = WorkerOptions::new("eager");
    options.concurrency = concurrency;
    options.poll_interval = Duration::from_secs(60);
    let worker = Worker::new(
        t.store.clone(),
        Arc::new(Definitions::default()),
        Arc::new(Signals::default()),
        options,
    );
    let dispatch = worker.dispatch();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.run(stopped));
    // Its first claim finds the queue empty.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Running {
        dispatch,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

/// Execution `id` once `reached` holds for it (within 10 s).
async fn until(
    t: &TestStore,
    f: &Fixture,
    id: Uuid,
    reached: impl Fn(&Execution) -> bool,
) -> Execution {
    for _ in 0..400 {
        let execution = t.store.execution(&f.org, id).await.unwrap();
        if reached(&execution) {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("execution {id} did not get there");
}

async fn ended(t: &TestStore, f: &Fixture, id: Uuid) -> Execution {
    until(t, f, id, |e| e.status.is_final()).await
}

/// Held at enqueue: started in the commit that queued it (a claim would start it later).
fn was_held(execution: &Execution) -> bool {
    execution.started_at == Some(execution.queued_at)
}

async fn executions_dispatched_to_a_worker_with_room_start_at_once_and_end_once(t: &TestStore) {
    let f = fixture_with(&t.store, DEFINITION, &["quick", "slow"]).await;
    let worker = start(t, 8).await;
    let mut ids = Vec::new();
    for _round in 0..5 {
        let sent = (0..8).map(|_| {
            worker
                .dispatch
                .enqueue(&f.org, f.execution("quick", json!({})))
        });
        for id in futures::future::join_all(sent).await {
            ids.push(id.unwrap());
        }
        for id in &ids[ids.len() - 8..] {
            let execution = ended(t, &f, *id).await;
            assert_eq!(execution.status, ExecutionStatus::Succeeded);
            assert_eq!(execution.attempt, 1);
            assert!(was_held(&execution), "{id} was claimed, not held");
        }
    }
    worker.stop().await;
    let filter = ExecutionFilter {
        instance_id: Some(f.instance.id),
        ..Default::default()
    };
    let all = t.store.count_executions(&f.org, &filter).await.unwrap();
    assert_eq!(all, 40, "one execution per dispatch");
    let succeeded = ExecutionFilter {
        status: Some(ExecutionStatus::Succeeded),
        ..filter
    };
    let succeeded = t.store.count_executions(&f.org, &succeeded).await.unwrap();
    assert_eq!(succeeded, 40);
}

async fn while_every_slot_is_busy_executions_queue_and_run_in_arrival_order(t: &TestStore) {
    let f = fixture_with(&t.store, DEFINITION, &["quick", "slow"]).await;
    let worker = start(t, 1).await;
    let first = worker
        .dispatch
        .enqueue(&f.org, f.execution("slow", json!({})))
        .await
        .unwrap();
    let mut later = Vec::new();
    for _ in 0..4 {
        let new = f.execution("quick", json!({}));
        later.push(worker.dispatch.enqueue(&f.org, new).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = ended(t, &f, first).await;
    assert!(was_held(&first), "the first had the free slot");
    let mut started = Vec::new();
    for id in later {
        let execution = ended(t, &f, id).await;
        assert_eq!(execution.status, ExecutionStatus::Succeeded);
        assert!(
            !was_held(&execution),
            "{id} was held while the slot was busy"
        );
        assert!(execution.started_at >= first.ended_at);
        started.push(execution.started_at);
    }
    assert!(
        started.windows(2).all(|w| w[0] <= w[1]),
        "in arrival order: {started:?}"
    );
    worker.stop().await;
}

async fn a_stopped_workers_dispatch_queues_executions(t: &TestStore) {
    let f = fixture_with(&t.store, DEFINITION, &["quick", "slow"]).await;
    let worker = start(t, 4).await;
    let dispatch = worker.dispatch.clone();
    worker.stop().await;
    let id = dispatch
        .enqueue(&f.org, f.execution("quick", json!({})))
        .await
        .unwrap();
    let execution = t.store.execution(&f.org, id).await.unwrap();
    assert_eq!(execution.status, ExecutionStatus::Queued);
    assert_eq!(execution.started_at, None);
}

/// The caller checks that the instance is enabled before it dispatches; on another node, that
/// check may see a pause late. The worker checks again, and queues the execution instead.
async fn an_execution_of_an_instance_paused_before_it_started_goes_back_to_the_queue(
    t: &TestStore,
) {
    let f = fixture_with(&t.store, DEFINITION, &["quick", "slow"]).await;
    let worker = start(t, 4).await;
    t.store
        .update_instance(&f.org, f.instance.id, None, None, Some(false))
        .await
        .unwrap();
    let id = worker
        .dispatch
        .enqueue(&f.org, f.execution("quick", json!({})))
        .await
        .unwrap();
    let execution = until(t, &f, id, |e| e.status == ExecutionStatus::Queued).await;
    assert_eq!(execution.status, ExecutionStatus::Queued);
    assert_eq!(execution.attempt, 0);
    assert_eq!(execution.started_at, None);
    worker.stop().await;
    t.store
        .update_instance(&f.org, f.instance.id, None, None, Some(true))
        .await
        .unwrap();
    let claimed = t
        .store
        .claim_executions("next", 4, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "it runs once its instance is enabled");
}
