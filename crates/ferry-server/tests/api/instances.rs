//! Instances through the API: create, configure, deploy, pause, upgrade, delete.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    an_instance_is_configured_deployed_paused_and_deleted,
    upgrades_keep_renamed_flows_and_bad_input_is_refused
);

const ORDERS: &str = include_str!("../../../ferry-definition/tests/fixtures/orders.yml");

const INSTANCE_FIELDS: &str =
    "id name enabled lastDeployedAt customer { name } integrationVersion { versionNumber } \
    configVariables { nodes { key value hasValue isSecret dataType } } \
    flowConfigs { totalCount nodes { id flow { name } webhookUrl apiKeys } }";

async fn published(
    server: &TestServer,
    definition: &str,
    integration_id: Option<&str>,
) -> (String, String) {
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { field messages } } }";
    let imported = server
        .gql(
            import,
            json!({ "input": { "definition": definition, "integrationId": integration_id } }),
        )
        .await;
    assert_eq!(
        imported["importIntegration"]["errors"],
        json!([]),
        "{imported}"
    );
    let id = imported["importIntegration"]["integration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let publish = "mutation ($id: ID!) { publishIntegration(input: { id: $id }) { publishedVersion { id } errors { messages } } }";
    let version = server.gql(publish, json!({ "id": id })).await["publishIntegration"]
        ["publishedVersion"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, version)
}

async fn mutate(server: &TestServer, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation ($input: {input_type}!) {{ {name}(input: $input) {{ instance {{ {INSTANCE_FIELDS} }} errors {{ field messages }} }} }}");
    server.gql(&query, json!({ "input": input })).await[name].clone()
}

fn variable<'a>(instance: &'a Value, key: &str) -> &'a Value {
    instance["configVariables"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap()
}

