//! Polling triggers end to end: a deployed instance polls a fake orders API on loopback every
//! second, keeps its cursor in flow state, and runs its steps only on the orders it has not
//! seen; a failed poll fails its execution and keeps the cursor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_core::id::{self, Kind};
use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::fake_api::FakeApi;
use crate::harness::TestServer;

ferry_store::store_tests!(
    a_polling_trigger_runs_its_flow_on_new_records_only,
    a_polling_trigger_must_name_an_action_that_can_poll,
);

/// Polls `GET /orders?after=<cursor>` and forwards what is new to `POST /received`.
const POLLER: &str = r#"
name: Order Poller
requiredConfigVars:
  - { key: API, dataType: string }
flows:
  - name: New Orders
    trigger:
      type: polling
      cron: "* * * * * *"
      singletonExecutions: true
      action: http.request
      inputs:
        url: "{{ configVars.API }}/orders"
        queryParams: { after: "{{ polling.cursor }}" }
      itemsField: data.orders
      cursorField: id
    steps:
      - name: Forward
        action: http.request
        inputs:
          url: "{{ configVars.API }}/received"
          method: POST
          data: { orders: "{{ steps.trigger.results.body.data }}" }
"#;

const EXECUTIONS: &str = "query ($id: ID!) { executionResults(instance: $id, first: 500) { nodes { status error result triggerPayload } } }";

