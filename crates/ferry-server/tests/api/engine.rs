//! Executions end to end: a webhook queues an execution, a worker runs its steps against a
//! local HTTP server standing in for a third-party API, and the API shows its status, step
//! results, logs and state; synchronous webhooks answer with the flow's result.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    a_webhook_execution_runs_its_steps_and_shows_them,
    a_synchronous_webhook_answers_with_the_flows_response,
    a_synchronous_webhook_answers_with_a_code_step_s_response,
    a_running_execution_can_be_cancelled,
    flow_invoke_runs_another_flow_and_links_both,
    executions_are_filtered_by_flow_error_and_start_time,
);

const DEFINITION: &str = r#"
name: Engine Test
requiredConfigVars:
  - key: Acme API Key
    dataType: connection
    connection: { type: apiKey }
  - key: Acme Base URL
    dataType: string
flows:
  - name: Sync Order
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - name: Send
        action: http.request
        inputs:
          method: POST
          url: "{{ configVars['Acme Base URL'] }}/orders"
          connection: "{{ configVars['Acme API Key'] }}"
          data: { id: "{{ steps.trigger.results.body.data.id }}", total: "{{ steps.trigger.results.body.data.total }}" }
      - name: Big?
        action: branch.onExpression
        branches:
          - name: Big
            condition: { left: "{{ steps.trigger.results.body.data.total }}", operator: isGreaterThan, right: 100 }
            steps:
              - { name: Note Big, action: log.write, inputs: { level: warn, message: "big order {{ steps.trigger.results.body.data.id }}" } }
          - name: Else
            steps: []
      - name: Count
        action: state.append
        inputs: { scope: flow, key: orders, value: "{{ steps.trigger.results.body.data.id }}" }
  - name: Answer
    trigger: { type: webhook, endpointSecurityType: unsecured, isSynchronous: true }
    steps:
      - name: Reply
        action: flow.stop
        inputs:
          statusCode: 201
          headers: { x-order: "{{ steps.trigger.results.body.data.id }}" }
          body: { received: "{{ steps.trigger.results.body.data }}" }
  - name: Code Answer
    trigger: { type: webhook, endpointSecurityType: unsecured, isSynchronous: true }
    steps:
      - name: Shape
        action: code.run
        inputs:
          code: |
            module.exports = async (context, stepResults) => {
              const order = stepResults.trigger.results.body.data;
              context.logger.info(`answering order ${order.id}`);
              return {
                data: `<order id="${order.id}" customer="${context.customer.externalId}"/>`,
                statusCode: 202,
                headers: { "X-Order": String(order.id) },
                contentType: "application/xml",
                instanceState: { last: order.id },
              };
            };
  - name: Caller
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Ask, action: flow.invoke, inputs: { flow: Answer, data: { id: 5 }, synchronous: true } }
      - { name: Tell, action: flow.invoke, inputs: { flow: Answer, data: { id: 6 } } }
  - name: Broken
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Parse, action: format.jsonParse, inputs: { text: "not json" } }
  - name: Slow
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Nap, action: sleep, inputs: { seconds: 3 } }
      - { name: After Nap, action: log.write, inputs: { message: woke } }
"#;