async fn an_instance_is_configured_deployed_paused_and_deleted(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (integration, _) = published(&server, ORDERS, None).await;
    let customer = server.customer("Mars Missions", "mars").await;
    let input = json!({ "customer": customer, "integration": integration, "name": "Orders for Mars",
                        "configVariables": [{ "key": "Acme Base URL", "value": "https://erp.mars.test" }] });
    let created = mutate(&server, "createInstance", "CreateInstanceInput", input).await;
    assert_eq!(created["errors"], json!([]));
    let instance = &created["instance"];
    let id = instance["id"].as_str().unwrap().to_string();
    assert_eq!(instance["customer"]["name"], "Mars Missions");
    assert_eq!(instance["integrationVersion"]["versionNumber"], 1);
    assert_eq!(instance["flowConfigs"]["totalCount"], 3);
    let webhook = instance["flowConfigs"]["nodes"][0]["webhookUrl"]
        .as_str()
        .unwrap();
    assert_eq!(
        webhook,
        format!(
            "{}/trigger/{}",
            server.base,
            instance["flowConfigs"]["nodes"][0]["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        variable(instance, "Acme Base URL")["value"],
        "https://erp.mars.test"
    );
    assert_eq!(
        variable(instance, "Sync Schedule"),
        &json!({ "key": "Sync Schedule", "value": "*/5 * * * *", "hasValue": false, "isSecret": false, "dataType": "schedule" })
    );
    assert_eq!(variable(instance, "Acme API Key")["value"], Value::Null);

    let refused = mutate(
        &server,
        "deployInstance",
        "InstanceIdInput",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        refused["errors"],
        json!([{ "field": "configVariables", "messages": ["\"Acme API Key\" needs a value"] }])
    );
    let secret = json!({ "id": id, "configVariables": [{ "key": "Acme API Key", "value": "{\"apiKey\":\"s3cret\"}" }] });
    let configured = mutate(
        &server,
        "updateInstanceConfigVariables",
        "UpdateInstanceConfigVariablesInput",
        secret,
    )
    .await;
    let key = variable(&configured["instance"], "Acme API Key");
    assert_eq!(
        (key["value"].as_str(), key["isSecret"].as_bool()),
        (Some("{\"apiKey\":\"********\"}"), Some(true)),
        "secrets are masked"
    );
    let deployed = mutate(
        &server,
        "deployInstance",
        "InstanceIdInput",
        json!({ "id": id }),
    )
    .await;
    assert!(
        deployed["instance"]["lastDeployedAt"].is_string(),
        "{deployed}"
    );

    let paused = mutate(
        &server,
        "updateInstance",
        "UpdateInstanceInput",
        json!({ "id": id, "enabled": false }),
    )
    .await;
    assert_eq!(paused["instance"]["enabled"], false);
    let listed = server
        .gql(
            "{ instances(enabled: false, isSystem: false) { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["instances"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Orders for Mars" }] })
    );

    let delete_integration =
        "mutation ($id: ID!) { deleteIntegration(input: { id: $id }) { errors { messages } } }";
    let blocked = server
        .gql(delete_integration, json!({ "id": integration }))
        .await;
    assert!(blocked["deleteIntegration"]["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("has instances"));

    let admin = server
        .user_token("admin@mars.test", "Admin", Some(&customer))
        .await;
    let seen = server
        .ok_as(&admin, "{ instances { totalCount } }", json!({}))
        .await;
    assert_eq!(
        seen["instances"]["totalCount"], 1,
        "the customer's admin sees its instance"
    );
    let guest = server.user_token("guest@us.test", "Guest", None).await;
    let message = server
        .error_as(
            &guest,
            "mutation ($id: ID!) { deleteInstance(input: { id: $id }) { errors { messages } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        message.contains("(Guest) may not manage instances"),
        "{message}"
    );

    let deleted = mutate(
        &server,
        "deleteInstance",
        "InstanceIdInput",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(deleted["instance"]["name"], "Orders for Mars");
    let gone = server
        .gql(delete_integration, json!({ "id": integration }))
        .await;
    assert_eq!(gone["deleteIntegration"]["errors"], json!([]));
}

async fn upgrades_keep_renamed_flows_and_bad_input_is_refused(store: &TestStore) {
    let server = TestServer::start(store).await;
    let customer = server.customer("Venus", "venus").await;
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { messages } } }";
    let draft_only = server.gql(import, json!({ "input": { "definition": ORDERS.replace("Orders to Acme ERP", "Draft Only") } })).await;
    let unpublished = draft_only["importIntegration"]["integration"]["id"].clone();
    let input = json!({ "customer": customer, "integration": unpublished, "name": "Nope" });
    let refused = mutate(&server, "createInstance", "CreateInstanceInput", input).await;
    assert_eq!(refused["errors"][0]["field"], "integration");
    assert!(refused["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("publish it first"));

    let (integration, v1) = published(&server, ORDERS, None).await;
    let bad = json!({ "customer": customer, "integration": v1, "name": "Orders",
                      "configVariables": [{ "key": "Sync Schedule", "value": "whenever" }, { "key": "Nope", "value": "x" }] });
    let refused = mutate(&server, "createInstance", "CreateInstanceInput", bad).await;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["configVariables[0].value", "configVariables[1].key"]
    );
    let created = mutate(
        &server,
        "createInstance",
        "CreateInstanceInput",
        json!({ "customer": customer, "integration": v1, "name": "Orders" }),
    )
    .await;
    let id = created["instance"]["id"].as_str().unwrap().to_string();
    let nightly = created["instance"]["flowConfigs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"]["name"] == "Nightly Sync")
        .unwrap()["id"]
        .clone();
    let duplicate = mutate(
        &server,
        "createInstance",
        "CreateInstanceInput",
        json!({ "customer": customer, "integration": v1, "name": "Orders" }),
    )
    .await;
    assert_eq!(duplicate["errors"][0]["field"], "name");

    let renamed = ORDERS
        .replace("  - name: Nightly Sync", "  - name: Hourly Sync")
        .replace(
            "oldName: Old Order, newName: New Order",
            "oldName: Nightly Sync, newName: Hourly Sync",
        );
    let (_, v2) = published(&server, &renamed, Some(&integration)).await;
    let upgraded = mutate(
        &server,
        "updateInstance",
        "UpdateInstanceInput",
        json!({ "id": id, "version": v2 }),
    )
    .await;
    assert_eq!(
        upgraded["instance"]["integrationVersion"]["versionNumber"], 2,
        "{upgraded}"
    );
    let hourly = upgraded["instance"]["flowConfigs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"]["name"] == "Hourly Sync")
        .unwrap()["id"]
        .clone();
    assert_eq!(hourly, nightly, "a renamed flow keeps its webhook URL");
    let rolled_back = mutate(
        &server,
        "updateInstance",
        "UpdateInstanceInput",
        json!({ "id": id, "version": v1 }),
    )
    .await;
    assert_eq!(
        rolled_back["instance"]["integrationVersion"]["versionNumber"],
        1
    );
    let bad_id = mutate(
        &server,
        "deployInstance",
        "InstanceIdInput",
        json!({ "id": customer }),
    )
    .await;
    assert!(
        bad_id["errors"][0]["messages"][0]
            .as_str()
            .unwrap()
            .contains("expected an Instance id, got a Customer id"),
        "{bad_id}"
    );
}
