//! Splitting roles across nodes: an `api` node takes webhooks and queues executions but runs
//! none; a `worker` node on the same store runs them and serves no API.

use std::time::{Duration, Instant};

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::{free_port, spawn_server, Served};

ferry_store::store_tests!(an_api_node_queues_and_a_worker_node_runs);

const FLOW: &str = r#"
name: Split
flows:
  - name: Note
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Say, action: log.write, inputs: { message: hello } }
"#;

async fn status(served: &Served, token: &str, id: &str) -> String {
    let query = json!({ "query": "query ($id: ID!) { executionResult(id: $id) { status } }", "variables": { "id": id } });
    let response = reqwest::Client::new()
        .post(format!("{}/api", served.url))
        .bearer_auth(token)
        .json(&query)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["data"]["executionResult"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn an_api_node_queues_and_a_worker_node_runs(store: &TestStore) {
    let api = Served::start_with(store, &[("FERRY_ROLE", "api,scheduler")]);
    let path = api.file("split.yml", FLOW);
    let integration = api
        .ok(&["integrations:import", "--path", &path])
        .trim()
        .to_string();
    let token = api.ok(&["me:token"]).trim().to_string();
    let query = json!({
        "query": "query ($id: ID!) { integration(id: $id) { testInstance { flowConfigs { nodes { webhookUrl } } } } }",
        "variables": { "id": integration },
    });
    let client = reqwest::Client::new();
    let found: Value = client
        .post(format!("{}/api", api.url))
        .bearer_auth(&token)
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = found["data"]["integration"]["testInstance"]["flowConfigs"]["nodes"][0]["webhookUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let queued: Value = client
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = queued["executionId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status(&api, &token, &id).await,
        "QUEUED",
        "an api-only node runs nothing"
    );

    let port = free_port();
    let mut worker = spawn_server(
        store,
        port,
        api.data_dir.path(),
        &[("FERRY_ROLE", "worker")],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = status(&api, &token, &id).await;
        if seen == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let no_api = client
        .post(format!("http://127.0.0.1:{port}/api"))
        .bearer_auth(&token)
        .json(&query)
        .send()
        .await
        .unwrap()
        .status();
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(seen, "SUCCEEDED", "the worker node ran it");
    assert_eq!(no_api, 404, "a worker-only node serves no API");
}
