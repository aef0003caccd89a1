//! Webhook ingress: requests to an instance's flow URLs are committed as queued executions
//! before they are acknowledged.

use ferry_core::id::{self, Kind};
use ferry_store::testing::TestStore;
use ferry_store::Tenant;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    webhooks_queue_executions_with_the_request_as_payload,
    webhooks_refuse_what_they_must
);

const ORDERS: &str = include_str!("../../../ferry-definition/tests/fixtures/orders.yml");

/// Imports, publishes and instantiates `definition`; returns the URL of each flow by name and the instance id.
async fn deployed(server: &TestServer, definition: &str, name: &str) -> (Value, String) {
    let import = "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) { integration { id } errors { messages } } }";
    let imported = server
        .gql(
            import,
            json!({ "input": { "definition": definition.replace("Orders to Acme ERP", name) } }),
        )
        .await;
    let integration = imported["importIntegration"]["integration"]["id"].clone();
    server.gql("mutation ($id: ID!) { publishIntegration(input: { id: $id }) { errors { messages } } }", json!({ "id": integration })).await;
    let customer = server
        .customer(&format!("{name} customer"), &format!("{name}-ext"))
        .await;
    let create = "mutation ($input: CreateInstanceInput!) { createInstance(input: $input) { \
                    instance { id flowConfigs { nodes { flow { name } webhookUrl } } } errors { messages } } }";
    let created = server
        .gql(
            create,
            json!({ "input": { "customer": customer, "integration": integration, "name": name } }),
        )
        .await;
    let instance = &created["createInstance"]["instance"];
    let urls: serde_json::Map<String, Value> = instance["flowConfigs"]["nodes"]
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
    (
        Value::Object(urls),
        instance["id"].as_str().unwrap().to_string(),
    )
}

async fn webhooks_queue_executions_with_the_request_as_payload(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (urls, _) = deployed(&server, ORDERS, "Orders").await;
    let url = urls["New Order"].as_str().unwrap();
    let response = server
        .http
        .post(format!("{url}/orders/7?source=shop"))
        .header("X-Shop", "acme")
        .json(&json!({ "id": 7, "items": [{ "price": 2, "qty": 3 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = response.headers()["ferry-executionid"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["executionId"], header.as_str());
    let execution_id = id::decode(Kind::InstanceExecutionResult, &header).unwrap();
    let org = Tenant::organization(server.tenant.org_id);
    // Committed before the answer (a worker may have taken it since).
    let execution = store.store.execution(&org, execution_id).await.unwrap();
    let payload = &execution.trigger_payload;
    assert_eq!(
        payload["body"]["data"],
        json!({ "id": 7, "items": [{ "price": 2, "qty": 3 }] })
    );
    assert_eq!(payload["headers"]["x-shop"], "acme");
    assert_eq!(payload["queryParameters"], json!({ "source": "shop" }));
    assert_eq!(payload["pathFragment"], "orders/7");
    assert_eq!(payload["invokeUrl"], url);
    assert_eq!(payload["webhookUrls"]["New Order"], url);
    assert_eq!(payload["webhookUrls"].as_object().unwrap().len(), 3);

    let sync = server
        .http
        .get(url)
        .header("ferry-synchronous", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sync.status(),
        400,
        "a synchronous call waits for its execution, whose first step fails here"
    );
    let body: Value = sync.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("step \"Shape Order\" failed"), "{error}");
    assert!(body["executionId"].is_string());
}

async fn webhooks_refuse_what_they_must(store: &TestStore) {
    let server = TestServer::start(store).await;
    let (urls, instance) = deployed(&server, ORDERS, "Orders").await;
    let url = urls["New Order"].as_str().unwrap().to_string();
    let malformed = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed
        .text()
        .await
        .unwrap()
        .contains("malformed JSON body"));
    for unknown in [
        format!("{}/trigger/bm9wZQ==", server.base),
        format!("{}/trigger/!!", server.base),
        format!(
            "{}/trigger/{}",
            server.base,
            id::encode(Kind::InstanceFlowConfig, uuid::Uuid::nil())
        ),
    ] {
        let response = server.http.post(&unknown).send().await.unwrap();
        assert_eq!(response.status(), 404, "{unknown}");
    }
    let pause = "mutation ($id: ID!) { updateInstance(input: { id: $id, enabled: false }) { errors { messages } } }";
    server.gql(pause, json!({ "id": instance })).await;
    let paused_url = url.clone();
    let paused = server
        .http
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 409);
    assert!(paused.text().await.unwrap().contains("is paused"));

    let secured = ORDERS.replace(
        "endpointSecurityType: customer_optional",
        "endpointSecurityType: customer_required",
    );
    let (urls, _) = deployed(&server, &secured, "Secured").await;
    let url = urls["New Order"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .http
            .post(&url)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        server
            .http
            .post(&url)
            .header("Api-Key", "guess")
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    let path = url.trim_start_matches(&server.base).to_string();
    assert!(oversized(&addr, &path).await.starts_with("HTTP/1.1 413"));

    // A deleted instance's URL is gone, not unknown.
    let delete =
        "mutation ($id: ID!) { deleteInstance(input: { id: $id }) { errors { messages } } }";
    let deleted = server.gql(delete, json!({ "id": instance })).await;
    assert_eq!(deleted["deleteInstance"]["errors"], json!([]));
    let gone = server
        .http
        .post(&paused_url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
    assert!(gone.text().await.unwrap().contains("was deleted"));
}

/// Announces a 7 MB body and reads the answer before sending it.
async fn oversized(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", 7 * 1024 * 1024);
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..read]).to_string()
}
