//! Schedules on SQLite and PostgreSQL alike: a due tick is advanced and its execution queued
//! together, once, however many schedulers fire at the same time; missed ticks fire once;
//! singleton schedules and paused instances skip; deploys replace schedules; deleting an
//! instance deletes them.

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use ferry_core::execution::ExecutionStatus;
use ferry_store::testing::{fixture, TestStore};
use ferry_store::{
    Cadence, EndRecords, Ending, ExecutionFilter, NewSchedule, PageRequest, Schedule, Store,
    StoreError, Tenant, TickOutcome,
};
use serde_json::{json, Value};
use uuid::Uuid;

ferry_store::store_tests!(
    each_due_tick_fires_exactly_once_across_concurrent_schedulers,
    ticks_missed_while_down_fire_once,
    a_singleton_schedule_skips_while_its_execution_is_queued_or_running,
    a_paused_instance_advances_without_firing,
    a_redeploy_replaces_schedules_and_keeps_unchanged_ticks,
    deleting_an_instance_deletes_its_schedules,
    a_schedule_without_a_next_time_stops,
    one_firing_advances_each_schedule_to_its_own_next_tick,
);

/// Fires on every minute; the cron text `never` has no next time.
struct EveryMinute;

impl Cadence for EveryMinute {
    fn next_fire_at(
        &self,
        schedule: &Schedule,
        after: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        if schedule.cron == "never" {
            return Err("never fires".into());
        }
        Ok(after.duration_trunc(TimeDelta::minutes(1)).unwrap() + TimeDelta::minutes(1))
    }

    fn payload(&self, schedule: &Schedule) -> Value {
        json!({ "scheduledAt": schedule.next_fire_at, "cron": schedule.cron })
    }
}

