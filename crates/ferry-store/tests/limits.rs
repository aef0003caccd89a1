//! Concurrency limits in the claim, on SQLite and PostgreSQL alike: executions over a limit
//! stay queued and are claimed as others end, whatever number of workers claim at once.

use std::collections::HashMap;
use std::time::Duration;

use ferry_core::execution::ExecutionStatus;
use ferry_store::testing::{fixture, Fixture, TestStore};
use ferry_store::{
    Claimed, ConcurrencyLimits, EndRecords, Ending, ExecutionFilter, NewExecution, NewInstance,
    PageRequest, Store,
};
use serde_json::json;
use uuid::Uuid;

ferry_store::store_tests!(
    an_instance_runs_at_most_its_limit_while_other_instances_run_freely,
    an_organization_runs_at_most_its_limit_across_its_instances,
);

const LEASE: Duration = Duration::from_secs(30);

/// A second instance of the fixture's version, for the same customer.
async fn second_instance(t: &TestStore, f: &Fixture) -> Uuid {
    let new = NewInstance {
        customer_id: f.customer,
        version_id: f.instance.version_id,
        name: "Venus instance".into(),
        description: String::new(),
        config_values: vec![],
        flow_keys: vec!["work".into()],
    };
    t.store.create_instance(&f.org, new).await.unwrap().id
}

async fn enqueue(t: &TestStore, f: &Fixture, instance: Uuid, count: u32) -> Vec<Uuid> {
    let flow_config = t
        .store
        .instance(&f.org, instance)
        .await
        .unwrap()
        .flow_configs[0]
        .id;
    let mut ids = Vec::new();
    for n in 0..count {
        let new = NewExecution {
            instance_id: instance,
            customer_id: f.customer,
            flow_config_id: flow_config,
            flow_key: "work".into(),
            is_synchronous: false,
            trigger_payload: json!({ "n": n }).into(),
            invoked_by: None,
            replay_for: None,
            cancellation_key: None,
            fifo: false,
        };
        ids.push(t.store.enqueue_execution(&f.org, new).await.unwrap().id);
    }
    ids
}

/// A claimed execution and the worker that holds it.
type Held = (String, Claimed);

/// Four workers claiming at once, as four nodes would.
async fn claim_together(store: &Store) -> Vec<Held> {
    let claims = (0..4).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let owner = format!("w{w}");
            let claimed = store.claim_executions(&owner, 10, LEASE).await.unwrap();
            claimed
                .into_iter()
                .map(move |c| (owner.clone(), c))
                .collect::<Vec<_>>()
        })
    });
    let mut all = Vec::new();
    for claim in futures::future::join_all(claims).await {
        all.extend(claim.unwrap());
    }
    all
}

async fn finish(store: &Store, (owner, claimed): &Held) {
    let ended = store
        .finish_execution(
            claimed.org_id,
            claimed.execution.id,
            owner,
            &Ending::succeeded(None),
            EndRecords::default(),
        )
        .await
        .unwrap();
    assert!(ended);
}

/// Running executions per instance, as the store sees them.
async fn running_per_instance(t: &TestStore, f: &Fixture) -> HashMap<Uuid, usize> {
    let filter = ExecutionFilter {
        status: Some(ExecutionStatus::Running),
        ..Default::default()
    };
    let page = t
        .store
        .executions(&f.org, &filter, &PageRequest::first_page())
        .await
        .unwrap();
    let mut counts = HashMap::new();
    for (execution, _) in page.items {
        *counts.entry(execution.instance_id).or_default() += 1;
    }
    counts
}

async fn an_instance_runs_at_most_its_limit_while_other_instances_run_freely(t: &TestStore) {
    let f = fixture(&t.store, &["work"]).await;
    let store = t.store.clone().with_concurrency_limits(ConcurrencyLimits {
        per_instance: Some(2),
        ..Default::default()
    });
    let busy = f.instance.id;
    let other = second_instance(t, &f).await;
    let queued = enqueue(t, &f, busy, 6).await;
    let free = enqueue(t, &f, other, 3).await;

    let mut running = claim_together(&store).await;
    let counts = running_per_instance(t, &f).await;
    assert_eq!(
        counts.get(&busy),
        Some(&2),
        "the limited instance runs 2 of its 6"
    );
    assert_eq!(
        counts.get(&other),
        Some(&2),
        "the other instance runs under its own limit"
    );
    let first: Vec<Uuid> = running.iter().map(|(_, c)| c.execution.id).collect();
    assert!(
        first.contains(&queued[0]) && first.contains(&queued[1]),
        "oldest first"
    );
    assert!(first.contains(&free[0]) && first.contains(&free[1]));

    let mut done = Vec::new();
    while !running.is_empty() {
        for held in running.drain(..1) {
            finish(&store, &held).await;
            done.push(held.1.execution.id);
        }
        running.extend(claim_together(&store).await);
        let counts = running_per_instance(t, &f).await;
        assert!(
            counts.values().all(|&n| n <= 2),
            "over the limit: {counts:?}"
        );
        running = still_running(t, &f, running).await;
    }
    assert_eq!(
        done.len(),
        9,
        "every execution ran, none was lost or failed"
    );
}

/// The claimed executions still RUNNING (claims return them; the store is the truth).
async fn still_running(t: &TestStore, f: &Fixture, claimed: Vec<Held>) -> Vec<Held> {
    let mut left = Vec::new();
    for held in claimed {
        let now = t
            .store
            .execution(&f.org, held.1.execution.id)
            .await
            .unwrap();
        if now.status == ExecutionStatus::Running {
            left.push(held);
        }
    }
    left
}

async fn an_organization_runs_at_most_its_limit_across_its_instances(t: &TestStore) {
    let f = fixture(&t.store, &["work"]).await;
    let store = t.store.clone().with_concurrency_limits(ConcurrencyLimits {
        per_organization: Some(3),
        per_instance: None,
    });
    let other = second_instance(t, &f).await;
    enqueue(t, &f, f.instance.id, 4).await;
    enqueue(t, &f, other, 4).await;

    let running = claim_together(&store).await;
    assert_eq!(running.len(), 3, "three at once across the organization");
    assert!(
        claim_together(&store).await.is_empty(),
        "the rest stay queued"
    );

    finish(&store, &running[0]).await;
    let next = claim_together(&store).await;
    assert_eq!(next.len(), 1, "one place freed, one execution taken");

    let unlimited = t.store.claim_executions("plain", 10, LEASE).await.unwrap();
    assert_eq!(unlimited.len(), 4, "a store without limits takes the rest");
}
