//! Automatic retries, their cancellation by a newer request, and replays: a failed execution
//! of a flow with `retryConfig` waits as FAILED_RETRY_PENDING while a linked retry is queued
//! for later; replays run the original payload again, linked both ways.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_store::testing::{make_retries_due, TestStore};
use serde_json::{json, Value};

use crate::fake_api::FakeApi;
use crate::harness::TestServer;

ferry_store::store_tests!(
    a_failed_execution_is_retried_later_until_it_succeeds,
    a_newer_request_with_the_same_id_cancels_pending_retries,
    a_replay_runs_the_original_payload_again_linked_to_it,
);

const DEFINITION: &str = r#"
name: Retries
requiredConfigVars:
  - { key: API, dataType: string }
flows:
  - name: Flaky
    trigger: { type: webhook, endpointSecurityType: unsecured }
    retryConfig: { maxAttempts: 2, delayMinutes: 3, usesExponentialBackoff: true, uniqueRequestIdField: body.data.orderId }
    steps:
      - { name: Call, action: http.request, inputs: { url: "{{ configVars.API }}/orders" } }
  - name: Broken
    trigger: { type: webhook, endpointSecurityType: unsecured }
    retryConfig: { maxAttempts: 3, delayMinutes: 1, uniqueRequestIdField: body.data.orderId }
    steps:
      - { name: Parse, action: format.jsonParse, inputs: { text: "not json" } }
"#;

const EXECUTION: &str =
    "query ($id: ID!) { executionResult(id: $id) { id status error retryAttemptNumber notBefore \
    retryForExecution { id } replayForExecution { id } triggerPayload \
    retries { totalCount nodes { id status retryAttemptNumber notBefore } } \
    replays { totalCount nodes { id } } successful: replays(error_Isnull: true) { totalCount } } }";

async fn execution(server: &TestServer, id: &str) -> Value {
    server.gql(EXECUTION, json!({ "id": id })).await["executionResult"].clone()
}

/// Waits until the execution's status is one of `statuses` (10 s at most).
async fn settled(server: &TestServer, id: &str, statuses: &[&str]) -> Value {
    for _ in 0..100 {
        let found = execution(server, id).await;
        if statuses.contains(&found["status"].as_str().unwrap_or("")) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "execution {id} never reached {statuses:?}: {}",
        execution(server, id).await
    );
}

async fn setup(server: &TestServer, api: &str) -> Value {
    let integration = server.publish(DEFINITION).await;
    let customer = server.customer("Mars", "mars").await;
    server
        .instance(
            &integration,
            &customer,
            json!([{ "key": "API", "value": api }]),
        )
        .await
        .1
}

