//! Instance-specific and shared webhook endpoints: one URL per instance, or one per
//! integration, routed to a flow (and a customer) by fields of the request or by a
//! preprocess flow's answer.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    an_instance_url_runs_the_flow_the_request_names,
    a_preprocess_flow_picks_the_flow,
    a_shared_url_runs_the_named_customers_flow,
);

/// Two synchronous flows answering with their own name and the customer's.
const FLOWS: &str = r#"
  - name: Create Widget
    trigger: { type: webhook, isSynchronous: true, endpointSecurityType: unsecured }
    steps:
      - { name: Answer, action: flow.stop, inputs: { body: { ran: Create Widget, customer: "{{ customer.name }}" } } }
  - name: Update Gadget
    trigger: { type: webhook, isSynchronous: true, endpointSecurityType: unsecured }
    steps:
      - { name: Answer, action: flow.stop, inputs: { body: { ran: Update Gadget, customer: "{{ customer.name }}" } } }
"#;

async fn call(
    server: &TestServer,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let mut request = server.http.post(url).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn an_instance_url_runs_the_flow_the_request_names(store: &TestStore) {
    let server = TestServer::start(store).await;
    let definition = format!(
        "name: Widgets\nendpointType: instance_specific\ntriggerPreprocessFlowConfig: {{ flowNameField: headers.x-flow }}\nflows:{FLOWS}"
    );
    let integration = server.publish(&definition).await;
    let customer = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &customer, json!([])).await;
    let url = urls["Create Widget"].as_str().unwrap();
    assert_eq!(
        urls["Update Gadget"], url,
        "the instance's flows share one URL"
    );

    let (status, body) = call(&server, url, &[("X-Flow", "Update Gadget")], json!({})).await;
    assert_eq!(
        (status, &body["ran"]),
        (200, &json!("Update Gadget")),
        "{body}"
    );
    let (_, body) = call(&server, url, &[("x-flow", "Create Widget")], json!({})).await;
    assert_eq!(body["ran"], "Create Widget");

    let (status, body) = call(&server, url, &[("x-flow", "Delete Everything")], json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no webhook flow named \"Delete Everything\"");
    let (status, body) = call(&server, url, &[], json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "the request names no flow at `headers.x-flow`"
    );
}

async fn a_preprocess_flow_picks_the_flow(store: &TestStore) {
    let server = TestServer::start(store).await;
    let definition = format!(
        r#"name: Widgets
endpointType: instance_specific
flows:{FLOWS}
  - name: Route
    isPreprocessFlow: true
    preprocessFlowConfig: {{ flowNameField: flow }}
    trigger: {{ type: webhook, endpointSecurityType: unsecured }}
    steps:
      - name: Decide
        action: branch.selectExecutedStepResult
        inputs: {{ stepResults: "{{{{ {{'flow': 'Update Gadget' if steps.trigger.results.body.data.kind == 'gadget' else 'Create Widget'}} }}}}" }}
"#
    );
    let integration = server.publish(&definition).await;
    let customer = server.customer("Mars", "mars").await;
    let (_, urls) = server.instance(&integration, &customer, json!([])).await;
    let url = urls["Create Widget"].as_str().unwrap();
    let (status, body) = call(&server, url, &[], json!({ "kind": "gadget" })).await;
    assert_eq!(
        (status, &body["ran"]),
        (200, &json!("Update Gadget")),
        "{body}"
    );
    let (_, body) = call(&server, url, &[], json!({ "kind": "widget" })).await;
    assert_eq!(body["ran"], "Create Widget");
}

async fn a_shared_url_runs_the_named_customers_flow(store: &TestStore) {
    let server = TestServer::start(store).await;
    let definition = format!(
        "name: Widgets\nendpointType: shared_instance\ntriggerPreprocessFlowConfig: {{ flowNameField: body.data.flow, externalCustomerIdField: headers.x-customer }}\nflows:{FLOWS}"
    );
    let integration = server.publish(&definition).await;
    let mars = server.customer("Mars", "mars-1").await;
    let venus = server.customer("Venus", "venus-1").await;
    let (_, mars_urls) = server.instance(&integration, &mars, json!([])).await;
    let (_, venus_urls) = server.instance(&integration, &venus, json!([])).await;
    let url = mars_urls["Create Widget"].as_str().unwrap();
    assert_eq!(
        venus_urls["Update Gadget"], url,
        "every customer shares the integration's URL"
    );

    let (status, body) = call(
        &server,
        url,
        &[("x-customer", "venus-1")],
        json!({ "flow": "Update Gadget" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "ran": "Update Gadget", "customer": "Venus" }));
    let (_, body) = call(
        &server,
        url,
        &[("x-customer", "mars-1")],
        json!({ "flow": "Create Widget" }),
    )
    .await;
    assert_eq!(body, json!({ "ran": "Create Widget", "customer": "Mars" }));

    let (status, body) = call(
        &server,
        url,
        &[("x-customer", "pluto")],
        json!({ "flow": "Create Widget" }),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"],
        "no instance of this integration for customer \"pluto\""
    );
    let (status, body) = call(&server, url, &[], json!({ "flow": "Create Widget" })).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "the request names no customer at `headers.x-customer`"
    );
}
