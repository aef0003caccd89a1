//! Durability against a crash: `ferry serve` is killed (SIGKILL) while webhooks arrive and
//! executions run, then started again. Every webhook it acknowledged has exactly one
//! execution, and every execution ends, resumed after its last committed step.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::Served;

ferry_store::store_tests!(a_killed_server_loses_nothing_it_acknowledged);

const SLOW: &str = r#"
name: Slow
flows:
  - name: Slow
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Before, action: log.write, inputs: { message: "before {{ steps.trigger.results.body.data.n }}" } }
      - { name: Nap, action: sleep, inputs: { seconds: 1 } }
      - { name: After, action: log.write, inputs: { message: "after {{ steps.trigger.results.body.data.n }}" } }
"#;

async fn gql(served: &Served, token: &str, query: &str, variables: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api", served.url))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["data"].clone()
}

/// Posts `count` requests at once; gives the execution ids of those acknowledged.
async fn fire(url: &str, count: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let sends = (0..count).map(|n| {
        let request = client
            .post(url)
            .json(&json!({ "n": n }))
            .timeout(Duration::from_secs(5));
        async move {
            let response = request.send().await.ok()?;
            if response.status() != 200 {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            body["executionId"].as_str().map(str::to_string)
        }
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn a_killed_server_loses_nothing_it_acknowledged(store: &TestStore) {
    let mut served = Served::start(store);
    let path = served.file("slow.yml", SLOW);
    let integration = served
        .ok(&["integrations:import", "--path", &path])
        .trim()
        .to_string();
    let token = served.ok(&["me:token"]).trim().to_string();
    let urls = "query ($id: ID!) { integration(id: $id) { testInstance { id flowConfigs { nodes { webhookUrl } } } } }";
    let found = gql(&served, &token, urls, json!({ "id": integration })).await;
    let test_instance = found["integration"]["testInstance"].clone();
    let url = test_instance["flowConfigs"]["nodes"][0]["webhookUrl"]
        .as_str()
        .unwrap()
        .to_string();

    // A first wave is acknowledged and starts running; a second is under way at the kill.
    let mut acknowledged = fire(&url, 20).await;
    assert_eq!(acknowledged.len(), 20);
    let second = tokio::spawn({
        let url = url.clone();
        async move { fire(&url, 40).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    acknowledged.extend(second.await.unwrap());

    served.restart(store);
    let runs = "query ($id: ID!) { executionResults(instance: $id, first: 500) { nodes { id status attempt } } }";
    let deadline = Instant::now() + Duration::from_secs(60);
    let nodes = loop {
        let listed = gql(&served, &token, runs, json!({ "id": test_instance["id"] })).await;
        let nodes = listed["executionResults"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        if nodes.iter().all(|n| n["status"] == "SUCCEEDED") {
            break nodes;
        }
        assert!(
            Instant::now() < deadline,
            "executions still unfinished a minute after the restart: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    for id in &acknowledged {
        assert!(
            unique.contains(id.as_str()),
            "acknowledged execution {id} is missing"
        );
    }
    let resumed = nodes
        .iter()
        .filter(|n| n["attempt"].as_i64() > Some(1))
        .count();
    assert!(
        resumed > 0,
        "some executions were interrupted by the kill and resumed"
    );
}
