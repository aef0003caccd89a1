//! The integrations in `examples/`, end to end: each is imported, published, deployed for a
//! customer and triggered, against fake third-party APIs on loopback; the tests check what the
//! APIs received and what the executions recorded.

use std::time::Duration;

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::fake_api::FakeApi;
use crate::harness::TestServer;

ferry_store::store_tests!(
    order_sync_posts_each_line_retrying_a_busy_erp_and_flags_large_orders,
    helpdesk_tickets_checks_signatures_and_answers_with_the_case,
    supplier_inventory_routes_stock_changes_to_the_accounts_instance,
    supplier_inventory_reports_low_stock_on_its_schedule,
);

const ORDER_SYNC: &str = include_str!("../../../../examples/order-sync/integration.yml");
const HELPDESK: &str = include_str!("../../../../examples/helpdesk-tickets/integration.yml");
const SUPPLIER: &str = include_str!("../../../../examples/supplier-inventory/integration.yml");

const EXECUTION: &str = "query ($id: ID!) { executionResult(id: $id) { status error result \
    stepResults(first: 500) { nodes { stepName loopPath results error } } logs { nodes { severity message } } } }";

/// Polls the execution until it ends (15 s at most).
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

async fn deploy(server: &TestServer, instance: &str) {
    let deploy = "mutation ($id: ID!) { deployInstance(input: { id: $id }) { instance { lastDeployedAt } errors { field messages } } }";
    let deployed = server.gql(deploy, json!({ "id": instance })).await;
    assert_eq!(
        deployed["deployInstance"]["errors"],
        json!([]),
        "{deployed}"
    );
}

