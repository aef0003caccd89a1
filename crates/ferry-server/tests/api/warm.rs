//! Contexts kept warm (`FERRY_JS_KEEP_WARM`): with it, what a code step keeps at its module's
//! top level lasts between executions of one instance and never reaches another instance's;
//! without it (the default), every execution starts fresh.

use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    a_node_keeping_contexts_warm_keeps_module_state_per_instance,
    by_default_every_execution_starts_fresh
);

const COUNTER: &str = r#"
name: Counter Test
flows:
  - name: Count
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - name: Count
        action: code.run
        inputs:
          code: |
            let calls = 0;
            module.exports = async () => ({ data: { calls: ++calls } });
"#;

/// The module-level counts two instances' executions give, taking turns: `[a, b, a, a]`.
async fn counts(server: &TestServer) -> Vec<Value> {
    let integration = server.publish(COUNTER).await;
    let mars = server.customer("Mars", "mars").await;
    let venus = server.customer("Venus", "venus").await;
    let (_, on_mars) = server.instance(&integration, &mars, json!([])).await;
    let (_, on_venus) = server.instance(&integration, &venus, json!([])).await;
    let mut counts = Vec::new();
    for urls in [&on_mars, &on_venus, &on_mars, &on_mars] {
        let response = server
            .http
            .post(urls["Count"].as_str().unwrap())
            .header("ferry-synchronous", "true")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the execution succeeded");
        let body: Value = response.json().await.unwrap();
        counts.push(body["calls"].clone());
    }
    counts
}

async fn a_node_keeping_contexts_warm_keeps_module_state_per_instance(
    t: &ferry_store::testing::TestStore,
) {
    let server = TestServer::start_with(t, |options| {
        options.js.keep_warm = 4;
        // One JavaScript thread, so each execution finds the context the last one left.
        options.js.max_runtimes = 1;
    })
    .await;
    assert_eq!(
        counts(&server).await,
        [json!(1), json!(1), json!(2), json!(3)]
    );
}

async fn by_default_every_execution_starts_fresh(t: &ferry_store::testing::TestStore) {
    let server = TestServer::start_with(t, |options| options.js.max_runtimes = 1).await;
    assert_eq!(
        counts(&server).await,
        [json!(1), json!(1), json!(1), json!(1)]
    );
}
