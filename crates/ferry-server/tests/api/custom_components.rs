//! Custom components end to end: `examples/components` (the Acme CRM component and the
//! integration using it) published, imported, deployed and run against a fake CRM on
//! loopback; bad bundles and bad imports refused with errors naming the place.

use std::time::Duration;

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::fake_api::FakeApi;
use crate::harness::TestServer;

ferry_store::store_tests!(
    the_crm_component_lists_pages_and_creates_contacts_in_a_flow,
    the_crm_trigger_reshapes_webhook_requests_and_answers_the_caller,
    a_deploy_hook_that_throws_refuses_the_deploy_naming_the_flow,
    bad_bundles_are_refused_naming_the_place_and_the_server_stays_up,
    imports_are_checked_against_the_pinned_component_version,
    a_custom_action_failure_names_the_action_and_the_place,
);

const CRM: &str = include_str!("../../../../examples/components/acme-crm.js");
const INTEGRATION: &str = include_str!("../../../../examples/components/integration.yml");

const PUBLISH: &str = "mutation ($input: PublishComponentInput!) { publishComponent(input: $input) { \
    component { key versionNumber } publishedVersion { versionNumber actions { key inputs { key type required } } triggers { key } } \
    errors { field messages } } }";

const EXECUTION: &str = "query ($id: ID!) { executionResult(id: $id) { status error \
    stepResults(first: 500) { nodes { stepName results error } } logs { nodes { message } } } }";

async fn publish_component(server: &TestServer, bundle: &str) -> Value {
    let published = server
        .gql(
            PUBLISH,
            json!({ "input": { "bundle": bundle, "comment": "test" } }),
        )
        .await;
    published["publishComponent"].clone()
}

/// The fake CRM: three contacts over two pages, contacts and webhooks created on POST.
async fn fake_crm() -> FakeApi {
    FakeApi::start(|request, _| {
        if request.header("authorization") != "Bearer crm-key" {
            return (401, json!({ "error": "bad key" }));
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/contacts") if request.query.contains("page=1") => (
                200,
                json!({ "contacts": [{ "id": "c-1", "email": "ada@example.com" }, { "id": "c-2", "email": "bo@example.com" }], "nextPage": 2 }),
            ),
            ("GET", "/contacts") => (
                200,
                json!({ "contacts": [{ "id": "c-3", "email": "cy@example.com" }], "nextPage": null }),
            ),
            ("POST", "/contacts") => (201, json!({ "id": "c-4", "email": request.body["email"] })),
            ("POST", "/webhooks") => (201, json!({ "id": "wh-1" })),
            _ => (200, json!({})),
        }
    })
    .await
}