/// A stand-in for Acme's API: records each request's authorization header and body.
async fn acme() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let router = Router::new().route(
        "/orders",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push((auth, body.clone()));
            async move { Json(json!({ "accepted": body["id"] })) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

/// Publishes the definition and creates an instance pointing at `acme_url`; gives the
/// webhook URL of each flow by name.
async fn instance(server: &TestServer, acme_url: &str) -> Value {
    let integration = server.publish(DEFINITION).await;
    let customer = server.customer("Mars", "mars").await;
    let values = json!([
        { "key": "Acme API Key", "value": r#"{"apiKey":"s3cret-key"}"# },
        { "key": "Acme Base URL", "value": acme_url },
    ]);
    server.instance(&integration, &customer, values).await.1
}

const EXECUTION: &str =
    "query ($id: ID!) { executionResult(id: $id) { status error attempt result \
    stepResults { totalCount nodes { stepName loopPath results error } } \
    logs { nodes { severity message stepName } } } }";

/// Waits for the execution to end.
async fn ended(server: &TestServer, id: &str) -> Value {
    server.ended(EXECUTION, &json!(id)).await
}

async fn post_order(server: &TestServer, url: &Value, order: Value) -> String {
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["executionId"].as_str().unwrap().to_string()
}

async fn a_webhook_execution_runs_its_steps_and_shows_them(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, seen) = acme().await;
    let urls = instance(&server, &acme_url).await;

    let first = post_order(
        &server,
        &urls["Sync Order"],
        json!({ "id": 7, "total": 250 }),
    )
    .await;
    let execution = ended(&server, &first).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(execution["attempt"], 1);
    let steps: Vec<&str> = execution["stepResults"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stepName"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["Trigger", "Send", "Big?", "Note Big", "Count"]);
    let send = &execution["stepResults"]["nodes"][1]["results"];
    assert_eq!(send["statusCode"], 200);
    assert_eq!(send["data"], json!({ "accepted": 7 }));
    assert_eq!(execution["stepResults"]["nodes"][2]["results"], "Big");
    assert_eq!(
        execution["result"],
        json!({ "data": [7] }),
        "the last step's result"
    );

    let received = seen.lock().unwrap().clone();
    assert_eq!(
        received,
        vec![(
            "Bearer s3cret-key".to_string(),
            json!({ "id": 7, "total": 250 })
        )]
    );

    let logs = &execution["logs"]["nodes"];
    let lines: Vec<(&str, &str)> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["severity"].as_str().unwrap(),
                l["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(lines.contains(&("WARN", "big order 7")), "{lines:?}");
    assert_eq!(
        lines.first().unwrap().1,
        "Starting execution of flow \"Sync Order\""
    );
    assert_eq!(lines.last().unwrap(), &("INFO", "Execution succeeded"));
    assert!(
        !execution.to_string().contains("s3cret-key"),
        "secrets stay out of results and logs"
    );

    // Flow state carries over to the next execution; a small order takes the else branch.
    let second = post_order(&server, &urls["Sync Order"], json!({ "id": 8, "total": 5 })).await;
    let execution = ended(&server, &second).await;
    assert_eq!(execution["result"], json!({ "data": [7, 8] }));
    assert_eq!(execution["stepResults"]["nodes"][2]["results"], "Else");

    let warnings = server
        .gql("query ($id: ID!) { logs(executionResult: $id, severity: [WARN, ERROR]) { totalCount nodes { message } } }", json!({ "id": first }))
        .await;
    assert_eq!(warnings["logs"]["totalCount"], 1);
    let mut metrics = String::new();
    for _ in 0..20 {
        metrics = server
            .http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("ferry_executions_total{status=\"SUCCEEDED\"} 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        metrics.contains("ferry_executions_total{status=\"SUCCEEDED\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferry_execution_duration_seconds_count 2"),
        "{metrics}"
    );

    let sends = server
        .gql("query ($id: ID!) { executionResult(id: $id) { stepResults(displayStepName: \"Send\") { totalCount } } }", json!({ "id": first }))
        .await;
    assert_eq!(sends["executionResult"]["stepResults"]["totalCount"], 1);
}

async fn a_synchronous_webhook_answers_with_the_flows_response(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, _) = acme().await;
    let urls = instance(&server, &acme_url).await;
    let response = server
        .http
        .post(urls["Answer"].as_str().unwrap())
        .json(&json!({ "id": 42 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-order"], "42");
    assert!(response.headers().contains_key("ferry-executionid"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "received": { "id": 42 } }));

    // Asked synchronously, a flow that outlasts the wait is answered 202 with the execution to poll.
    let slow = server
        .http
        .post(urls["Slow"].as_str().unwrap())
        .header("ferry-synchronous", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 202);
    let body: Value = slow.json().await.unwrap();
    assert_eq!(body["status"], "RUNNING");
    let execution = ended(&server, body["executionId"].as_str().unwrap()).await;
    assert_eq!(execution["status"], "SUCCEEDED");
}

async fn a_synchronous_webhook_answers_with_a_code_step_s_response(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, _) = acme().await;
    let urls = instance(&server, &acme_url).await;
    let response = server
        .http
        .post(urls["Code Answer"].as_str().unwrap())
        .json(&json!({ "id": 42 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-order"], "42");
    assert_eq!(response.headers()["content-type"], "application/xml");
    let id = response.headers()["ferry-executionid"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        response.text().await.unwrap(),
        r#"<order id="42" customer="mars"/>"#
    );
    let execution = ended(&server, &id).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    let logs = execution["logs"]["nodes"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l["message"] == "answering order 42" && l["stepName"] == "Shape"),
        "{logs:?}"
    );
}

async fn a_running_execution_can_be_cancelled(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, _) = acme().await;
    let urls = instance(&server, &acme_url).await;
    let id = post_order(&server, &urls["Slow"], json!({})).await;
    for _ in 0..50 {
        let found = server.gql(EXECUTION, json!({ "id": id })).await;
        if found["executionResult"]["status"] == "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancel = "mutation ($id: ID!) { cancelExecution(input: { id: $id }) { instanceExecutionResult { status } errors { field messages } } }";
    let cancelled = server.gql(cancel, json!({ "id": id })).await;
    assert_eq!(
        cancelled["cancelExecution"]["instanceExecutionResult"]["status"], "CANCELLED",
        "{cancelled}"
    );

    // The worker stops before the next step and keeps the logs.
    let mut lines = Vec::new();
    for _ in 0..80 {
        let execution = server.gql(EXECUTION, json!({ "id": id })).await["executionResult"].clone();
        lines = execution["logs"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_string())
            .collect();
        if lines.iter().any(|l| l == "Execution cancelled") {
            let steps = execution["stepResults"]["nodes"].to_string();
            assert!(!steps.contains("After Nap"), "{steps}");
            assert_eq!(execution["status"], "CANCELLED");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        lines.iter().any(|l| l == "Execution cancelled"),
        "{lines:?}"
    );

    let again = server.gql(cancel, json!({ "id": id })).await;
    assert_eq!(
        again["cancelExecution"]["errors"][0]["messages"][0],
        "the execution has already ended (CANCELLED)"
    );
    let bad = server.gql(cancel, json!({ "id": "nope" })).await;
    assert_eq!(bad["cancelExecution"]["errors"][0]["field"], "id");
}

async fn flow_invoke_runs_another_flow_and_links_both(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, _) = acme().await;
    let urls = instance(&server, &acme_url).await;
    let caller = post_order(&server, &urls["Caller"], json!({})).await;
    let execution = ended(&server, &caller).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let ask = &execution["stepResults"]["nodes"][1];
    assert_eq!(ask["stepName"], "Ask");
    assert_eq!(
        ask["results"],
        json!({ "received": { "id": 5 } }),
        "a synchronous invoke gives the flow's result"
    );
    let tell = &execution["stepResults"]["nodes"][2]["results"];
    assert!(
        tell["executionId"].is_string(),
        "an asynchronous invoke gives the execution to follow"
    );

    let lineage = "query ($id: ID!) { executionResult(id: $id) { lineage { invokedBy { id } invoked { totalCount nodes { id lineage { invokedBy { id } } } } } } }";
    let found = server.gql(lineage, json!({ "id": caller })).await;
    let links = &found["executionResult"]["lineage"];
    assert_eq!(links["invokedBy"], Value::Null);
    assert_eq!(links["invoked"]["totalCount"], 2);
    assert_eq!(
        links["invoked"]["nodes"][0]["lineage"]["invokedBy"]["id"],
        caller.as_str()
    );
}

async fn executions_are_filtered_by_flow_error_and_start_time(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (acme_url, _) = acme().await;
    let urls = instance(&server, &acme_url).await;
    let broken = post_order(&server, &urls["Broken"], json!({})).await;
    let failed = ended(&server, &broken).await;
    assert_eq!(failed["status"], "FAILED");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("step \"Parse\" failed: input `text`"),
        "{error}"
    );
    let fine = post_order(&server, &urls["Sync Order"], json!({ "id": 1, "total": 1 })).await;
    ended(&server, &fine).await;

    let count = |filter: &'static str| {
        let query = format!("{{ executionResults({filter}) {{ totalCount nodes {{ id }} }} }}");
        let server = &server;
        async move { server.gql(&query, json!({})).await["executionResults"].clone() }
    };
    assert_eq!(
        count("error_Isnull: false").await["nodes"][0]["id"],
        broken.as_str()
    );
    assert_eq!(count("error_Isnull: false").await["totalCount"], 1);
    assert_eq!(count("error_Isnull: true").await["totalCount"], 1);
    assert_eq!(count("flow: \"Broken\"").await["totalCount"], 1);
    assert_eq!(count("status: FAILED").await["totalCount"], 1);
    assert_eq!(
        count("startedAt_Gte: \"2999-01-01T00:00:00Z\"").await["totalCount"],
        0
    );
    assert_eq!(
        count("startedAt_Gte: \"2000-01-01T00:00:00Z\"").await["totalCount"],
        2
    );
    let bad = server
        .gql_as(
            &server.token,
            "{ executionResults(customer: \"nope\") { totalCount } }",
            json!({}),
        )
        .await;
    assert!(
        bad.1["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("customer: invalid id"),
        "{}",
        bad.1
    );
}