async fn order_sync_posts_each_line_retrying_a_busy_erp_and_flags_large_orders(store: &TestStore) {
    let server = TestServer::start(store).await;
    // The ERP is busy the first time it is called, then accepts everything.
    let erp = FakeApi::start(|request, count| match (request.path.as_str(), count) {
        ("/order-lines", 0) => (503, json!({ "error": "busy" })),
        _ => (200, json!({ "ok": true })),
    })
    .await;
    let integration = server.publish(ORDER_SYNC).await;
    let customer = server.customer("Mars", "mars").await;
    let values = json!([
        { "key": "Acme API Key", "value": r#"{"apiKey":"erp-key"}"# },
        { "key": "Acme Base URL", "value": erp.url },
    ]);
    let (instance, urls) = server.instance(&integration, &customer, values).await;
    deploy(&server, &instance).await;

    let order = json!({ "id": "A-1", "lines": [
        { "sku": "bolt", "qty": 100, "amount": 900 },
        { "sku": "nut", "qty": 10, "amount": 300 },
    ]});
    let response = server
        .http
        .post(urls["New Order"].as_str().unwrap())
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let execution = ended(&server, &id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let received = erp.received();
    let lines: Vec<&_> = received
        .iter()
        .filter(|r| r.path == "/order-lines")
        .collect();
    assert_eq!(lines.len(), 3, "two lines, the first one retried once");
    assert_eq!(
        lines[0].header("idempotency-key"),
        lines[1].header("idempotency-key"),
        "a retry repeats the key"
    );
    assert_ne!(
        lines[1].header("idempotency-key"),
        lines[2].header("idempotency-key")
    );
    assert!(lines[2].header("idempotency-key").ends_with(":postLine:1"));
    assert_eq!(
        lines[2].body,
        json!({ "order": "A-1", "sku": "nut", "quantity": 10, "amount": 300 })
    );
    assert_eq!(lines[0].header("authorization"), "Bearer erp-key");
    let flags: Vec<&_> = received
        .iter()
        .filter(|r| r.path == "/orders/A-1/flags")
        .collect();
    assert_eq!(flags.len(), 1, "1200 is over the default threshold of 1000");
    assert_eq!(flags[0].body, json!({ "flag": "large", "lines": 2 }));

    let steps: Vec<(String, String)> = execution["stepResults"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stepName"].as_str().unwrap().to_string(),
                s["loopPath"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        steps.contains(&("Post Line".into(), "1".into())),
        "{steps:?}"
    );
    assert!(
        steps.contains(&("Flag Order".into(), "".into())),
        "{steps:?}"
    );
    let retried = execution["logs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["message"].as_str().unwrap().contains("attempt 2 of 4"));
    assert!(retried, "the retry is in the logs");
}

fn signed(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn helpdesk_tickets_checks_signatures_and_answers_with_the_case(store: &TestStore) {
    let server = TestServer::start(store).await;
    let crm = FakeApi::start(|request, _| match request.method.as_str() {
        "POST" => (201, json!({ "id": "case-9" })),
        _ => (200, json!({ "ok": true })),
    })
    .await;
    let integration = server.publish(HELPDESK).await;
    let customer = server.customer("Mars", "mars").await;
    let values = json!([
        { "key": "Helpdesk Signing Secret", "value": r#"{"secret":"hush"}"# },
        { "key": "CRM API Key", "value": r#"{"apiKey":"crm-key"}"# },
        { "key": "CRM Base URL", "value": crm.url },
    ]);
    let (instance, urls) = server.instance(&integration, &customer, values).await;
    deploy(&server, &instance).await;
    let url = urls["Ticket Created"].as_str().unwrap();
    assert_eq!(urls["Ticket Closed"], url, "one URL for the instance");

    let created = r#"{"ticket":"T-5","subject":"Printer on fire"}"#;
    let post = |event: &'static str, body: &'static str, signature: String| {
        server
            .http
            .post(url)
            .header("x-helpdesk-event", event)
            .header("x-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = post("Ticket Created", created, signed("hush", created))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "case": "case-9" })
    );
    assert_eq!(
        crm.received()[0].body,
        json!({ "title": "Printer on fire", "ticket": "T-5", "customer": "mars" })
    );

    let forged = post("Ticket Created", created, signed("guess", created))
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        400,
        "a bad signature fails the flow before the CRM is called"
    );
    let error = forged.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("signature does not match"), "{error}");
    assert_eq!(crm.received().len(), 1);

    let closed = r#"{"ticket":"T-5"}"#;
    let response = post("Ticket Closed", closed, signed("hush", closed))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let patch = &crm.received()[1];
    assert_eq!(
        (patch.method.as_str(), patch.path.as_str()),
        ("PATCH", "/cases/by-ticket/T-5")
    );
}

async fn supplier_inventory_routes_stock_changes_to_the_accounts_instance(store: &TestStore) {
    let server = TestServer::start(store).await;
    let supplier = FakeApi::start(|_, _| (200, json!({ "items": [] }))).await;
    let integration = server.publish(SUPPLIER).await;
    let values = |_: &str| {
        json!([
            { "key": "Supplier Base URL", "value": supplier.url },
            { "key": "Report URL", "value": format!("{}/reports", supplier.url) },
        ])
    };
    let mars = server.customer("Mars", "acct-mars").await;
    let venus = server.customer("Venus", "acct-venus").await;
    let (mars_instance, urls) = server.instance(&integration, &mars, values("mars")).await;
    let (venus_instance, _) = server.instance(&integration, &venus, values("venus")).await;
    deploy(&server, &mars_instance).await;
    deploy(&server, &venus_instance).await;

    let url = urls["Stock Changed"].as_str().unwrap();
    let response = server
        .http
        .post(url)
        .header("x-supplier-event", "Stock Changed")
        .json(&json!({ "account": "acct-venus", "sku": "bolt", "level": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let execution = ended(&server, &id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let venus_runs = server
        .gql(
            "query ($i: ID!) { executionResults(instance: $i) { totalCount } }",
            json!({ "i": venus_instance }),
        )
        .await;
    assert_eq!(
        venus_runs["executionResults"]["totalCount"], 1,
        "routed to Venus's instance"
    );
}

async fn supplier_inventory_reports_low_stock_on_its_schedule(store: &TestStore) {
    let server = TestServer::start(store).await;
    // Two pages of stock, then an empty one.
    let supplier = FakeApi::start(|request, _| {
        match (request.path.as_str(), request.query.as_str()) {
            ("/accounts/acct-mars/stock", "page=1") => (
                200,
                json!({ "items": [{ "sku": "bolt", "level": 2 }, { "sku": "nut", "level": 50 }] }),
            ),
            ("/accounts/acct-mars/stock", "page=2") => {
                (200, json!({ "items": [{ "sku": "gear", "level": 0 }] }))
            }
            ("/accounts/acct-mars/stock", _) => (200, json!({ "items": [] })),
            _ => (200, json!({ "ok": true })),
        }
    })
    .await;
    let integration = server.publish(SUPPLIER).await;
    let mars = server.customer("Mars", "acct-mars").await;
    let values = json!([
        { "key": "Supplier Base URL", "value": supplier.url },
        { "key": "Report URL", "value": format!("{}/reports", supplier.url) },
        { "key": "Sync Schedule", "value": "* * * * * *" },
    ]);
    let (instance, _) = server.instance(&integration, &mars, values).await;
    deploy(&server, &instance).await;

    let mut report = None;
    for _ in 0..100 {
        report = supplier
            .received()
            .into_iter()
            .find(|r| r.path == "/reports");
        if report.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = report.expect("a report within 10 s of deploying an every-second schedule");
    assert_eq!(report.method, "POST");
    assert_eq!(
        report.body,
        json!({ "account": "acct-mars", "skus": 3, "low": ["bolt", "gear"] })
    );
    // The report is sent by the flow's last step: its execution ends just after.
    let mut runs = Value::Null;
    for _ in 0..100 {
        runs = server
            .gql("query ($i: ID!) { executionResults(instance: $i, flow: \"Stock Report\", status: SUCCEEDED) { nodes { triggerPayload } } }", json!({ "i": instance }))
            .await["executionResults"]
            .clone();
        if runs["nodes"][0].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        runs["nodes"][0]["triggerPayload"]["cron"], "* * * * * *",
        "{runs}"
    );
}