async fn post(server: &TestServer, url: &Value, body: Value) -> String {
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["executionId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn minutes_from_now(at: &Value) -> i64 {
    let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
    (at - Utc::now()).num_seconds().div_euclid(60) + 1
}

async fn a_failed_execution_is_retried_later_until_it_succeeds(store: &TestStore) {
    let server = TestServer::start(store).await;
    // The API fails twice, then answers.
    let api = FakeApi::start(|_, count| {
        if count < 2 {
            (503, json!({}))
        } else {
            (200, json!({ "ok": true }))
        }
    })
    .await;
    let urls = setup(&server, &api.url).await;
    let first = post(&server, &urls["Flaky"], json!({ "orderId": "A-1" })).await;

    let failed = settled(&server, &first, &["FAILED_RETRY_PENDING"]).await;
    assert!(
        failed["error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    let retry = &failed["retries"]["nodes"][0];
    assert_eq!(
        (
            retry["status"].as_str(),
            retry["retryAttemptNumber"].as_i64()
        ),
        (Some("QUEUED"), Some(1))
    );
    assert_eq!(
        minutes_from_now(&retry["notBefore"]),
        3,
        "the first retry waits the configured 3 minutes"
    );
    let retry_id = retry["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        execution(&server, &retry_id).await["status"],
        "QUEUED",
        "not before its time"
    );

    make_retries_due(&server.store).await;
    let second = settled(&server, &retry_id, &["FAILED_RETRY_PENDING"]).await;
    assert_eq!(second["retryForExecution"]["id"], first.as_str());
    let chain = execution(&server, &first).await;
    assert_eq!(chain["retries"]["totalCount"], 2);
    let last = chain["retries"]["nodes"][0].clone();
    assert_eq!(last["retryAttemptNumber"], 2);
    assert_eq!(
        minutes_from_now(&last["notBefore"]),
        6,
        "exponential backoff doubles the wait"
    );

    make_retries_due(&server.store).await;
    let done = settled(
        &server,
        last["id"].as_str().unwrap(),
        &["SUCCEEDED", "FAILED"],
    )
    .await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(
        execution(&server, &first).await["status"],
        "FAILED",
        "no retry pending any more"
    );
    assert_eq!(execution(&server, &retry_id).await["status"], "FAILED");
    assert_eq!(api.received().len(), 3);
}

async fn a_newer_request_with_the_same_id_cancels_pending_retries(store: &TestStore) {
    let server = TestServer::start(store).await;
    let urls = setup(&server, "http://127.0.0.1:9").await;
    let older = post(&server, &urls["Broken"], json!({ "orderId": "X" })).await;
    let pending = settled(&server, &older, &["FAILED_RETRY_PENDING"]).await;
    let retry = pending["retries"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = post(&server, &urls["Broken"], json!({ "orderId": "Y" })).await;
    settled(&server, &other, &["FAILED_RETRY_PENDING"]).await;

    let newer = post(&server, &urls["Broken"], json!({ "orderId": "X" })).await;
    let cancelled = execution(&server, &retry).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(cancelled["error"]
        .as_str()
        .unwrap()
        .contains("newer request"));
    assert_eq!(execution(&server, &older).await["status"], "FAILED");
    let other_retries = execution(&server, &other).await["retries"]["nodes"][0]["status"].clone();
    assert_eq!(
        other_retries, "QUEUED",
        "another id's retries are left alone"
    );
    settled(&server, &newer, &["FAILED_RETRY_PENDING"]).await;
}

async fn a_replay_runs_the_original_payload_again_linked_to_it(store: &TestStore) {
    let server = TestServer::start(store).await;
    let urls = setup(&server, "http://127.0.0.1:9").await;
    let original = post(&server, &urls["Broken"], json!({ "orderId": "Z" })).await;
    settled(&server, &original, &["FAILED_RETRY_PENDING"]).await;

    let replay = "mutation ($id: ID!) { replayExecution(input: { id: $id }) { instanceExecutionResult { id } errors { field messages } } }";
    let replayed = server.gql(replay, json!({ "id": original })).await;
    let copy = replayed["replayExecution"]["instanceExecutionResult"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(copy, original);
    let copy = settled(&server, &copy, &["FAILED_RETRY_PENDING", "FAILED"]).await;
    assert_eq!(copy["replayForExecution"]["id"], original.as_str());
    assert_eq!(
        copy["triggerPayload"]["body"]["data"],
        json!({ "orderId": "Z" })
    );

    let linked = execution(&server, &original).await;
    assert_eq!(linked["replays"]["totalCount"], 1);
    assert_eq!(
        linked["successful"]["totalCount"], 0,
        "the replay failed too"
    );
    let originals = server
        .gql("{ executionResults(error_Isnull: false, replayForExecution_Isnull: true) { nodes { id } } }", json!({}))
        .await;
    let ids: Vec<&str> = originals["executionResults"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&original.as_str()) && !ids.contains(&copy["id"].as_str().unwrap()),
        "{ids:?}"
    );

    let bad = server.gql(replay, json!({ "id": "nope" })).await;
    assert_eq!(bad["replayExecution"]["errors"][0]["field"], "id");
}