async fn ended(server: &TestServer, id: &str) -> Value {
    for _ in 0..150 {
        let found = server.gql(EXECUTION, json!({ "id": id })).await;
        let execution = found["executionResult"].clone();
        if !matches!(execution["status"].as_str(), Some("QUEUED" | "RUNNING")) {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {id} did not end");
}

async fn post(url: &Value, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url.as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn the_crm_component_lists_pages_and_creates_contacts_in_a_flow(store: &TestStore) {
    let server = TestServer::start(store).await;
    let crm = fake_crm().await;
    let first = publish_component(&server, CRM).await;
    assert_eq!(first["errors"], json!([]), "{first}");
    assert_eq!(
        first["component"],
        json!({ "key": "acme-crm", "versionNumber": 1 })
    );
    let version = &first["publishedVersion"];
    assert_eq!(version["actions"][0]["key"], "acme-crm.listContacts");
    assert_eq!(
        version["actions"][1]["inputs"][1],
        json!({ "key": "email", "type": "string", "required": true })
    );
    assert_eq!(version["triggers"][0]["key"], "acme-crm.contactEvents");
    let second = publish_component(&server, CRM).await;
    assert_eq!(second["publishedVersion"]["versionNumber"], 2);
    let listed = server
        .gql(
            "{ component(key: \"acme-crm\") { isPublic versionNumber versions { versionNumber } connections { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["component"],
        json!({ "isPublic": false, "versionNumber": 2, "versions": [{ "versionNumber": 2 }, { "versionNumber": 1 }], "connections": [{ "key": "apiKey" }] })
    );

    let integration = server.publish(INTEGRATION).await;
    let customer = server.customer("Mars", "mars").await;
    let connection = json!({ "baseUrl": crm.url, "apiKey": "crm-key" }).to_string();
    let values = json!([{ "key": "CRM Connection", "value": connection }]);
    let (_, urls) = server.instance(&integration, &customer, values).await;
    let answer = post(
        &urls["New Sign-up"],
        json!({ "email": "New@Example.com", "name": "Nia" }),
    )
    .await;
    let execution = ended(&server, answer["executionId"].as_str().unwrap()).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let steps = execution["stepResults"]["nodes"].as_array().unwrap();
    let listed = steps
        .iter()
        .find(|s| s["stepName"] == "List Contacts")
        .unwrap();
    assert_eq!(listed["results"].as_array().unwrap().len(), 3);
    let created = steps
        .iter()
        .find(|s| s["stepName"] == "Create Contact")
        .unwrap();
    assert_eq!(created["results"]["id"], "c-4");
    let logs: Vec<&str> = execution["logs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(logs.contains(&"page 2: 1 contacts"), "{logs:?}");
    assert!(logs.contains(&"created contact c-4"), "{logs:?}");
    let received = crm.received();
    let pages: Vec<&str> = received
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.query.as_str())
        .collect();
    assert_eq!(pages, ["page=1&pageSize=2", "page=2&pageSize=2"]);
    let posted = received
        .iter()
        .find(|r| r.path == "/contacts" && r.method == "POST")
        .unwrap();
    assert_eq!(
        posted.body,
        json!({ "email": "new@example.com", "name": "Nia", "tags": { "source": "ferry" } })
    );
}

async fn the_crm_trigger_reshapes_webhook_requests_and_answers_the_caller(store: &TestStore) {
    let server = TestServer::start(store).await;
    let crm = fake_crm().await;
    publish_component(&server, CRM).await;
    let integration = server.publish(INTEGRATION).await;
    let customer = server.customer("Mars", "mars").await;
    let connection = json!({ "baseUrl": crm.url, "apiKey": "crm-key" }).to_string();
    let values = json!([{ "key": "CRM Connection", "value": connection }]);
    let (instance, urls) = server.instance(&integration, &customer, values).await;
    // Deploying registers the flow's URL with the CRM (the trigger's onInstanceDeploy).
    let deploy =
        "mutation ($id: ID!) { deployInstance(input: { id: $id }) { errors { field messages } } }";
    let deployed = server.gql(deploy, json!({ "id": instance })).await;
    assert_eq!(
        deployed["deployInstance"]["errors"],
        json!([]),
        "{deployed}"
    );
    let hook = crm
        .received()
        .into_iter()
        .find(|r| r.path == "/webhooks")
        .unwrap();
    assert_eq!(
        hook.body,
        json!({ "url": urls["Contact Events"], "events": ["contact.created", "contact.updated"] })
    );
    let event = json!({ "id": "ev-1", "type": "contact.created", "contact": { "email": "zoe@example.com" } });
    let response = reqwest::Client::new()
        .post(urls["Contact Events"].as_str().unwrap())
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["ferry-executionid"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "received": "ev-1" })
    );
    let execution = ended(&server, &id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let trigger = &execution["stepResults"]["nodes"][0];
    assert_eq!(
        trigger["results"]["body"]["data"]["email"],
        "zoe@example.com"
    );
    assert_eq!(trigger["results"]["event"], "contact.created");
    let logs = execution["logs"]["nodes"].to_string();
    assert!(logs.contains("contact.created: zoe@example.com"), "{logs}");
    // A request the trigger cannot read is refused, naming the trigger, and nothing runs.
    let refused = reqwest::Client::new()
        .post(urls["Contact Events"].as_str().unwrap())
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let message = refused.json::<Value>().await.unwrap()["error"].to_string();
    assert!(
        message.contains("trigger acme-crm.contactEvents refused the request: TypeError"),
        "{message}"
    );
    // Deleting the instance removes the CRM webhook the deploy stored (onInstanceDelete).
    let delete =
        "mutation ($id: ID!) { deleteInstance(input: { id: $id }) { errors { field messages } } }";
    let deleted = server.gql(delete, json!({ "id": instance })).await;
    assert_eq!(deleted["deleteInstance"]["errors"], json!([]), "{deleted}");
    let removed = crm
        .received()
        .into_iter()
        .any(|r| r.method == "DELETE" && r.path == "/webhooks/wh-1");
    assert!(removed, "{:?}", crm.received());
}

async fn a_deploy_hook_that_throws_refuses_the_deploy_naming_the_flow(store: &TestStore) {
    let server = TestServer::start(store).await;
    let crm = fake_crm().await;
    publish_component(&server, CRM).await;
    let integration = server.publish(INTEGRATION).await;
    let customer = server.customer("Mars", "mars").await;
    let connection = json!({ "baseUrl": crm.url, "apiKey": "wrong" }).to_string();
    let values = json!([{ "key": "CRM Connection", "value": connection }]);
    let (instance, _) = server.instance(&integration, &customer, values).await;
    let deploy = "mutation ($id: ID!) { deployInstance(input: { id: $id }) { instance { lastDeployedAt } errors { field messages } } }";
    let refused = server.gql(deploy, json!({ "id": instance })).await;
    let errors = &refused["deployInstance"]["errors"];
    assert_eq!(errors[0]["field"], "flows[1].trigger", "{refused}");
    let message = errors[0]["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with("flow \"Contact Events\": onInstanceDeploy of acme-crm.contactEvents failed: ConnectionError: the CRM refused the API key\n    at crm (component.js:"),
        "{message}"
    );
    let found = server
        .gql(
            "query ($id: ID!) { instance(id: $id) { lastDeployedAt } }",
            json!({ "id": instance }),
        )
        .await;
    assert!(found["instance"]["lastDeployedAt"].is_null(), "{found}");
}

async fn bad_bundles_are_refused_naming_the_place_and_the_server_stays_up(store: &TestStore) {
    let server = TestServer::start(store).await;
    let errors = |published: &Value| published["errors"].clone();
    let syntax = publish_component(&server, "import { component } from '@ferry/sdk';\nexport default component({ key: 'x', actions: { a: } });").await;
    assert_eq!(errors(&syntax)[0]["field"], "bundle");
    let message = errors(&syntax)[0]["messages"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("syntax error at line 2, column"),
        "{message}"
    );

    let nothing = publish_component(&server, "const a = 1;").await;
    assert!(errors(&nothing)[0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("must export a component"));

    let throws = publish_component(&server, "throw new TypeError('no config here');").await;
    assert_eq!(
        errors(&throws)[0]["messages"][0]
            .as_str()
            .unwrap()
            .lines()
            .next(),
        Some("TypeError: no config here")
    );

    let bad = CRM
        .replace(
            "type: \"password\", required: true },",
            "type: \"secret\", required: true },",
        )
        .replace(
            "triggers: { contactEvents },",
            "triggers: { createContact: contactEvents },",
        );
    let refused = publish_component(&server, &bad).await;
    let found = errors(&refused);
    let fields: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "triggers.createContact",
            "connections[0].inputs.apiKey.type"
        ],
        "{refused}"
    );
    assert!(errors(&refused)[1]["messages"][0]
        .as_str()
        .unwrap()
        .starts_with("unknown input type \"secret\""));
    assert!(refused["publishedVersion"].is_null());

    // Nothing was stored, and the server still answers.
    let all = server
        .gql("{ components { nodes { key isPublic } } }", json!({}))
        .await;
    let custom: Vec<&Value> = all["components"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isPublic"] == false)
        .collect();
    assert!(custom.is_empty(), "{all}");
}

async fn imports_are_checked_against_the_pinned_component_version(store: &TestStore) {
    let server = TestServer::start(store).await;
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { field messages } } }";
    let unpublished = server
        .gql(import, json!({ "input": { "definition": INTEGRATION } }))
        .await;
    let errors = &unpublished["importIntegration"]["errors"];
    assert_eq!(errors[0]["field"], "componentVersions.acme-crm", "{errors}");
    assert_eq!(
        errors[0]["messages"][0],
        "line 5: no custom component \"acme-crm\" has been published"
    );
    publish_component(&server, CRM).await;
    let wrong = INTEGRATION.replace("pageSize: 2", "pageSize: 2\n          colour: red");
    let refused = server
        .gql(import, json!({ "input": { "definition": wrong } }))
        .await;
    let errors = &refused["importIntegration"]["errors"];
    assert_eq!(
        errors[0]["field"], "flows[0].steps[0].inputs.colour",
        "{errors}"
    );
    assert!(errors[0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("unknown input \"colour\"; acme-crm.listContacts takes connection, pageSize"));
    let later = INTEGRATION.replace("acme-crm: 1", "acme-crm: 3");
    let refused = server
        .gql(import, json!({ "input": { "definition": later } }))
        .await;
    assert_eq!(
        refused["importIntegration"]["errors"][0]["messages"][0],
        "line 5: component \"acme-crm\" has no version 3; its versions are 1"
    );
}

