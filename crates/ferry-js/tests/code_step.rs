//! The code step's contract: `module.exports = async (context, stepResults) => ({ data, ... })`,
//! what `context` carries, what the returned object may say, and binary values both ways.

mod common;

use common::{call, data, error, run, Host};
use ferry_js::{JsError, JsOptions, JsRuntime, LogLevel};
use serde_json::json;

#[tokio::test]
async fn a_transform_reads_step_results_and_config_vars() {
    let runtime = JsRuntime::new(JsOptions::default());
    let host = Host::default();
    let code = r#"
        module.exports = async (context, stepResults) => {
          const order = stepResults.trigger.results.body.data;
          return {
            data: {
              id: order.id,
              total: order.lines.reduce((sum, l) => sum + l.qty * l.price, 0),
              currency: context.configVars.Currency,
              step: context.stepId,
              execution: context.executionId,
            },
          };
        };"#;
    let context = json!({ "configVars": { "Currency": "EUR" }, "stepId": "shapeOrder", "executionId": "e-1" });
    let results = json!({ "trigger": { "results": { "body": { "data": {
        "id": 7, "lines": [ { "qty": 2, "price": 5 }, { "qty": 1, "price": 2.5 } ] } } } } });
    let output = runtime
        .run_code(call(code, context, results, 5.0), &host)
        .await
        .unwrap();
    assert_eq!(
        output.data,
        json!({ "id": 7, "total": 12.5, "currency": "EUR", "step": "shapeOrder", "execution": "e-1" })
    );
    assert_eq!(output.status_code, None);
}

#[tokio::test]
async fn the_context_carries_what_the_engine_gives_as_is() {
    let runtime = JsRuntime::default();
    let host = Host::default();
    let context = json!({
        "customer": { "id": "c-1", "externalId": "acme", "name": "Acme" },
        "instance": { "id": "i-1", "name": "Acme ERP" },
        "flow": { "id": "f-1", "name": "Orders" },
        "integration": { "id": "n-1", "name": "ERP", "versionSequenceId": 3 },
        "webhookUrls": { "Orders": "http://example.test/trigger/1" },
        "webhookApiKeys": { "Orders": ["k1"] },
        "debug": { "enabled": false },
        "instanceState": { "cursor": 5 },
    });
    let code = "module.exports = async (context) => ({ data: [context.customer.externalId, context.instance.name, context.flow.name, context.integration.versionSequenceId, context.webhookUrls.Orders, context.webhookApiKeys.Orders[0], context.debug.enabled, context.instanceState.cursor, typeof context.logger.info, typeof context.invokeFlow] })";
    let output = runtime
        .run_code(call(code, context, json!({}), 5.0), &host)
        .await
        .unwrap();
    assert_eq!(
        output.data,
        json!([
            "acme",
            "Acme ERP",
            "Orders",
            3,
            "http://example.test/trigger/1",
            "k1",
            false,
            5,
            "function",
            "function"
        ])
    );
}

#[tokio::test]
async fn export_default_and_sync_functions_work_too() {
    assert_eq!(data("export default () => ({ data: 1 })").await, json!(1));
    assert_eq!(
        data("module.exports = function () { return { data: 'sync' }; }").await,
        json!("sync")
    );
    assert_eq!(
        data("module.exports = async () => {}").await,
        json!(null),
        "returning nothing is data: null"
    );
}

#[tokio::test]
async fn status_code_headers_and_content_type_are_returned_for_synchronous_callers() {
    let (output, _) = run(r#"module.exports = async () => ({
        data: "<ok/>", statusCode: 201, headers: { "X-Id": "7", "X-Count": 2 }, contentType: "application/xml" })"#)
    .await;
    let output = output.unwrap();
    assert_eq!(output.data, json!("<ok/>"));
    assert_eq!(output.status_code, Some(201));
    assert_eq!(
        output.headers,
        Some(
            json!({ "X-Id": "7", "X-Count": "2" })
                .as_object()
                .unwrap()
                .clone()
        )
    );
    assert_eq!(output.content_type.as_deref(), Some("application/xml"));
}

#[tokio::test]
async fn returned_state_is_split_by_scope_and_null_means_delete() {
    let (output, _) = run(r#"module.exports = async () => ({ data: null,
        executionState: { seen: 1 }, instanceState: { cursor: "c2", old: null },
        crossFlowState: { shared: [1, 2] }, integrationState: { global: true } })"#)
    .await;
    let changes = output.unwrap().state_changes;
    assert_eq!(json!(changes.execution), json!({ "seen": 1 }));
    assert_eq!(json!(changes.flow), json!({ "cursor": "c2", "old": null }));
    assert_eq!(json!(changes.instance), json!({ "shared": [1, 2] }));
    assert_eq!(json!(changes.integration), json!({ "global": true }));
}

#[tokio::test]
async fn logger_and_console_lines_go_to_the_host_cut_at_4096_characters() {
    let (output, host) = run(r#"module.exports = async (context) => {
        context.logger.debug("d"); context.logger.info("i", 1, { a: 1 }); context.logger.warn("w");
        context.logger.error(new TypeError("bad")); console.log("from console");
        context.logger.info("é".repeat(5000));
        return { data: null };
    }"#)
    .await;
    output.unwrap();
    let lines = host.lines.lock().unwrap().clone();
    assert_eq!(lines[0], (LogLevel::Debug, "d".to_string()));
    assert_eq!(lines[1], (LogLevel::Info, "i 1 {\"a\":1}".to_string()));
    assert_eq!(lines[2], (LogLevel::Warn, "w".to_string()));
    assert_eq!(lines[3].0, LogLevel::Error);
    assert!(lines[3].1.starts_with("TypeError: bad"), "{}", lines[3].1);
    assert_eq!(lines[4], (LogLevel::Info, "from console".to_string()));
    assert_eq!(lines[5].1.chars().count(), 4096);
}

