//! Schedule and `instanceDeploy` triggers through the API: a deploy starts the instance's
//! schedules, which the server's scheduler fires, and queues its `instanceDeploy` flows; a
//! schedule that cannot be computed refuses the deploy and changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_core::id::{self, Kind};
use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    a_deploy_starts_schedules_and_queues_instance_deploy_flows,
    a_schedule_that_cannot_be_computed_refuses_the_deploy,
    deleting_an_instance_runs_its_instance_remove_flows_first,
);

const TICKER: &str = r#"
definitionVersion: 1
name: Ticker
requiredConfigVars:
  - key: Report Schedule
    dataType: schedule
    defaultValue: "0 6 * * *"
flows:
  - name: Every Second
    trigger: { type: schedule, cron: "* * * * * *", timezone: Europe/Paris }
    steps: [ { name: Say, action: log.write, inputs: { message: tick } } ]
  - name: Daily Report
    trigger: { type: schedule, configVar: Report Schedule, singletonExecutions: true }
    steps: [ { name: Say, action: log.write, inputs: { message: report } } ]
  - name: On Deploy
    trigger: { type: management, event: instanceDeploy }
    steps: []
"#;

const INSTANCE: &str = "instance { id lastDeployedAt flowConfigs { nodes { flow { name } webhookUrl } } } errors { field messages }";

/// Imports and publishes `definition`, and creates an instance of it; returns the instance.
async fn instance_of(server: &TestServer, definition: &str, name: &str) -> Value {
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { field messages } } }";
    let imported = server
        .gql(import, json!({ "input": { "definition": definition } }))
        .await;
    assert_eq!(
        imported["importIntegration"]["errors"],
        json!([]),
        "{imported}"
    );
    let integration = &imported["importIntegration"]["integration"]["id"];
    let publish =
        "mutation ($id: ID!) { publishIntegration(input: { id: $id }) { errors { messages } } }";
    server.gql(publish, json!({ "id": integration })).await;
    let customer = server.customer(name, &format!("{name}-ext")).await;
    let create = format!("mutation ($input: CreateInstanceInput!) {{ createInstance(input: $input) {{ {INSTANCE} }} }}");
    let input = json!({ "customer": customer, "integration": integration, "name": name });
    let created = server.gql(&create, json!({ "input": input })).await;
    assert_eq!(created["createInstance"]["errors"], json!([]), "{created}");
    created["createInstance"]["instance"].clone()
}

async fn deploy(server: &TestServer, instance: &Value) -> Value {
    let query =
        format!("mutation ($id: ID!) {{ deployInstance(input: {{ id: $id }}) {{ {INSTANCE} }} }}");
    server.gql(&query, json!({ "id": instance["id"] })).await["deployInstance"].clone()
}

async fn executions(server: &TestServer, instance: &Value) -> Vec<Value> {
    let query = "query ($id: ID!) { executionResults(instance: $id, first: 500) { nodes { flowKey status triggerPayload } } }";
    let data = server.gql(query, json!({ "id": instance["id"] })).await;
    data["executionResults"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

fn of_flow<'a>(executions: &'a [Value], flow: &str) -> Vec<&'a Value> {
    executions.iter().filter(|e| e["flowKey"] == flow).collect()
}

async fn stored_schedules(server: &TestServer, instance: &Value) -> Vec<ferry_store::Schedule> {
    let id = id::decode(Kind::Instance, instance["id"].as_str().unwrap()).unwrap();
    server.store.schedules(&server.tenant, id).await.unwrap()
}

async fn a_deploy_starts_schedules_and_queues_instance_deploy_flows(store: &TestStore) {
    let server = TestServer::start(store).await;
    let instance = instance_of(&server, TICKER, "Ticker").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        executions(&server, &instance).await.is_empty(),
        "nothing runs before a deploy"
    );

    let deployed = deploy(&server, &instance).await;
    assert_eq!(deployed["errors"], json!([]), "{deployed}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let queued = loop {
        let queued = executions(&server, &instance).await;
        if of_flow(&queued, "Every Second").len() >= 2 {
            break queued;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "two ticks within ten seconds: {queued:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let urls: serde_json::Map<String, Value> = deployed["instance"]["flowConfigs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["flow"]["name"].as_str().unwrap().to_string(),
                f["webhookUrl"].clone(),
            )
        })
        .collect();
    let on_deploy = of_flow(&queued, "On Deploy");
    assert_eq!(on_deploy.len(), 1, "one execution per deploy");
    // Queued by the deploy; the node's worker may have run it since.
    assert!(["QUEUED", "RUNNING", "SUCCEEDED"].contains(&on_deploy[0]["status"].as_str().unwrap()));
    assert_eq!(
        on_deploy[0]["triggerPayload"],
        json!({ "event": "instanceDeploy", "webhookUrls": urls, "body": { "data": null } })
    );

    for tick in of_flow(&queued, "Every Second") {
        assert!(["QUEUED", "RUNNING", "SUCCEEDED"].contains(&tick["status"].as_str().unwrap()));
        let payload = &tick["triggerPayload"];
        assert_eq!(payload["cron"], "* * * * * *");
        assert_eq!(payload["timezone"], "Europe/Paris");
        assert_eq!(payload["body"], json!({ "data": null }));
        let scheduled: DateTime<Utc> = payload["scheduledAt"].as_str().unwrap().parse().unwrap();
        assert!(scheduled <= Utc::now());
    }
    assert!(
        of_flow(&queued, "Daily Report").is_empty(),
        "six o'clock has not come"
    );
    let schedules = stored_schedules(&server, &instance).await;
    let daily = schedules
        .iter()
        .find(|s| s.flow_key == "Daily Report")
        .unwrap();
    assert_eq!(
        (
            daily.cron.as_str(),
            daily.timezone.as_str(),
            daily.singleton
        ),
        ("0 6 * * *", "UTC", true)
    );
    assert_eq!(schedules.len(), 2);
}