const FAILING: &str = r#"
const { component, action, input } = require("@ferry/sdk");
const odd = action({ display: { label: "Odd" }, inputs: { n: input({ label: "N", type: "string" }) },
  perform: async (context, { n }) => ({ data: { n, later: Promise.resolve(n) } }) });
module.exports = component({ key: "odd", actions: { odd } });
"#;

async fn a_custom_action_failure_names_the_action_and_the_place(store: &TestStore) {
    let server = TestServer::start(store).await;
    let published = publish_component(&server, FAILING).await;
    assert_eq!(published["errors"], json!([]), "{published}");
    let definition = "name: Odd\ncomponentVersions: { odd: 1 }\nflows:\n  - name: Run\n    trigger: { type: webhook }\n    steps:\n      - name: Odd\n        action: odd.odd\n        inputs: { n: 1 }\n";
    let integration = server.publish(definition).await;
    let customer = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &customer, json!([])).await;
    let answer = post(&urls["Run"], json!({})).await;
    let execution = ended(&server, answer["executionId"].as_str().unwrap()).await;
    assert_eq!(execution["status"], "FAILED");
    let error = execution["error"].as_str().unwrap();
    assert!(
        error.contains("odd.odd: the result cannot be serialized: data.later is a promise"),
        "{error}"
    );
}
