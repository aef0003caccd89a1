//! What is kept of executions: an instance can store no step results or logs, and an
//! organization can keep them for its own number of days.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    an_instance_can_store_no_step_results_or_logs,
    an_organization_sets_its_own_retention_period,
    a_megabyte_webhook_payload_runs_through_the_blob_store,
);

const DEFINITION: &str = r#"
name: Records Test
flows:
  - name: Note
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Say, action: log.write, inputs: { message: "got {{ steps.trigger.results.body.data.n }}" } }
"#;

const EXECUTION: &str = "query ($id: ID!) { executionResult(id: $id) { status result \
    stepResults { totalCount } logs { totalCount } } }";

/// Posts to `url` and waits for the execution to end.
async fn run(server: &TestServer, url: &Value, n: u32) -> Value {
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&json!({ "n": n }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    server.ended(EXECUTION, &body["executionId"]).await
}

async fn set_switch(server: &TestServer, instance: &str, disable: bool) -> Value {
    let update = "mutation ($input: UpdateInstanceInput!) { updateInstance(input: $input) { \
                  instance { disableLogsAndStepResults } errors { field messages } } }";
    let input = json!({ "input": { "id": instance, "disableLogsAndStepResults": disable } });
    server.gql(update, input).await["updateInstance"].clone()
}

async fn an_instance_can_store_no_step_results_or_logs(store: &TestStore) {
    let server = TestServer::start(store).await;
    let integration = server.publish(DEFINITION).await;
    let customer = server.customer("Mars", "mars").await;
    let (instance, urls) = server.instance(&integration, &customer, json!([])).await;

    let kept = run(&server, &urls["Note"], 1).await;
    assert_eq!(kept["status"], "SUCCEEDED", "{kept}");
    assert_eq!(kept["stepResults"]["totalCount"], 2, "trigger and Say");
    assert!(kept["logs"]["totalCount"].as_i64().unwrap() >= 2);

    let updated = set_switch(&server, &instance, true).await;
    assert_eq!(updated["errors"], json!([]), "{updated}");
    assert_eq!(updated["instance"]["disableLogsAndStepResults"], true);
    let bare = run(&server, &urls["Note"], 2).await;
    assert_eq!(
        bare["status"], "SUCCEEDED",
        "the execution still runs and ends"
    );
    assert_eq!(
        bare["stepResults"]["totalCount"], 0,
        "no step results stored"
    );
    assert_eq!(bare["logs"]["totalCount"], 0, "no log lines stored");
    assert_eq!(
        bare["result"],
        json!({ "data": null }),
        "the final result is kept"
    );

    set_switch(&server, &instance, false).await;
    let again = run(&server, &urls["Note"], 3).await;
    assert_eq!(
        again["stepResults"]["totalCount"], 2,
        "stored again once switched back"
    );
}

async fn an_organization_sets_its_own_retention_period(store: &TestStore) {
    let server = TestServer::start(store).await;
    let update =
        "mutation ($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { \
                  organization { name retentionDays } errors { field messages } } }";
    let read = server
        .gql("{ organization { name retentionDays } }", json!({}))
        .await;
    assert_eq!(
        read["organization"]["retentionDays"],
        Value::Null,
        "the server's period by default"
    );
    let name = read["organization"]["name"].clone();

    let set = server
        .gql(update, json!({ "input": { "retentionDays": 30 } }))
        .await;
    assert_eq!(set["updateOrganization"]["errors"], json!([]), "{set}");
    assert_eq!(
        set["updateOrganization"]["organization"],
        json!({ "name": name, "retentionDays": 30 })
    );

    for bad in [0, -3, 3651] {
        let refused = server
            .gql(update, json!({ "input": { "retentionDays": bad } }))
            .await;
        let errors = &refused["updateOrganization"]["errors"];
        assert_eq!(errors[0]["field"], "retentionDays", "{refused}");
        assert!(
            errors[0]["messages"][0]
                .as_str()
                .unwrap()
                .contains(&bad.to_string()),
            "{refused}"
        );
    }
    let kept = server
        .gql("{ organization { retentionDays } }", json!({}))
        .await;
    assert_eq!(
        kept["organization"]["retentionDays"], 30,
        "a refused change changes nothing"
    );

    let cleared = server
        .gql(update, json!({ "input": { "retentionDays": null } }))
        .await;
    assert_eq!(
        cleared["updateOrganization"]["organization"]["retentionDays"],
        Value::Null
    );
}

async fn a_megabyte_webhook_payload_runs_through_the_blob_store(store: &TestStore) {
    let server = TestServer::start(store).await;
    let integration = server.publish(DEFINITION).await;
    let customer = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &customer, json!([])).await;
    let rows: Vec<Value> = (0..10_000)
        .map(|n| json!({ "n": n, "text": "x".repeat(90) }))
        .collect();
    let body = json!({ "n": 42, "rows": rows });
    assert!(body.to_string().len() > 1_000_000);
    let response = server
        .http
        .post(urls["Note"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["executionId"].clone();
    let query = "query ($id: ID!) { executionResult(id: $id) { status \
                 stepResults { nodes { stepName results } } logs { nodes { message } } } }";
    let execution = server.ended(query, &id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{}", execution["status"]);
    let trigger = &execution["stepResults"]["nodes"][0];
    assert_eq!(
        trigger["results"]["body"]["data"], body,
        "the step saw the whole payload"
    );
    let said = execution["logs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["message"] == "got 42");
    assert!(said, "the flow read it");
}
