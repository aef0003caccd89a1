//! Retention in the store, on SQLite and PostgreSQL alike: old step results and log lines go,
//! recent ones and the executions stay, in batches of the size asked.

use chrono::{Duration, Utc};
use ferry_core::execution::{LogLine, Severity, StepResult};
use ferry_store::testing::{fixture, Fixture, TestStore};
use ferry_store::{LogFilter, NewExecution, PageRequest, PruneScope};
use serde_json::json;
use uuid::{NoContext, Timestamp, Uuid};

ferry_store::store_tests!(
    records_past_the_cutoff_are_pruned_in_batches,
    an_organization_with_its_own_period_is_pruned_by_it,
);

/// A uuid v7 made `days` ago, as a row written then would have.
fn id_days_ago(days: i64) -> Uuid {
    let at = Utc::now() - Duration::days(days);
    Uuid::new_v7(Timestamp::from_unix(NoContext, at.timestamp() as u64, 0))
}

/// A queued execution of the fixture's flow, to hang records on.
async fn execution(t: &TestStore, f: &Fixture) -> ferry_core::execution::Execution {
    let new = NewExecution {
        instance_id: f.instance.id,
        customer_id: f.customer,
        flow_config_id: f.instance.flow_configs[0].id,
        flow_key: "f".into(),
        is_synchronous: false,
        trigger_payload: json!({}).into(),
        invoked_by: None,
        replay_for: None,
        cancellation_key: None,
        fifo: false,
    };
    t.store.enqueue_execution(&f.org, new).await.unwrap()
}

async fn records_past_the_cutoff_are_pruned_in_batches(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let execution = execution(t, &f).await;
    for (n, days) in [(0, 20), (1, 20), (2, 20), (3, 1)] {
        let mut line = LogLine::new(execution.id, Severity::Info, "line", None);
        line.id = id_days_ago(days);
        let step = StepResult {
            id: id_days_ago(days),
            execution_id: execution.id,
            step_key: format!("s:{n}"),
            step_name: "S".into(),
            loop_path: n.to_string(),
            results: Some(json!(n)),
            from_trigger: false,
            error: None,
            effects: Default::default(),
            started_at: Utc::now(),
            ended_at: Utc::now(),
        };
        t.store
            .record_step(f.org.org_id, &step, &[line])
            .await
            .unwrap();
    }
    let cutoff = Utc::now() - Duration::days(14);
    let first = t.store.prune(PruneScope::Default, cutoff, 2).await.unwrap();
    assert_eq!(
        (first.step_results, first.logs),
        (2, 2),
        "a batch at a time"
    );
    let second = t.store.prune(PruneScope::Default, cutoff, 2).await.unwrap();
    assert_eq!((second.step_results, second.logs), (1, 1));
    assert_eq!(
        t.store
            .prune(PruneScope::Default, cutoff, 2)
            .await
            .unwrap()
            .total(),
        0
    );

    assert_eq!(
        t.store
            .count_step_results(&f.org, execution.id, None)
            .await
            .unwrap(),
        1,
        "the recent one stays"
    );
    let logs = LogFilter {
        execution_id: Some(execution.id),
        severities: vec![],
    };
    assert_eq!(t.store.count_logs(&f.org, &logs).await.unwrap(), 1);
    let page = t
        .store
        .step_results(&f.org, execution.id, None, &PageRequest::first_page())
        .await
        .unwrap();
    assert_eq!(page.items[0].0.results, Some(json!(3)));
    assert!(
        t.store.execution(&f.org, execution.id).await.is_ok(),
        "executions are kept"
    );
}

async fn an_organization_with_its_own_period_is_pruned_by_it(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let execution = execution(t, &f).await;
    for (n, days) in [(0, 20), (1, 5), (2, 1)] {
        let step = StepResult {
            id: id_days_ago(days),
            execution_id: execution.id,
            step_key: format!("s:{n}"),
            step_name: "S".into(),
            loop_path: n.to_string(),
            results: Some(json!(n)),
            from_trigger: false,
            error: None,
            effects: Default::default(),
            started_at: Utc::now(),
            ended_at: Utc::now(),
        };
        t.store.record_step(f.org.org_id, &step, &[]).await.unwrap();
    }
    let org = t.store.set_retention_days(&f.org, Some(3)).await.unwrap();
    assert_eq!(org.retention_days, Some(3));
    assert_eq!(
        t.store.retention_overrides().await.unwrap(),
        vec![(f.org.org_id, 3)]
    );
    let refused = t.store.set_retention_days(&f.org, Some(0)).await;
    assert!(refused.unwrap_err().to_string().contains("retentionDays"));

    let server_wide = Utc::now() - Duration::days(14);
    let pruned = t
        .store
        .prune(PruneScope::Default, server_wide, 100)
        .await
        .unwrap();
    assert_eq!(
        pruned.step_results, 0,
        "the server-wide pass leaves the organization alone"
    );
    let own = Utc::now() - Duration::days(3);
    let pruned = t
        .store
        .prune(PruneScope::Organization(f.org.org_id), own, 100)
        .await
        .unwrap();
    assert_eq!(
        pruned.step_results, 2,
        "its 20- and 5-day-old records go by its 3 days"
    );
    assert_eq!(
        t.store
            .count_step_results(&f.org, execution.id, None)
            .await
            .unwrap(),
        1
    );

    t.store.set_retention_days(&f.org, None).await.unwrap();
    assert!(t.store.retention_overrides().await.unwrap().is_empty());
}