#[tokio::test]
async fn log_lines_written_before_a_failure_still_reach_the_host() {
    let (output, host) =
        run("module.exports = async (c) => { c.logger.info('before'); throw new Error('after'); }")
            .await;
    assert!(output.is_err());
    assert_eq!(host.messages(), ["before"]);
}

#[tokio::test]
async fn invoke_flow_goes_through_the_host_and_its_errors_reject() {
    let (output, host) = run(r#"module.exports = async (context) => {
        const result = await context.invokeFlow("Notify", { id: 1 });
        let refused;
        try { await context.invokeFlow("Missing", {}); } catch (e) { refused = e.message; }
        return { data: { result, refused } };
    }"#)
    .await;
    assert_eq!(
        output.unwrap().data,
        json!({ "result": { "flow": "Notify", "echo": { "id": 1 } }, "refused": "no flow named \"Missing\"" })
    );
    assert_eq!(host.invoked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn binary_step_results_arrive_as_bytes_and_returned_bytes_become_binary_values() {
    let runtime = JsRuntime::default();
    let host = Host::default();
    let results =
        json!({ "download": { "results": { "contentType": "image/png", "base64": "AQID" } } });
    let code = r#"module.exports = async (context, stepResults) => {
        const file = stepResults.download.results;
        const doubled = file.data.map((b) => b * 2);
        return { data: doubled, contentType: file.contentType };
    }"#;
    let output = runtime
        .run_code(call(code, json!({}), results, 5.0), &host)
        .await
        .unwrap();
    assert_eq!(
        output.data,
        json!({ "contentType": "image/png", "base64": "AgQG" })
    );
    assert_eq!(
        data("module.exports = async () => ({ data: { file: new Uint8Array([255]).buffer } })")
            .await,
        json!({ "file": { "contentType": "application/octet-stream", "base64": "/w==" } }),
        "nested bytes are binary values too"
    );
}

#[tokio::test]
async fn results_follow_json_rules_dates_undefined_and_non_finite_numbers() {
    assert_eq!(
        data("module.exports = async () => ({ data: { at: new Date(0), gone: undefined, nan: NaN, list: [undefined, 1.5], nested: { ok: true } } })").await,
        json!({ "at": "1970-01-01T00:00:00.000Z", "nan": null, "list": [null, 1.5], "nested": { "ok": true } })
    );
}

#[tokio::test]
async fn a_result_json_cannot_carry_names_the_place() {
    let problem =
        error("module.exports = async () => ({ data: { items: [1, { callback() {} }] } })").await;
    assert_eq!(
        problem,
        JsError::Unserializable {
            path: "data.items[1].callback".into(),
            problem: "is a function".into()
        }
    );
    let cycle = error(
        "module.exports = async () => { const a = { b: {} }; a.b.back = a; return { data: a }; }",
    )
    .await;
    assert_eq!(
        cycle.to_string(),
        "the result cannot be serialized: data.b.back refers back to data (a cycle)"
    );
    let bigint = error("module.exports = async () => ({ data: { n: 10n } })").await;
    assert!(
        bigint.to_string().contains("data.n is a BigInt"),
        "{bigint}"
    );
    let promise = error("module.exports = async () => ({ data: Promise.resolve(1) })").await;
    assert!(
        promise.to_string().contains("forget an `await`"),
        "{promise}"
    );
}

#[tokio::test]
async fn a_result_larger_than_the_limit_is_refused_without_building_it() {
    let sparse =
        error("module.exports = async () => ({ data: { list: new Array(2 ** 32 - 1) } })").await;
    assert_eq!(
        sparse.to_string(),
        "the result cannot be serialized: data is larger than the limit of 100 MiB"
    );
    let runtime = JsRuntime::new(JsOptions {
        max_result_bytes: 1024,
        ..JsOptions::default()
    });
    let (big, _) = common::run_on(
        &runtime,
        "module.exports = async () => ({ data: 'x'.repeat(2000) })",
    )
    .await;
    assert!(big
        .unwrap_err()
        .to_string()
        .ends_with("data is larger than the limit of 1 KiB"));
    let (fits, _) = common::run_on(
        &runtime,
        "module.exports = async () => ({ data: Array(100).fill(1) })",
    )
    .await;
    assert_eq!(fits.unwrap().data.as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn a_result_of_the_wrong_shape_says_which_field() {
    let not_object = error("module.exports = async () => 5").await;
    assert_eq!(
        not_object.to_string(),
        "invalid result: the code must return an object like { data }, not a number"
    );
    let status = error("module.exports = async () => ({ data: 1, statusCode: 99 })").await;
    assert!(status
        .to_string()
        .contains("statusCode must be a whole number from 100 to 599"));
    let headers = error("module.exports = async () => ({ data: 1, headers: { a: {} } })").await;
    assert!(headers.to_string().contains("headers must be an object"));
    let state = error("module.exports = async () => ({ data: 1, executionState: [1] })").await;
    assert!(state
        .to_string()
        .contains("executionState must be an object"));
}
