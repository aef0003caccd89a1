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
    a_shared_url_is_routed_by_a_preprocess_flow_in_a_system_instance,
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

/// A shared endpoint whose preprocess flow maps the third party's account id to a customer's
/// external id, and the kind of event to a flow.
const ROUTED_BY_PREPROCESS: &str = r#"name: Acme ERP
endpointType: shared_instance
flows:
  - name: Route
    isPreprocessFlow: true
    preprocessFlowConfig: { externalCustomerIdField: customerExternalId, flowNameField: flowName }
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - name: Answer
        action: flow.stop
        inputs:
          headers: { x-kind: "{{ steps.trigger.results.body.data.type }}" }
          body: "{{ {'customerExternalId': ('venus-1' if steps.trigger.results.body.data.acmeId == 'A06D' else 'mars-1' if steps.trigger.results.body.data.acmeId == 'C3E7' else none if steps.trigger.results.body.data.acmeId == '' else 'pluto'), 'flowName': steps.trigger.results.body.data.type, 'ranFor': customer.name} }}"
"#;

async fn a_shared_url_is_routed_by_a_preprocess_flow_in_a_system_instance(store: &TestStore) {
    let server = TestServer::start(store).await;
    let integration = server
        .publish(&format!(
            "{ROUTED_BY_PREPROCESS}{}",
            FLOWS.trim_start_matches('\n')
        ))
        .await;
    let mars = server.customer("Mars", "mars-1").await;
    let venus = server.customer("Venus", "venus-1").await;
    let (_, urls) = server.instance(&integration, &mars, json!([])).await;
    server.instance(&integration, &venus, json!([])).await;
    let url = urls["Create Widget"].as_str().unwrap();

    let order = json!({ "acmeId": "A06D", "type": "Update Gadget" });
    let (status, body) = call(&server, url, &[], order).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "ran": "Update Gadget", "customer": "Venus" }));
    let stock = json!({ "acmeId": "C3E7", "type": "Create Widget" });
    let (_, body) = call(&server, url, &[], stock).await;
    assert_eq!(body, json!({ "ran": "Create Widget", "customer": "Mars" }));

    // The preprocess flow ran, once per request, in a system instance: no customer's.
    let listed = server
        .gql(
            "{ system: instances(isSystem: true) { nodes { id name customer { name isSystem } } } \
               real: instances(isSystem: false) { nodes { name } } }",
            json!({}),
        )
        .await;
    // Beside the integration's test instance, on the system customer.
    let system = listed["system"]["nodes"].as_array().unwrap();
    let names: Vec<&Value> = system.iter().map(|i| &i["name"]).collect();
    assert_eq!(
        names,
        [&json!("Acme ERP"), &json!("Acme ERP v1 (shared endpoint)")]
    );
    let router = &system[1];
    assert_eq!(router["customer"]["isSystem"], true);
    assert_eq!(
        listed["real"]["nodes"],
        json!([{ "name": format!("{mars} instance") }, { "name": format!("{venus} instance") }])
    );
    let runs = server
        .gql(
            "query ($id: ID!) { executionResults(instance: $id) { nodes { status result } } }",
            json!({ "id": router["id"] }),
        )
        .await;
    let runs = runs["executionResults"]["nodes"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["status"] == "SUCCEEDED"), "{runs:?}");
    assert_eq!(
        runs[0]["result"]["data"]["ranFor"], router["customer"]["name"],
        "the preprocess flow knows no customer yet"
    );

    let unknown = json!({ "acmeId": "FFFF", "type": "Create Widget" });
    let (status, body) = call(&server, url, &[], unknown).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"],
        "no instance of this integration for customer \"pluto\""
    );
    let nameless = json!({ "acmeId": "", "type": "Create Widget" });
    let (status, body) = call(&server, url, &[], nameless).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "the preprocess flow's result names no customer at `customerExternalId`"
    );
    let no_flow = json!({ "acmeId": "C3E7", "type": "Delete Everything" });
    let (status, body) = call(&server, url, &[], no_flow).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no webhook flow named \"Delete Everything\"");
    let (status, body) = call(&server, url, &[], json!({ "acmeId": "C3E7" })).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("the preprocess flow failed: ") && error.contains("type"),
        "{error}"
    );
}
