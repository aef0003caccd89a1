//! Integrations through the API: import with every problem reported, publish, versions, export.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    import_publish_and_list_versions,
    invalid_definitions_report_every_problem_and_store_nothing,
    reimport_replaces_the_draft_and_export_round_trips,
    integrations_follow_the_role_matrix,
    code_steps_are_checked_at_import,
);

const ORDERS: &str = include_str!("../../../ferry-definition/tests/fixtures/orders.yml");

const IMPORT: &str =
    "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { \
    integration { id name description versionNumber definition } errors { field messages } } }";
const PUBLISH: &str = "mutation ($input: PublishIntegrationInput!) { publishIntegration(input: $input) { \
    integration { id versionNumber } publishedVersion { id versionNumber comment isAvailable } errors { field messages } } }";

async fn import(server: &TestServer, definition: &str, integration_id: Option<&str>) -> Value {
    let input = json!({ "definition": definition, "integrationId": integration_id });
    server.gql(IMPORT, json!({ "input": input })).await["importIntegration"].clone()
}

async fn import_publish_and_list_versions(store: &TestStore) {
    let server = TestServer::start(store).await;
    let imported = import(&server, ORDERS, None).await;
    assert_eq!(imported["errors"], json!([]));
    let integration = &imported["integration"];
    assert_eq!(integration["name"], "Orders to Acme ERP");
    assert_eq!(integration["description"], "Sends new orders to Acme ERP");
    assert_eq!(integration["versionNumber"], Value::Null);
    assert_eq!(
        integration["definition"], ORDERS,
        "the draft is kept as written"
    );
    let id = integration["id"].as_str().unwrap().to_string();

    let first = server
        .gql(
            PUBLISH,
            json!({ "input": { "id": id, "comment": "first" } }),
        )
        .await["publishIntegration"]
        .clone();
    assert_eq!(first["integration"]["versionNumber"], 1);
    assert_eq!(first["publishedVersion"]["comment"], "first");
    let second =
        server.gql(PUBLISH, json!({ "input": { "id": id } })).await["publishIntegration"].clone();
    assert_eq!(second["publishedVersion"]["versionNumber"], 2);

    let make_unavailable = "mutation ($id: ID!) { updateIntegrationVersionAvailability(input: { id: $id, isAvailable: false }) { integrationVersion { isAvailable } errors { messages } } }";
    let off = server
        .gql(
            make_unavailable,
            json!({ "id": first["publishedVersion"]["id"] }),
        )
        .await;
    assert_eq!(
        off["updateIntegrationVersionAvailability"]["integrationVersion"]["isAvailable"],
        false
    );
    let query = "query ($id: ID!) { integration(id: $id) { versionNumber \
                   all: versions { totalCount nodes { versionNumber isAvailable } } \
                   available: versions(isAvailable: true) { totalCount nodes { versionNumber definition integration { name } } } } }";
    let found = server.gql(query, json!({ "id": id })).await["integration"].clone();
    assert_eq!(found["versionNumber"], 2);
    assert_eq!(
        found["all"]["nodes"],
        json!([{ "versionNumber": 2, "isAvailable": true }, { "versionNumber": 1, "isAvailable": false }])
    );
    assert_eq!(found["available"]["totalCount"], 1);
    assert_eq!(found["available"]["nodes"][0]["definition"], ORDERS);
    assert_eq!(
        found["available"]["nodes"][0]["integration"]["name"],
        "Orders to Acme ERP"
    );

    let flows = server.gql("query ($id: ID!) { integration(id: $id) { flows { name stableKey triggerType isSynchronous } } }", json!({ "id": id })).await;
    assert_eq!(
        flows["integration"]["flows"],
        json!([
            { "name": "New Order", "stableKey": "new-order", "triggerType": "webhook", "isSynchronous": false },
            { "name": "Nightly Sync", "stableKey": null, "triggerType": "schedule", "isSynchronous": false },
            { "name": "On Deploy", "stableKey": null, "triggerType": "management", "isSynchronous": false }
        ])
    );
    let list = server.gql("{ integrations(name_Icontains: \"acme\") { totalCount nodes { name versionNumber } } }", json!({})).await;
    assert_eq!(
        list["integrations"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Orders to Acme ERP", "versionNumber": 2 }] })
    );

    let deleted = server
        .gql("mutation ($id: ID!) { deleteIntegration(input: { id: $id }) { integration { name } errors { messages } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        deleted["deleteIntegration"]["integration"]["name"],
        "Orders to Acme ERP"
    );
    let message = server
        .error_as(
            &server.token,
            "query ($id: ID!) { integration(id: $id) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(message, "integration not found");
}

async fn invalid_definitions_report_every_problem_and_store_nothing(store: &TestStore) {
    let server = TestServer::start(store).await;
    let broken = ORDERS
        .replace("action: http.request", "action: http.requets")
        .replace("configVar: Sync Schedule", "cron: \"61 * * * *\"");
    let result = import(&server, &broken, None).await;
    eprintln!("DEBUG {result}");
    assert_eq!(result["integration"], Value::Null);
    let errors = result["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "flows[1].trigger.cron",
            "flows[0].steps[1].branches[0].steps[0].action"
        ]
    );
    let line = ORDERS
        .lines()
        .position(|l| l.contains("action: http.request"))
        .unwrap()
        + 1;
    assert_eq!(
        errors[1]["messages"][0],
        format!("line {line}: unknown action \"http.requets\"")
    );

    let not_yaml = import(&server, "name: [unclosed\n", None).await;
    assert_eq!(not_yaml["errors"][0]["field"], "definition");
    assert!(not_yaml["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("invalid YAML"));
    let missing = import(&server, "description: no name\nflows: []\n", None).await;
    assert!(
        missing["errors"][0]["messages"][0]
            .as_str()
            .unwrap()
            .contains("missing field `name`"),
        "{missing}"
    );

    let count = server
        .gql("{ integrations { totalCount } }", json!({}))
        .await;
    assert_eq!(count["integrations"]["totalCount"], 0, "nothing stored");
}

async fn reimport_replaces_the_draft_and_export_round_trips(store: &TestStore) {
    let server = TestServer::start(store).await;
    let id = import(&server, ORDERS, None).await["integration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let duplicate = import(&server, ORDERS, None).await;
    assert_eq!(duplicate["errors"][0]["field"], "name");
    assert!(duplicate["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("integrationId"));
    let renamed = ORDERS.replace("name: Orders to Acme ERP", "name: Orders to Acme ERP (v2)");
    let replaced = import(&server, &renamed, Some(&id)).await;
    assert_eq!(replaced["integration"]["id"], id.as_str());
    assert_eq!(replaced["integration"]["name"], "Orders to Acme ERP (v2)");
    let exported = server
        .gql(
            "query ($id: ID!) { integration(id: $id) { definition } }",
            json!({ "id": id }),
        )
        .await;
    let again = import(
        &server,
        exported["integration"]["definition"].as_str().unwrap(),
        Some(&id),
    )
    .await;
    assert_eq!(again["errors"], json!([]));
    assert_eq!(again["integration"]["definition"], renamed.as_str());
    let unknown = import(
        &server,
        ORDERS,
        Some("SW50ZWdyYXRpb246MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"),
    )
    .await;
    assert_eq!(
        unknown["errors"],
        json!([{ "field": "integrationId", "messages": ["integration not found"] }])
    );
    let wrong_kind = import(&server, ORDERS, Some("bm9wZQ==")).await;
    assert_eq!(wrong_kind["errors"][0]["field"], "integrationId");
}

async fn integrations_follow_the_role_matrix(store: &TestStore) {
    let server = TestServer::start(store).await;
    import(&server, ORDERS, None).await;
    let guest = server.user_token("guest@us.test", "Guest", None).await;
    let seen = server
        .ok_as(&guest, "{ integrations { totalCount } }", json!({}))
        .await;
    assert_eq!(seen["integrations"]["totalCount"], 1);
    let message = server
        .error_as(&guest, IMPORT, json!({ "input": { "definition": ORDERS } }))
        .await;
    assert!(
        message.contains("(Guest) may not manage integrations"),
        "{message}"
    );
    let customer = server.customer("Acme", "acme").await;
    let admin = server
        .user_token("admin@acme.test", "Admin", Some(&customer))
        .await;
    let message = server
        .error_as(&admin, "{ integrations { totalCount } }", json!({}))
        .await;
    assert!(message.contains("may not view integrations"), "{message}");
}

/// An integration whose one step runs `code` in `language`.
fn code_definition(language: &str, code: &str) -> String {
    let code: String = code.lines().map(|l| format!("            {l}\n")).collect();
    format!(
        "name: Typed\nflows:\n  - name: Flow\n    trigger: {{ type: webhook }}\n    steps:\n      - name: Shape\n        action: code.run\n        inputs:\n          language: {language}\n          code: |\n{code}"
    )
}

/// The message of an import refused for its one step's code (nothing was saved).
fn refused_code(result: &Value) -> &str {
    assert_eq!(result["integration"], Value::Null);
    assert_eq!(
        result["errors"][0]["field"],
        "flows[0].steps[0].inputs.code"
    );
    result["errors"][0]["messages"][0].as_str().unwrap()
}

async fn code_steps_are_checked_at_import(store: &TestStore) {
    let server = TestServer::start(store).await;
    let good = code_definition(
        "typescript",
        "interface Out { data: number }\nmodule.exports = async (): Promise<Out> => ({ data: 1 });",
    );
    let imported = import(&server, &good, None).await;
    assert_eq!(imported["errors"], json!([]));
    let id = imported["integration"]["id"].as_str().unwrap().to_string();

    let broken = code_definition(
        "typescript",
        "interface Out { data: number }\nmodule.exports = async (): Promise<Out> => ({ data: 1 ;",
    );
    let result = import(&server, &broken, Some(&id)).await;
    let message = refused_code(&result);
    assert!(
        message.starts_with("line 10: TypeScript syntax error at line 2, column 55 of the code: "),
        "{message}"
    );

    let broken = code_definition(
        "javascript",
        "module.exports = async () => {\n  return { data: (1 + };\n};",
    );
    let result = import(&server, &broken, Some(&id)).await;
    let message = refused_code(&result);
    assert!(
        message.starts_with("line 10: JavaScript syntax error at line 2, column 23 of the code: "),
        "{message}"
    );

    let unknown = code_definition(
        "coffeescript",
        "module.exports = async () => ({ data: 1 });",
    );
    let result = import(&server, &unknown, Some(&id)).await;
    assert_eq!(
        result["errors"][0]["field"],
        "flows[0].steps[0].inputs.language"
    );
    assert_eq!(
        result["errors"][0]["messages"][0],
        "line 9: expected javascript or typescript, got \"coffeescript\""
    );
}
