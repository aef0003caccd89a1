//! Flow control on webhooks: FIFO flows run one execution at a time in arrival order, a
//! dedupe field drops repeats of a request within ten minutes, and a per-endpoint rate limit
//! answers 429 with `Retry-After` beyond it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    a_fifo_flow_runs_one_execution_at_a_time_in_arrival_order,
    a_repeated_dedupe_id_is_dropped,
    requests_over_the_rate_limit_are_refused_with_retry_after,
);

const DEFINITION: &str = r#"
name: Flow Control
flows:
  - name: Ordered
    trigger: { type: webhook, endpointSecurityType: unsecured, queueConfig: { usesFifoQueue: true } }
    steps:
      - { name: Pause, action: sleep, inputs: { seconds: 0.2 } }
      - { name: Record, action: state.append, inputs: { scope: flow, key: order, value: "{{ steps.trigger.results.body.data.n }}" } }
  - name: Once
    trigger: { type: webhook, endpointSecurityType: unsecured, queueConfig: { dedupeIdField: body.data.eventId } }
    steps:
      - { name: Note, action: log.write, inputs: { message: "event {{ steps.trigger.results.body.data.eventId }}" } }
"#;

async fn setup(server: &TestServer) -> Value {
    let integration = server.publish(DEFINITION).await;
    let customer = server.customer("Mars", "mars").await;
    server.instance(&integration, &customer, json!([])).await.1
}

async fn post(server: &TestServer, url: &Value, body: Value) -> Value {
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

const RUNS: &str = "query ($flow: String) { executionResults(flow: $flow) { totalCount nodes { id status startedAt endedAt result } } }";

async fn a_fifo_flow_runs_one_execution_at_a_time_in_arrival_order(store: &TestStore) {
    let server = TestServer::start(store).await;
    let urls = setup(&server).await;
    for n in 1..=5 {
        post(&server, &urls["Ordered"], json!({ "n": n })).await;
    }
    let mut runs = Value::Null;
    for _ in 0..100 {
        runs = server.gql(RUNS, json!({ "flow": "Ordered" })).await["executionResults"].clone();
        let nodes = runs["nodes"].as_array().unwrap();
        if nodes.len() == 5 && nodes.iter().all(|n| n["status"] == "SUCCEEDED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut nodes = runs["nodes"].as_array().unwrap().clone();
    nodes.reverse(); // oldest first
    assert!(nodes.iter().all(|n| n["status"] == "SUCCEEDED"), "{runs}");
    let time = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    for pair in nodes.windows(2) {
        assert!(
            time(&pair[1]["startedAt"]) >= time(&pair[0]["endedAt"]),
            "one at a time: {runs}"
        );
    }
    // Each saw the state its predecessor left: no append was lost to a concurrent one.
    assert_eq!(nodes[4]["result"], json!({ "data": [1, 2, 3, 4, 5] }));
}

async fn a_repeated_dedupe_id_is_dropped(store: &TestStore) {
    let server = TestServer::start(store).await;
    let urls = setup(&server).await;
    let first = post(&server, &urls["Once"], json!({ "eventId": "e-1" })).await;
    let again = post(&server, &urls["Once"], json!({ "eventId": "e-1" })).await;
    assert_eq!(
        again["executionId"], first["executionId"],
        "the repeat names the first execution"
    );
    assert_eq!(again["duplicate"], true);
    assert_eq!(first.get("duplicate"), None);
    let other = post(&server, &urls["Once"], json!({ "eventId": "e-2" })).await;
    assert_ne!(other["executionId"], first["executionId"]);
    let without = post(&server, &urls["Once"], json!({})).await;
    assert!(
        without.get("duplicate").is_none(),
        "a request without the field is never a repeat"
    );
    let runs = server.gql(RUNS, json!({ "flow": "Once" })).await;
    assert_eq!(runs["executionResults"]["totalCount"], 3);
}

async fn requests_over_the_rate_limit_are_refused_with_retry_after(store: &TestStore) {
    let server =
        TestServer::start_with(store, |options| options.webhook_rate_limit = Some(2)).await;
    let urls = setup(&server).await;
    let url = urls["Once"].as_str().unwrap();
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..5 {
        let response = server.http.post(url).json(&json!({})).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry_after = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .to_string();
            refused = Some((retry_after, response.json::<Value>().await.unwrap()));
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 429, 429],
        "a burst of one second's worth"
    );
    let (retry_after, body) = refused.unwrap();
    assert_eq!(retry_after, "1");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("at most 2 requests per second"));
    let runs = server.gql(RUNS, json!({ "flow": "Once" })).await;
    assert_eq!(
        runs["executionResults"]["totalCount"], 2,
        "refused requests queue nothing"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = server.http.post(url).json(&json!({})).send().await.unwrap();
    assert_eq!(later.status(), 200);
}
