//! Test instances through the API: every import keeps one on the system customer running the
//! draft, so a flow runs before it is published; its values are set like any instance's, its
//! webhook URLs survive re-imports, and it goes with its integration.

use std::time::Duration;

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    an_imported_draft_runs_on_its_test_instance_before_publishing,
    the_test_instance_stays_out_of_customers_way,
);

const DRAFT: &str = r#"
name: Greeter
requiredConfigVars:
  - key: Greeting
    dataType: string
    defaultValue: Hello
flows:
  - name: Greet
    stableKey: greet
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Say, action: log.write, inputs: { message: "{{ configVars.Greeting }}, {{ steps.trigger.results.body.data.name }}" } }
"#;

const IMPORT: &str =
    "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { \
                      integration { id } errors { field messages } } }";

const TEST_INSTANCE: &str = "query ($id: ID!) { integration(id: $id) { versions { totalCount } testInstance { \
                             id name customer { name externalId isSystem } integrationVersion { versionNumber isDraft } \
                             configVariables { nodes { key value } } \
                             flowConfigs { nodes { flow { name } webhookUrl } } } } }";

async fn import(server: &TestServer, definition: &str, id: Option<&Value>) -> Value {
    let input = json!({ "definition": definition, "integrationId": id });
    let data = server.gql(IMPORT, json!({ "input": input })).await;
    assert_eq!(data["importIntegration"]["errors"], json!([]), "{data}");
    data["importIntegration"]["integration"]["id"].clone()
}

async fn test_instance(server: &TestServer, integration: &Value) -> Value {
    let data = server
        .gql(TEST_INSTANCE, json!({ "id": integration }))
        .await;
    data["integration"]["testInstance"].clone()
}

/// Posts `body` to the webhook and waits for the execution's log messages.
async fn run(server: &TestServer, url: &Value, body: Value) -> (String, Vec<String>) {
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let query =
        "query ($id: ID!) { executionResult(id: $id) { status logs { nodes { message } } } }";
    for _ in 0..100 {
        let found = server.gql(query, json!({ "id": id })).await["executionResult"].clone();
        if found["status"] == "SUCCEEDED" {
            let lines = found["logs"]["nodes"].as_array().unwrap().iter();
            let messages = lines.map(|l| l["message"].as_str().unwrap().to_string());
            return (id, messages.collect());
        }
        assert!(
            matches!(found["status"].as_str(), Some("QUEUED" | "RUNNING")),
            "{found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {id} did not end");
}

async fn an_imported_draft_runs_on_its_test_instance_before_publishing(store: &TestStore) {
    let server = TestServer::start(store).await;
    let greeter = import(&server, DRAFT, None).await;
    let test = test_instance(&server, &greeter).await;
    assert_eq!(
        test["customer"],
        json!({ "name": "Test Customer", "externalId": "testCustomerExternalId", "isSystem": true })
    );
    assert_eq!(
        test["integrationVersion"],
        json!({ "versionNumber": 0, "isDraft": true }),
        "the draft"
    );
    let url = test["flowConfigs"]["nodes"][0]["webhookUrl"].clone();
    assert_eq!(test["flowConfigs"]["nodes"][0]["flow"]["name"], "Greet");

    let (first, lines) = run(&server, &url, json!({ "name": "Ann" })).await;
    assert!(lines.contains(&"Hello, Ann".to_string()), "{lines:?}");

    // The reference's testConfigVars: values of the test instance, set like any instance's.
    let set = "mutation ($input: UpdateInstanceConfigVariablesInput!) { updateInstanceConfigVariables(input: $input) { \
               errors { field messages } } }";
    let input =
        json!({ "id": test["id"], "configVariables": [{ "key": "Greeting", "value": "Ahoy" }] });
    let data = server.gql(set, json!({ "input": input })).await;
    assert_eq!(data["updateInstanceConfigVariables"]["errors"], json!([]));

    // A re-import changes what runs, at the same URL, with the values kept.
    let changed = DRAFT.replace(
        "{{ configVars.Greeting }}, ",
        "{{ configVars.Greeting }} there, ",
    );
    assert_eq!(import(&server, &changed, Some(&greeter)).await, greeter);
    let again = test_instance(&server, &greeter).await;
    assert_eq!(again["id"], test["id"]);
    assert_eq!(again["flowConfigs"]["nodes"][0]["webhookUrl"], url);
    assert_eq!(
        again["configVariables"]["nodes"],
        json!([{ "key": "Greeting", "value": "Ahoy" }])
    );
    let (second, lines) = run(&server, &url, json!({ "name": "Bo" })).await;
    assert!(lines.contains(&"Ahoy there, Bo".to_string()), "{lines:?}");

    let listed = server
        .gql(
            "query ($id: ID!) { executionResults(instance: $id) { nodes { id } } }",
            json!({ "id": test["id"] }),
        )
        .await;
    assert_eq!(
        listed["executionResults"]["nodes"],
        json!([{ "id": second }, { "id": first }])
    );
    assert_eq!(again["name"], "Greeter");
}

async fn the_test_instance_stays_out_of_customers_way(store: &TestStore) {
    let server = TestServer::start(store).await;
    let greeter = import(&server, DRAFT, None).await;
    let test = test_instance(&server, &greeter).await;
    let customers = server
        .gql(
            "{ all: customers { totalCount } real: customers(isSystem: false) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        customers,
        json!({ "all": { "totalCount": 1 }, "real": { "totalCount": 0 } })
    );
    let instances = server
        .gql(
            "{ test: instances(isSystem: true) { nodes { id } } real: instances(isSystem: false) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(instances["test"]["nodes"], json!([{ "id": test["id"] }]));
    assert_eq!(instances["real"]["totalCount"], 0);
    let versions = server.gql(TEST_INSTANCE, json!({ "id": greeter })).await;
    assert_eq!(versions["integration"]["versions"]["totalCount"], 0);

    let delete =
        "mutation ($id: ID!) { deleteInstance(input: { id: $id }) { errors { field messages } } }";
    let refused = server.gql(delete, json!({ "id": test["id"] })).await;
    let message = refused["deleteInstance"]["errors"][0]["messages"][0].to_string();
    assert!(message.contains("test instance"), "{message}");

    let url = test["flowConfigs"]["nodes"][0]["webhookUrl"].clone();
    let gone = "mutation ($id: ID!) { deleteIntegration(input: { id: $id }) { errors { field messages } } }";
    let data = server.gql(gone, json!({ "id": greeter })).await;
    assert_eq!(
        data["deleteIntegration"]["errors"],
        json!([]),
        "the test instance does not hold its integration back"
    );
    let response = server
        .http
        .post(url.as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "its webhook URL went with it");
}
