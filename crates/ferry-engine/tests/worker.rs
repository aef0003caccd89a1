//! The worker against a real store (SQLite and PostgreSQL): an execution whose workers keep
//! getting lost is failed after a bounded number of takes instead of looping forever, a
//! stopping worker hands back what it could not finish in its grace period, and executions
//! taken in one claim (which read each instance once) each run with their own instance.

use std::sync::Arc;
use std::time::Duration;

use ferry_core::execution::ExecutionStatus;
use ferry_engine::definitions::Definitions;
use ferry_engine::signals::Signals;
use ferry_engine::worker::{Worker, WorkerOptions, MAX_TAKES};
use ferry_store::testing::{fixture, fixture_with, TestStore};
use serde_json::json;
use tokio::sync::watch;

ferry_store::store_tests!(
    an_execution_that_keeps_losing_its_worker_is_failed,
    a_stopping_worker_hands_back_what_outlives_its_grace_period,
    an_execution_another_process_queues_wakes_an_idle_worker,
    executions_claimed_together_each_see_their_own_instance_customer_and_state,
);

/// A worker with `options` running on the test's store; send `true` to stop it.
fn start(
    t: &TestStore,
    options: WorkerOptions,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let worker = Worker::new(
        t.store.clone(),
        Arc::new(Definitions::default()),
        Arc::new(Signals::default()),
        options,
    );
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(worker.run(stopped)))
}

/// PostgreSQL: an idle worker polling once a minute picks up, within seconds, an execution
/// queued through another connection pool (as another node would), because the insert's
/// notification wakes it. (SQLite has one process; its wake-ups are in-process signals.)
async fn an_execution_another_process_queues_wakes_an_idle_worker(t: &TestStore) {
    if t.store.kind() != "postgres" {
        return;
    }
    let definition = "name: Quick\nflows:\n  - name: quick\n    trigger: { type: webhook }\n    steps:\n      - { name: Say, action: log.write, inputs: { message: hi } }\n";
    let f = fixture_with(&t.store, definition, &["quick"]).await;
    let mut options = WorkerOptions::new("idle");
    options.poll_interval = Duration::from_secs(60);
    let (stop, running) = start(t, options);
    // The worker has polled once and is listening.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let other = ferry_store::Store::open(&ferry_store::StoreOptions::new(&t.url))
        .await
        .unwrap();
    let queued_at = std::time::Instant::now();
    let execution = other
        .enqueue_execution(&f.org, f.execution("quick", json!({})))
        .await
        .unwrap();
    let mut status = ExecutionStatus::Queued;
    while queued_at.elapsed() < Duration::from_secs(20) && !status.is_final() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = t
            .store
            .execution(&f.org, execution.id)
            .await
            .unwrap()
            .status;
    }
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "picked up long before the next poll"
    );
    assert!(queued_at.elapsed() < Duration::from_secs(20));
    stop.send(true).unwrap();
    running.await.unwrap();
    other.close().await;
}

async fn a_stopping_worker_hands_back_what_outlives_its_grace_period(t: &TestStore) {
    let definition = "name: Slow\nflows:\n  - name: slow\n    trigger: { type: webhook }\n    steps:\n      - { name: Nap, action: sleep, inputs: { seconds: 30 } }\n";
    let f = fixture_with(&t.store, definition, &["slow"]).await;
    let execution = t
        .store
        .enqueue_execution(&f.org, f.execution("slow", json!({})))
        .await
        .unwrap();
    let mut options = WorkerOptions::new("leaving");
    options.poll_interval = Duration::from_millis(20);
    options.grace = Duration::from_millis(200);
    let (stop, running) = start(t, options);
    for _ in 0..100 {
        if t.store
            .execution(&f.org, execution.id)
            .await
            .unwrap()
            .status
            == ExecutionStatus::Running
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = std::time::Instant::now();
    stop.send(true).unwrap();
    running.await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the worker stops after its grace period"
    );
    let handed_back = t.store.execution(&f.org, execution.id).await.unwrap();
    assert_eq!(handed_back.status, ExecutionStatus::Queued);
    let claimed = t
        .store
        .claim_executions("next", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "another worker can take it at once");
}

async fn an_execution_that_keeps_losing_its_worker_is_failed(t: &TestStore) {
    let f = fixture(&t.store, &["new-order"]).await;
    let new = f.execution("new-order", json!({}));
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
    let (stop, running) = start(t, options);
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

/// Executions of two instances (of two customers) queued before the worker starts are taken
/// in one claim; each still runs with its own instance, customer and config variables.
async fn executions_claimed_together_each_see_their_own_instance_customer_and_state(t: &TestStore) {
    let definition = "name: Who\nrequiredConfigVars:\n  - { key: Greeting, dataType: string, defaultValue: hello }\nflows:\n  - name: who\n    trigger: { type: webhook }\n    steps:\n      - { name: Note, action: state.get, inputs: { scope: flow, key: note } }\n      - { name: Say, action: text.upperCase, inputs: { text: \"{{ configVars.Greeting }} {{ customer.name }} {{ instance.name }} {{ steps.note.results }}\" } }\n";
    let f = fixture_with(&t.store, definition, &["who"]).await;
    let venus = t
        .store
        .create_customer(
            &f.org,
            ferry_core::entity::NewCustomer {
                name: "Venus".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let second = t
        .store
        .create_instance(
            &f.org,
            ferry_store::NewInstance {
                customer_id: venus.id,
                version_id: f.instance.version_id,
                name: "Venus instance".into(),
                description: String::new(),
                config_values: vec![ferry_core::instance::ConfigValue {
                    key: "Greeting".into(),
                    value: "bonjour".into(),
                    is_secret: false,
                }],
                flow_keys: vec!["who".into()],
            },
        )
        .await
        .unwrap();
    // Each flow config has its own stored flow state.
    let notes = [
        (f.instance.flow_configs[0].id, "first"),
        (second.flow_configs[0].id, "second"),
    ];
    for (flow_config, note) in notes {
        let state = ferry_store::StateWrite {
            scope: "flow",
            owner_id: flow_config,
            value: json!({ "note": note }),
        };
        t.store.set_state(f.org.org_id, &state).await.unwrap();
    }
    let mut queued = Vec::new();
    for i in 0..6 {
        let mut new = f.execution("who", json!({}));
        if i % 2 == 1 {
            new.instance_id = second.id;
            new.customer_id = venus.id;
            new.flow_config_id = second.flow_configs[0].id;
        }
        let execution = t.store.enqueue_execution(&f.org, new).await.unwrap();
        queued.push((i, execution.id));
    }
    let (stop, running) = start(t, WorkerOptions::new("together"));
    for (i, id) in queued {
        let mut execution = t.store.execution(&f.org, id).await.unwrap();
        for _ in 0..200 {
            if execution.status.is_final() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            execution = t.store.execution(&f.org, id).await.unwrap();
        }
        assert_eq!(
            execution.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            execution.error
        );
        let expected = match i % 2 {
            0 => "HELLO MARS MARS INSTANCE FIRST",
            _ => "BONJOUR VENUS VENUS INSTANCE SECOND",
        };
        assert_eq!(execution.result.unwrap()["data"], json!(expected));
    }
    stop.send(true).unwrap();
    running.await.unwrap();
}
