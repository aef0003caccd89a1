//! Concurrency limits with real executions: with an instance limited to 2, six slow
//! executions never run more than two at a time, while another instance's run beside them;
//! all of them end.

use std::time::{Duration, Instant};

use ferry_core::execution::ExecutionStatus;
use ferry_store::testing::TestStore;
use ferry_store::{ConcurrencyLimits, ExecutionFilter};
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    slow_executions_over_the_instance_limit_wait_their_turn,
    the_node_s_javascript_memory_limit_stops_its_code_steps
);

const FLOW: &str = r#"
name: Slow Test
flows:
  - name: Slow
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Nap, action: sleep, inputs: { seconds: 1 } }
"#;

const HUNGRY: &str = r#"
name: Hungry Test
flows:
  - name: Hungry
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - name: Grow
        action: code.run
        inputs:
          code: |
            module.exports = async () => {
              const kept = [];
              for (let i = 0; i < 100000; i++) kept.push("x".repeat(1000) + i);
              return { data: kept.length };
            };
"#;

async fn count(server: &TestServer, instance: uuid::Uuid, status: ExecutionStatus) -> i64 {
    let filter = ExecutionFilter {
        instance_id: Some(instance),
        status: Some(status),
        ..Default::default()
    };
    server
        .store
        .count_executions(&server.tenant, &filter)
        .await
        .unwrap()
}

async fn post_all(server: &TestServer, url: &Value, n: usize) {
    for _ in 0..n {
        let response = server
            .http
            .post(url.as_str().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

async fn slow_executions_over_the_instance_limit_wait_their_turn(t: &TestStore) {
    let limited = t.store.clone().with_concurrency_limits(ConcurrencyLimits {
        per_instance: Some(2),
        ..Default::default()
    });
    let server = TestServer::start_on(&limited, |_| {}).await;
    let integration = server.publish(FLOW).await;
    let mars = server.customer("Mars", "mars").await;
    let venus = server.customer("Venus", "venus").await;
    let (busy_id, busy) = server.instance(&integration, &mars, json!([])).await;
    let (free_id, free) = server.instance(&integration, &venus, json!([])).await;
    let decode = |id: &str| ferry_core::id::decode(ferry_core::id::Kind::Instance, id).unwrap();
    let (busy_id, free_id) = (decode(&busy_id), decode(&free_id));

    post_all(&server, &busy["Slow"], 6).await;
    post_all(&server, &free["Slow"], 2).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut most, mut free_done_while_busy_queued) = (0, false);
    loop {
        let running = count(&server, busy_id, ExecutionStatus::Running).await;
        let queued = count(&server, busy_id, ExecutionStatus::Queued).await;
        let free_done = count(&server, free_id, ExecutionStatus::Succeeded).await;
        most = most.max(running);
        free_done_while_busy_queued |= free_done == 2 && queued > 0;
        if count(&server, busy_id, ExecutionStatus::Succeeded).await == 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the limited executions did not all end in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        most, 2,
        "never more than two at once, and two when six wait"
    );
    assert!(
        free_done_while_busy_queued,
        "the other instance ran while the limited one waited"
    );
    assert_eq!(count(&server, busy_id, ExecutionStatus::Failed).await, 0);
}

async fn the_node_s_javascript_memory_limit_stops_its_code_steps(t: &TestStore) {
    let server =
        TestServer::start_with(t, |options| options.js.memory_limit_bytes = 16 << 20).await;
    let integration = server.publish(HUNGRY).await;
    let mars = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &mars, json!([])).await;
    let response = server
        .http
        .post(urls["Hungry"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the webhook is acknowledged");
    let body: Value = response.json().await.unwrap();
    let query = "query ($id: ID!) { executionResult(id: $id) { status error } }";
    let ended = server.ended(query, &body["executionId"]).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    let error = ended["error"].as_str().unwrap_or_default();
    assert!(error.contains("memory limit of 16 MiB"), "{error}");
}
