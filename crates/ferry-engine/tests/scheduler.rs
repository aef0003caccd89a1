//! The scheduler loop against a real store (SQLite and PostgreSQL): it queues one execution
//! per tick with the schedule's payload, a singleton schedule waits for its execution to end,
//! and the loop ends when asked to stop.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_core::execution::Execution;
use ferry_engine::scheduler::{next_fire_time, Scheduler, SchedulerOptions};
use ferry_store::testing::TestStore;
use ferry_store::{ExecutionFilter, NewSchedule, PageRequest, Store, Tenant};
use tokio::sync::watch;

ferry_store::store_tests!(the_scheduler_queues_each_tick_until_stopped);

/// An instance with flows `every-second` and `singleton`, both scheduled every second.
async fn scheduled_instance(store: &Store) -> (Tenant, uuid::Uuid) {
    let f = ferry_store::testing::fixture(store, &["every-second", "singleton"]).await;
    let (org, instance) = (f.org, f.instance);
    let first = next_fire_time("* * * * * *", Some("Europe/Paris"), Utc::now()).unwrap();
    let schedules: Vec<NewSchedule> = instance
        .flow_configs
        .iter()
        .map(|flow| NewSchedule {
            flow_config_id: flow.id,
            cron: "* * * * * *".into(),
            timezone: "Europe/Paris".into(),
            singleton: flow.flow_key == "singleton",
            next_fire_at: first,
        })
        .collect();
    store
        .replace_schedules(&org, instance.id, &schedules)
        .await
        .unwrap();
    (org, instance.id)
}

async fn queued(store: &Store, org: &Tenant, flow_key: &str) -> Vec<Execution> {
    let page = PageRequest::new(Some(500), None).unwrap();
    let all = store
        .executions(org, &ExecutionFilter::default(), &page)
        .await
        .unwrap();
    all.items
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| e.flow_key == flow_key)
        .collect()
}

async fn the_scheduler_queues_each_tick_until_stopped(t: &TestStore) {
    let (org, instance) = scheduled_instance(&t.store).await;
    let options = SchedulerOptions {
        poll_interval: Duration::from_millis(250),
        ..Default::default()
    };
    let (stop, stopped) = watch::channel(false);
    let scheduler = tokio::spawn(Scheduler::with_options(t.store.clone(), options).run(stopped));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while queued(&t.store, &org, "every-second").await.len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "three ticks within ten seconds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), scheduler)
        .await
        .expect("the scheduler stops when asked")
        .unwrap();

    let ticks = queued(&t.store, &org, "every-second").await;
    let mut scheduled: Vec<DateTime<Utc>> = ticks
        .iter()
        .map(|e| {
            e.trigger_payload["scheduledAt"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    scheduled.sort();
    scheduled.dedup();
    assert_eq!(scheduled.len(), ticks.len(), "one execution per tick");
    assert!(
        scheduled.iter().all(|at| at.timestamp_subsec_micros() == 0),
        "on whole seconds"
    );
    let payload = &ticks[0].trigger_payload;
    assert_eq!(payload["cron"], "* * * * * *");
    assert_eq!(payload["timezone"], "Europe/Paris");
    assert_eq!(payload["body"], serde_json::json!({ "data": null }));
    assert!(ticks.iter().all(|e| e.instance_id == instance));

    let singleton = queued(&t.store, &org, "singleton").await;
    assert_eq!(
        singleton.len(),
        1,
        "a singleton waits for its queued execution to end"
    );
}