async fn executions(server: &TestServer, instance: &str) -> Vec<Value> {
    let data = server.gql(EXECUTIONS, json!({ "id": instance })).await;
    data["executionResults"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (ten seconds at most) until `done` holds for the instance's executions.
async fn until(server: &TestServer, instance: &str, what: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = executions(server, instance).await;
        if done(&found) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within ten seconds: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(executions: &[Value], status: &str) -> usize {
    executions.iter().filter(|e| e["status"] == status).count()
}

async fn a_polling_trigger_runs_its_flow_on_new_records_only(store: &TestStore) {
    let orders = Arc::new(Mutex::new(vec![json!({ "id": 1 }), json!({ "id": 2 })]));
    let failing = Arc::new(Mutex::new(false));
    let (listed, down) = (orders.clone(), failing.clone());
    let api = FakeApi::start(move |request, _| match request.path.as_str() {
        "/orders" if *down.lock().unwrap() => (500, json!({ "error": "down" })),
        "/orders" => (200, json!({ "orders": *listed.lock().unwrap() })),
        _ => (200, json!({ "ok": true })),
    })
    .await;
    let server = TestServer::start(store).await;
    let integration = server.publish(POLLER).await;
    let customer = server.customer("Mars", "mars").await;
    let values = json!([{ "key": "API", "value": api.url }]);
    let (instance, _) = server.instance(&integration, &customer, values).await;
    let deploy =
        "mutation ($id: ID!) { deployInstance(input: { id: $id }) { errors { field messages } } }";
    let deployed = server.gql(deploy, json!({ "id": instance })).await;
    assert_eq!(
        deployed["deployInstance"]["errors"],
        json!([]),
        "{deployed}"
    );

    // The first poll only records where the orders stand.
    until(&server, &instance, "a first poll", |e| {
        count(e, "SUCCEEDED") >= 1
    })
    .await;
    let first = executions(&server, &instance).await;
    let first = first.iter().find(|e| e["status"] == "SUCCEEDED").unwrap();
    assert_eq!(
        first["result"],
        json!({ "data": null, "polledNoChanges": true })
    );
    let forwarded = |api: &FakeApi| -> Vec<Value> {
        let received = api.received();
        received
            .iter()
            .filter(|r| r.path == "/received")
            .map(|r| r.body.clone())
            .collect()
    };
    assert!(forwarded(&api).is_empty(), "nothing is new yet");

    orders
        .lock()
        .unwrap()
        .extend([json!({ "id": 4 }), json!({ "id": 3 })]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while forwarded(&api).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new orders are forwarded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more polls: nothing new, nothing forwarded again.
    let before = executions(&server, &instance).await.len();
    until(&server, &instance, "two more polls", |e| {
        count(e, "SUCCEEDED") >= before + 2
    })
    .await;
    assert_eq!(
        forwarded(&api),
        vec![json!({ "orders": [{ "id": 4 }, { "id": 3 }] })],
        "each new order is forwarded once"
    );
    let runs = executions(&server, &instance).await;
    let ran = runs
        .iter()
        .find(|e| e["status"] == "SUCCEEDED" && e["result"]["polledNoChanges"] != json!(true))
        .unwrap_or_else(|| panic!("an execution ran its steps: {runs:?}"));
    assert_eq!(
        ran["triggerPayload"]["body"]["data"],
        json!(null),
        "the payload is the tick's"
    );
    assert_eq!(ran["result"]["data"]["statusCode"], 200, "{ran}");
    let polls: Vec<String> = api
        .received()
        .iter()
        .filter(|r| r.path == "/orders")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(polls[0], "", "no cursor on the first poll");
    assert_eq!(polls.last().unwrap(), "after=4", "{polls:?}");

    // The cursor is kept in the flow's state.
    let flow_config = flow_config_of(&server, &instance).await;
    assert_eq!(
        flow_state(&server, flow_config).await,
        json!({ "polling": { "cursor": 4 } })
    );

    // A poll that fails fails its execution and keeps the cursor.
    *failing.lock().unwrap() = true;
    until(&server, &instance, "a failed poll", |e| {
        count(e, "FAILED") >= 1
    })
    .await;
    let runs = executions(&server, &instance).await;
    let failed = runs.iter().find(|e| e["status"] == "FAILED").unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("the polling trigger failed: ") && error.contains("500"),
        "{error}"
    );
    assert_eq!(
        flow_state(&server, flow_config).await,
        json!({ "polling": { "cursor": 4 } })
    );
}

async fn flow_state(server: &TestServer, flow_config: uuid::Uuid) -> Value {
    let state = server
        .store
        .state(server.tenant.org_id, "flow", flow_config);
    state.await.unwrap().unwrap_or(Value::Null)
}

async fn flow_config_of(server: &TestServer, instance: &str) -> uuid::Uuid {
    let query = "query ($id: ID!) { instance(id: $id) { flowConfigs { nodes { id } } } }";
    let data = server.gql(query, json!({ "id": instance })).await;
    let id = data["instance"]["flowConfigs"]["nodes"][0]["id"]
        .as_str()
        .unwrap();
    id::decode(Kind::InstanceFlowConfig, id).unwrap()
}

async fn a_polling_trigger_must_name_an_action_that_can_poll(store: &TestStore) {
    let server = TestServer::start(store).await;
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { errors { field messages } } }";
    let cases = [
        (
            "action: acme.listOrders",
            "flows[0].trigger.action",
            "unknown action \"acme.listOrders\"",
        ),
        (
            "action: state.get",
            "flows[0].trigger.action",
            "\"state.get\" cannot poll: use an action such as http.request",
        ),
        (
            "action: http.request",
            "flows[0].trigger.inputs",
            "missing required input \"url\" of http.request",
        ),
        (
            "action: http.request\n      inputs: { url: x }\n      cursorField: \"\"",
            "flows[0].trigger.cursorField",
            "must not be empty",
        ),
    ];
    for (trigger, field, message) in cases {
        let definition = format!(
            "name: Poller\nflows:\n  - name: Poll\n    trigger:\n      type: polling\n      cron: \"* * * * *\"\n      {trigger}\n    steps: []\n"
        );
        let data = server
            .gql(import, json!({ "input": { "definition": definition } }))
            .await;
        let errors = &data["importIntegration"]["errors"];
        let found = errors
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field);
        let found = found.unwrap_or_else(|| panic!("{trigger}: {errors}"));
        assert!(
            found["messages"][0].as_str().unwrap().ends_with(message),
            "{found}"
        );
    }
}