fn t0() -> DateTime<Utc> {
    "2025-01-06T09:00:00Z".parse().unwrap()
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

struct Setup {
    org: Tenant,
    instance: Uuid,
    customer: Uuid,
    flow_configs: Vec<Uuid>,
}

/// An organization with one instance whose `flows` flows each have a flow config.
async fn setup(t: &TestStore, flows: usize) -> Setup {
    let keys: Vec<String> = (0..flows).map(|i| format!("flow-{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let f = fixture(&t.store, &keys).await;
    Setup {
        org: f.org,
        instance: f.instance.id,
        customer: f.customer,
        flow_configs: f.instance.flow_configs.iter().map(|c| c.id).collect(),
    }
}

fn schedule(flow_config_id: Uuid, cron: &str, next_fire_at: DateTime<Utc>) -> NewSchedule {
    NewSchedule {
        flow_config_id,
        cron: cron.into(),
        timezone: "UTC".into(),
        singleton: false,
        next_fire_at,
    }
}

async fn executions(store: &Store, s: &Setup) -> Vec<ferry_core::execution::Execution> {
    let filter = ExecutionFilter {
        instance_id: Some(s.instance),
        ..Default::default()
    };
    let page = PageRequest::new(Some(500), None).unwrap();
    store
        .executions(&s.org, &filter, &page)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|(execution, _cursor)| execution)
        .collect()
}

/// Fires from `schedulers` tasks at once, each until nothing is due; returns how many
/// executions each task queued.
async fn fire_concurrently(store: &Store, now: DateTime<Utc>, schedulers: usize) -> Vec<usize> {
    let tasks: Vec<_> = (0..schedulers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut queued = 0;
                loop {
                    let ticks = store.fire_due(now, 3, &EveryMinute).await.unwrap();
                    if ticks.is_empty() {
                        return queued;
                    }
                    queued += ticks
                        .iter()
                        .filter(|t| matches!(t.outcome, TickOutcome::Queued(_)))
                        .count();
                }
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts
}

async fn each_due_tick_fires_exactly_once_across_concurrent_schedulers(t: &TestStore) {
    let s = setup(t, 12).await;
    let all: Vec<NewSchedule> = s
        .flow_configs
        .iter()
        .map(|id| schedule(*id, "* * * * *", t0()))
        .collect();
    t.store
        .replace_schedules(&s.org, s.instance, &all)
        .await
        .unwrap();

    let first = fire_concurrently(&t.store, t0() + TimeDelta::seconds(1), 4).await;
    assert_eq!(
        first.iter().sum::<usize>(),
        12,
        "one execution per schedule: {first:?}"
    );
    let second = fire_concurrently(&t.store, t0() + minutes(1), 4).await;
    assert_eq!(
        second.iter().sum::<usize>(),
        12,
        "and again on the next tick: {second:?}"
    );

    let queued = executions(&t.store, &s).await;
    assert_eq!(queued.len(), 24);
    for flow_config in &s.flow_configs {
        let ticks: Vec<&Value> = queued
            .iter()
            .filter(|e| e.flow_config_id == *flow_config)
            .map(|e| &e.trigger_payload["scheduledAt"])
            .collect();
        assert_eq!(ticks.len(), 2, "each flow config fired once per tick");
        assert_ne!(ticks[0], ticks[1]);
    }
    assert!(queued
        .iter()
        .all(|e| e.status == ExecutionStatus::Queued && e.customer_id == s.customer));
    assert_eq!(
        t.store.earliest_fire_at().await.unwrap(),
        Some(t0() + minutes(2))
    );
}

async fn ticks_missed_while_down_fire_once(t: &TestStore) {
    let s = setup(t, 1).await;
    let flow_config = s.flow_configs[0];
    t.store
        .replace_schedules(
            &s.org,
            s.instance,
            &[schedule(flow_config, "* * * * *", t0())],
        )
        .await
        .unwrap();

    let back = t0() + minutes(60) + TimeDelta::seconds(30);
    let ticks = t.store.fire_due(back, 100, &EveryMinute).await.unwrap();
    assert_eq!(ticks.len(), 1, "sixty missed ticks fire once");
    let TickOutcome::Queued(execution) = &ticks[0].outcome else {
        panic!("expected an execution, got {:?}", ticks[0].outcome);
    };
    assert_eq!(execution.flow_key, "flow-0");
    assert_eq!(
        execution.trigger_payload,
        json!({ "scheduledAt": t0(), "cron": "* * * * *" })
    );
    assert_eq!(
        ticks[0].next_fire_at,
        Some(t0() + minutes(61)),
        "the next tick is after now"
    );
    assert!(t
        .store
        .fire_due(back, 100, &EveryMinute)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(executions(&t.store, &s).await.len(), 1);
}

async fn a_singleton_schedule_skips_while_its_execution_is_queued_or_running(t: &TestStore) {
    let s = setup(t, 1).await;
    let singleton = NewSchedule {
        singleton: true,
        ..schedule(s.flow_configs[0], "* * * * *", t0())
    };
    t.store
        .replace_schedules(&s.org, s.instance, &[singleton])
        .await
        .unwrap();
    let fire = |minute: i64| t.store.fire_due(t0() + minutes(minute), 100, &EveryMinute);

    assert!(matches!(
        fire(0).await.unwrap()[0].outcome,
        TickOutcome::Queued(_)
    ));
    assert_eq!(
        fire(1).await.unwrap()[0].outcome,
        TickOutcome::SkippedRunning,
        "queued"
    );
    let claimed = t
        .store
        .claim_executions("worker", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        fire(2).await.unwrap()[0].outcome,
        TickOutcome::SkippedRunning,
        "running"
    );
    let ending = Ending::succeeded(None);
    let id = claimed[0].execution.id;
    assert!(t
        .store
        .finish_execution(s.org.org_id, id, "worker", &ending, EndRecords::default())
        .await
        .unwrap());
    assert!(
        matches!(fire(3).await.unwrap()[0].outcome, TickOutcome::Queued(_)),
        "ended: fires again"
    );
    assert_eq!(executions(&t.store, &s).await.len(), 2);
}

async fn a_paused_instance_advances_without_firing(t: &TestStore) {
    let s = setup(t, 1).await;
    t.store
        .replace_schedules(
            &s.org,
            s.instance,
            &[schedule(s.flow_configs[0], "* * * * *", t0())],
        )
        .await
        .unwrap();
    t.store
        .update_instance(&s.org, s.instance, None, None, Some(false))
        .await
        .unwrap();

    let ticks = t.store.fire_due(t0(), 100, &EveryMinute).await.unwrap();
    assert_eq!(ticks[0].outcome, TickOutcome::SkippedPaused);
    assert_eq!(
        ticks[0].next_fire_at,
        Some(t0() + minutes(1)),
        "advanced all the same"
    );
    assert!(executions(&t.store, &s).await.is_empty());

    t.store
        .update_instance(&s.org, s.instance, None, None, Some(true))
        .await
        .unwrap();
    let ticks = t
        .store
        .fire_due(t0() + minutes(1), 100, &EveryMinute)
        .await
        .unwrap();
    assert!(
        matches!(ticks[0].outcome, TickOutcome::Queued(_)),
        "enabled again: fires"
    );
}

async fn a_redeploy_replaces_schedules_and_keeps_unchanged_ticks(t: &TestStore) {
    let s = setup(t, 3).await;
    let [a, b, c] = [s.flow_configs[0], s.flow_configs[1], s.flow_configs[2]];
    let first = [
        schedule(a, "0 * * * *", t0()),
        schedule(b, "0 * * * *", t0()),
    ];
    t.store
        .replace_schedules(&s.org, s.instance, &first)
        .await
        .unwrap();

    let later = t0() + minutes(30);
    let second = [
        schedule(a, "0 * * * *", later),
        schedule(b, "*/5 * * * *", later),
        schedule(c, "0 0 * * *", later),
    ];
    t.store
        .replace_schedules(&s.org, s.instance, &second)
        .await
        .unwrap();
    let stored = t.store.schedules(&s.org, s.instance).await.unwrap();
    let next_of = |id: Uuid| {
        stored
            .iter()
            .find(|x| x.flow_config_id == id)
            .map(|x| (x.cron.as_str(), x.next_fire_at))
    };
    assert_eq!(
        next_of(a),
        Some(("0 * * * *", Some(t0()))),
        "unchanged: keeps its tick"
    );
    assert_eq!(
        next_of(b),
        Some(("*/5 * * * *", Some(later))),
        "changed: the new first tick"
    );
    assert_eq!(next_of(c), Some(("0 0 * * *", Some(later))), "added");

    t.store
        .replace_schedules(&s.org, s.instance, &[schedule(c, "0 0 * * *", later)])
        .await
        .unwrap();
    let left: Vec<Uuid> = t
        .store
        .schedules(&s.org, s.instance)
        .await
        .unwrap()
        .iter()
        .map(|x| x.flow_config_id)
        .collect();
    assert_eq!(left, vec![c], "flows left out lose their schedule");

    let foreign = schedule(Uuid::now_v7(), "0 0 * * *", later);
    let refused = t
        .store
        .replace_schedules(
            &s.org,
            s.instance,
            &[schedule(a, "0 * * * *", later), foreign],
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::NotFound {
                kind: "flow config"
            })
        ),
        "{refused:?}"
    );
    let left: Vec<Uuid> = t
        .store
        .schedules(&s.org, s.instance)
        .await
        .unwrap()
        .iter()
        .map(|x| x.flow_config_id)
        .collect();
    assert_eq!(left, vec![c], "a refused replacement changes nothing");

    let other = Tenant::organization(Uuid::now_v7());
    let hidden = t.store.replace_schedules(&other, s.instance, &[]).await;
    assert!(
        matches!(hidden, Err(StoreError::NotFound { kind: "instance" })),
        "{hidden:?}"
    );
}

async fn deleting_an_instance_deletes_its_schedules(t: &TestStore) {
    let s = setup(t, 1).await;
    t.store
        .replace_schedules(
            &s.org,
            s.instance,
            &[schedule(s.flow_configs[0], "* * * * *", t0())],
        )
        .await
        .unwrap();
    assert_eq!(t.store.earliest_fire_at().await.unwrap(), Some(t0()));

    t.store.delete_instance(&s.org, s.instance).await.unwrap();
    assert_eq!(t.store.earliest_fire_at().await.unwrap(), None);
    assert!(t
        .store
        .fire_due(t0() + minutes(10), 100, &EveryMinute)
        .await
        .unwrap()
        .is_empty());
}

async fn a_schedule_without_a_next_time_stops(t: &TestStore) {
    let s = setup(t, 1).await;
    t.store
        .replace_schedules(
            &s.org,
            s.instance,
            &[schedule(s.flow_configs[0], "never", t0())],
        )
        .await
        .unwrap();

    let ticks = t.store.fire_due(t0(), 100, &EveryMinute).await.unwrap();
    assert_eq!(ticks[0].outcome, TickOutcome::Stopped("never fires".into()));
    assert_eq!(ticks[0].next_fire_at, None);
    assert!(executions(&t.store, &s).await.is_empty());
    assert_eq!(
        t.store.earliest_fire_at().await.unwrap(),
        None,
        "stopped until redeployed"
    );
    assert!(t
        .store
        .fire_due(t0() + minutes(10), 100, &EveryMinute)
        .await
        .unwrap()
        .is_empty());
}

/// The cron text `+N` fires N minutes after the firing; `never` has no next time.
struct Staggered;

impl Cadence for Staggered {
    fn next_fire_at(
        &self,
        schedule: &Schedule,
        after: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        match schedule.cron.strip_prefix('+') {
            Some(n) => Ok(after + minutes(n.parse().unwrap())),
            None => Err("never fires".into()),
        }
    }

    fn payload(&self, schedule: &Schedule) -> Value {
        json!({ "scheduledAt": schedule.next_fire_at })
    }
}

async fn one_firing_advances_each_schedule_to_its_own_next_tick(t: &TestStore) {
    let s = setup(t, 7).await;
    let crons = ["+1", "+1", "+2", "+3", "+3", "never", "+5"];
    let all: Vec<NewSchedule> = s
        .flow_configs
        .iter()
        .zip(crons)
        .map(|(id, cron)| schedule(*id, cron, t0()))
        .collect();
    t.store
        .replace_schedules(&s.org, s.instance, &all)
        .await
        .unwrap();

    let ticks = t.store.fire_due(t0(), 500, &Staggered).await.unwrap();
    assert_eq!(ticks.len(), 7);
    let queued = executions(&t.store, &s).await;
    assert_eq!(
        queued.len(),
        6,
        "every schedule but the stopped one queued once"
    );
    let mut fired: Vec<Uuid> = queued.iter().map(|e| e.flow_config_id).collect();
    fired.sort();
    let mut expected: Vec<Uuid> = s
        .flow_configs
        .iter()
        .zip(crons)
        .filter(|(_, cron)| *cron != "never")
        .map(|(id, _)| *id)
        .collect();
    expected.sort();
    assert_eq!(fired, expected);

    let stored = t.store.schedules(&s.org, s.instance).await.unwrap();
    for schedule in stored {
        let expected =
            (schedule.cron.strip_prefix('+')).map(|n| t0() + minutes(n.parse().unwrap()));
        assert_eq!(schedule.next_fire_at, expected, "{}", schedule.cron);
    }
}