async fn a_schedule_that_cannot_be_computed_refuses_the_deploy(store: &TestStore) {
    let server = TestServer::start(store).await;
    let instance = instance_of(&server, TICKER, "Ticker").await;
    let set = "mutation ($input: UpdateInstanceConfigVariablesInput!) { updateInstanceConfigVariables(input: $input) { errors { field messages } } }";
    let never = json!({ "id": instance["id"], "configVariables": [{ "key": "Report Schedule", "value": "0 0 30 2 *" }] });
    let accepted = server.gql(set, json!({ "input": never })).await;
    assert_eq!(
        accepted["updateInstanceConfigVariables"]["errors"],
        json!([]),
        "a well-formed expression is accepted as a value"
    );

    let refused = deploy(&server, &instance).await;
    assert_eq!(refused["instance"], Value::Null);
    let errors = &refused["errors"];
    assert_eq!(errors[0]["field"], "configVariables", "{errors}");
    let message = errors[0]["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with("\"Report Schedule\" (the schedule of flow \"Daily Report\"): cron expression \"0 0 30 2 *\" has no time after"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        executions(&server, &instance).await.is_empty(),
        "nothing was started"
    );
    assert!(stored_schedules(&server, &instance).await.is_empty());
    let query = "query ($id: ID!) { instance(id: $id) { lastDeployedAt } }";
    let seen = server.gql(query, json!({ "id": instance["id"] })).await;
    assert_eq!(
        seen["instance"]["lastDeployedAt"],
        Value::Null,
        "not deployed"
    );

    let fixed = json!({ "id": instance["id"], "configVariables": [{ "key": "Report Schedule", "value": "0 7 * * 1-5" }] });
    server.gql(set, json!({ "input": fixed })).await;
    assert_eq!(deploy(&server, &instance).await["errors"], json!([]));
    let schedules = stored_schedules(&server, &instance).await;
    assert!(schedules.iter().any(|s| s.cron == "0 7 * * 1-5"));

    let martian = TICKER
        .replace("name: Ticker", "name: Martian Ticker")
        .replace("timezone: Europe/Paris", "timezone: Mars/Olympus");
    let martian = instance_of(&server, &martian, "Martian").await;
    let refused = deploy(&server, &martian).await;
    assert_eq!(
        refused["errors"],
        json!([{ "field": "flows[0].trigger.timezone",
                 "messages": ["flow \"Every Second\": unknown time zone \"Mars/Olympus\""] }])
    );
}

async fn deleting_an_instance_runs_its_instance_remove_flows_first(store: &TestStore) {
    let server = TestServer::start(store).await;
    let api = crate::fake_api::FakeApi::start(|_, _| (200, json!({ "ok": true }))).await;
    let definition = r#"
name: Subscriptions
requiredConfigVars:
  - { key: API, dataType: string }
flows:
  - name: Events
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps: [ { name: Note, action: log.write, inputs: { message: event } } ]
  - name: Unsubscribe
    trigger: { type: management, event: instanceRemove }
    steps:
      - name: Remove Hook
        action: http.request
        inputs: { method: DELETE, url: "{{ configVars.API }}/hooks", data: { url: "{{ steps.trigger.results.webhookUrls.Events }}" } }
"#;
    let integration = server.publish(definition).await;
    let customer = server.customer("Mars", "mars").await;
    let (instance, urls) = server
        .instance(
            &integration,
            &customer,
            json!([{ "key": "API", "value": api.url }]),
        )
        .await;
    let delete =
        "mutation ($id: ID!) { deleteInstance(input: { id: $id }) { errors { messages } } }";
    let deleted = server.gql(delete, json!({ "id": instance })).await;
    assert_eq!(deleted["deleteInstance"]["errors"], json!([]));
    let received = api.received();
    assert_eq!(
        received.len(),
        1,
        "the removal flow ran before the deletion answered"
    );
    assert_eq!(received[0].method, "DELETE");
    assert_eq!(received[0].body, json!({ "url": urls["Events"] }));
    let gone = server
        .http
        .post(urls["Events"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
}
