//! Three `ferry serve` nodes on one PostgreSQL database, each running its scheduler, with a
//! schedule firing every second: each tick yields exactly one execution across the cluster.
//!
//! The schedule runs for a whole minute, as the durability issue asks: sixty ticks give three
//! schedulers, each looking every 500 ms at most, some 180 chances to take the same tick twice.

use std::collections::BTreeSet;
use std::process::Child;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_store::testing::TestStore;
use ferry_store::{ExecutionFilter, PageRequest, Tenant};

use crate::harness::{free_port, spawn_server, Served};

ferry_store::store_tests!(three_nodes_fire_each_tick_of_a_schedule_once);

/// How long the schedule runs.
const WINDOW: Duration = Duration::from_secs(60);

const FLOW: &str = r#"
name: Every Second
flows:
  - name: Tick
    trigger: { type: schedule, cron: "* * * * * *" }
    steps:
      - { name: Say, action: log.write, inputs: { message: tick } }
"#;

/// Every `scheduledAt` of the instance's executions, in order, with repeats.
async fn ticks(store: &TestStore, instance: uuid::Uuid) -> Vec<DateTime<Utc>> {
    let org = store.store.bootstrap_organization().await.unwrap().unwrap();
    let filter = ExecutionFilter {
        instance_id: Some(instance),
        ..Default::default()
    };
    let mut ticks = Vec::new();
    let mut after = None;
    loop {
        let page = PageRequest::new(Some(500), after.clone()).unwrap();
        let found = store
            .store
            .executions(&Tenant::organization(org), &filter, &page)
            .await
            .unwrap();
        for (execution, cursor) in &found.items {
            let at = execution.trigger_payload["scheduledAt"].as_str().unwrap();
            ticks.push(at.parse().unwrap());
            after = Some(cursor.clone());
        }
        if !found.has_next_page {
            break;
        }
    }
    ticks.sort();
    ticks
}

async fn three_nodes_fire_each_tick_of_a_schedule_once(store: &TestStore) {
    if store.store.kind() != "postgres" {
        return; // SQLite serves one process
    }
    let first = Served::start(store);
    let others: Vec<Child> = (0..2)
        .map(|_| spawn_server(store, free_port(), first.data_dir.path(), &[]))
        .collect();
    let path = first.file("tick.yml", FLOW);
    first.ok(&["integrations:import", "--path", &path]);
    first.ok(&["integrations:publish", "Every Second"]);
    first.ok(&["customers:create", "-n", "Mars", "-e", "mars"]);
    let create = [
        "instances:create",
        "-n",
        "Ticker",
        "-i",
        "Every Second",
        "-c",
        "mars",
    ];
    let id = first.ok(&create).trim().to_string();
    let instance = ferry_core::id::decode(ferry_core::id::Kind::Instance, &id).unwrap();
    first.ok(&["instances:deploy", "Ticker"]);
    tokio::time::sleep(WINDOW).await;
    first.ok(&["instances:disable", "Ticker"]);
    for mut node in others {
        let _ = node.kill();
        let _ = node.wait();
    }

    let fired = ticks(store, instance).await;
    let distinct: BTreeSet<_> = fired.iter().collect();
    assert_eq!(distinct.len(), fired.len(), "a tick fired twice: {fired:?}");
    let expected = WINDOW.as_secs() as usize;
    assert!(
        fired.len() + 3 >= expected && fired.len() <= expected + 3,
        "{} ticks fired in {expected} s",
        fired.len()
    );
    let gaps: Vec<i64> = fired
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    assert!(
        gaps.iter().all(|&gap| gap == 1000),
        "one execution per second: {gaps:?}"
    );
}
