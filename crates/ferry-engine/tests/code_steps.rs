//! `code.run` steps in flows: what their code sees, where their logs and state go, how a last
//! code step shapes a synchronous caller's answer, and how a failing one fails only itself.

mod common;

use std::time::Duration;

use common::{job, run};
use ferry_engine::run::{Ended, Scope, States};
use serde_json::json;

/// A `code.run` step named `name` running `code` (any number of lines).
fn code_step(name: &str, code: &str) -> String {
    let body: String = code.lines().map(|l| format!("      {l}\n")).collect();
    format!("- name: {name}\n  action: code.run\n  inputs:\n    code: |\n{body}")
}

#[tokio::test]
async fn a_code_step_transforms_earlier_results_with_config_vars_and_logs_under_its_name() {
    let steps = code_step(
        "Shape Order",
        r#"module.exports = async (context, stepResults) => {
  const order = stepResults.trigger.results.body.data;
  context.logger.info(`shaping order ${order.id}`);
  return { data: { id: order.id, greeting: `${context.configVars.Greeting} ${order.name}`, step: context.stepId } };
};"#,
    );
    let steps = format!("{steps}- name: Note\n  action: log.write\n  inputs: {{ message: \"total {{{{ steps.shapeOrder.results.id }}}}\" }}");
    let (outcome, host) = run(job(
        &steps,
        json!({ "body": { "data": { "id": 7, "name": "Ada" } } }),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded, "{:?}", host.messages());
    assert_eq!(
        host.results()[1].1,
        Some(json!({ "id": 7, "greeting": "hello Ada", "step": "shapeOrder:" }))
    );
    let logs = host.logs.lock().unwrap().clone();
    let line = logs
        .iter()
        .find(|l| l.message == "shaping order 7")
        .unwrap();
    assert_eq!(line.step_name.as_deref(), Some("Shape Order"));
    assert!(host.messages().contains(&"total 7".to_string()));
}

#[tokio::test]
async fn the_context_names_the_execution_and_the_trigger_s_webhook_urls() {
    let mut j = job(
        &code_step("Who", "module.exports = async (c) => ({ data: [c.executionId, c.webhookUrls, c.webhookApiKeys, c.debug] })"),
        json!({ "webhookUrls": { "Flow": "http://h/trigger/1" } }),
    );
    j.context
        .insert("execution".into(), json!({ "id": "RXhlY3V0aW9u" }));
    let (outcome, _) = run(j).await;
    assert_eq!(
        outcome.result.unwrap()["data"],
        json!(["RXhlY3V0aW9u", { "Flow": "http://h/trigger/1" }, {}, { "enabled": false }])
    );
}

#[tokio::test]
async fn state_a_code_step_returns_is_applied_and_null_deletes() {
    let steps = format!(
        "{}- name: Read Back\n  action: state.get\n  inputs: {{ scope: execution, key: seen }}",
        code_step(
            "Advance",
            r#"module.exports = async (context) => ({
  data: context.instanceState.cursor,
  executionState: { seen: true },
  instanceState: { cursor: context.instanceState.cursor + 1, old: null },
  crossFlowState: { shared: "yes" },
});"#
        )
    );
    let mut j = job(&steps, json!({}));
    j.states = States::loaded(Some(json!({ "cursor": 1, "old": "gone soon" })), None, None);
    let (outcome, host) = run(j).await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(
        host.results()[1].1,
        Some(json!(1)),
        "the code saw the state as loaded"
    );
    assert_eq!(
        outcome.result,
        Some(json!({ "data": true })),
        "execution state is visible to the next step"
    );
    assert_eq!(
        outcome.states.changed(),
        vec![
            (Scope::Flow, json!({ "cursor": 2 })),
            (Scope::Instance, json!({ "shared": "yes" }))
        ]
    );
}

#[tokio::test]
async fn a_last_code_step_s_status_headers_and_content_type_make_the_final_result() {
    let answer = code_step(
        "Answer",
        r#"module.exports = async () => ({ data: "<ok/>", statusCode: 202, headers: { "X-Ferry": "1" }, contentType: "application/xml" });"#,
    );
    let (outcome, _) = run(job(&answer, json!({}))).await;
    assert_eq!(
        outcome.result,
        Some(
            json!({ "statusCode": 202, "headers": { "X-Ferry": "1" }, "contentType": "application/xml", "data": "<ok/>" })
        )
    );
    let followed = format!(
        "{answer}- name: After\n  action: state.get\n  inputs: {{ scope: execution, key: none }}"
    );
    let (outcome, _) = run(job(&followed, json!({}))).await;
    assert_eq!(
        outcome.result,
        Some(json!({ "data": null })),
        "only the last step's response counts"
    );
}

#[tokio::test]
async fn invoke_flow_goes_through_the_host_with_a_key_per_call() {
    let j = job(
        &code_step("Fan Out", "module.exports = async (c) => ({ data: [await c.invokeFlow('A', { n: 1 }), await c.invokeFlow('B', null)] })"),
        json!({}),
    );
    let id = j.execution_id;
    let (outcome, _) = run(j).await;
    let data = &outcome.result.unwrap()["data"];
    assert_eq!(
        data[0],
        json!({ "invoked": "A", "with": { "n": 1 }, "key": format!("{id}:fanOut:0:invokeFlow:0") })
    );
    assert_eq!(data[1]["key"], json!(format!("{id}:fanOut:0:invokeFlow:1")));
}

#[tokio::test]
async fn a_failing_code_step_fails_the_execution_naming_the_place_and_can_be_ignored() {
    let broken = code_step(
        "Broken",
        "module.exports = async () => {\n  return { data: (1 + };\n};",
    );
    let (outcome, host) = run(job(&broken, json!({}))).await;
    let Ended::Failed(error) = outcome.ended else {
        panic!("{:?}", outcome.ended)
    };
    assert!(
        error.starts_with("step \"Broken\" failed: syntax error at line 2, column 23"),
        "{error}"
    );
    assert!(host.steps.lock().unwrap()[1].error.is_some());

    let ignored = format!(
        "{}  errorHandler: {{ type: ignore }}\n{}",
        code_step("Thrower", "module.exports = async () => { throw 'nope'; };"),
        code_step(
            "Next",
            "module.exports = async (c, s) => ({ data: s.thrower.results.error.message });"
        )
    );
    let (outcome, _) = run(job(&ignored, json!({}))).await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(
        outcome.result,
        Some(json!({ "data": "the code threw a non-Error value: \"nope\"" }))
    );
}

#[tokio::test]
async fn an_endless_code_step_stops_at_the_execution_s_time_limit() {
    let mut j = job(
        &code_step("Spin", "module.exports = async () => { while (true) {} };"),
        json!({}),
    );
    j.limits.time = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let (outcome, _) = run(j).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let Ended::Failed(error) = outcome.ended else {
        panic!("{:?}", outcome.ended)
    };
    assert!(error.contains("time limit"), "{error}");
}

#[tokio::test]
async fn code_is_not_a_template() {
    let (outcome, _) = run(job(
        &code_step(
            "Braces",
            "module.exports = async () => ({ data: '{{ not evaluated }}' });",
        ),
        json!({}),
    ))
    .await;
    assert_eq!(
        outcome.result,
        Some(json!({ "data": "{{ not evaluated }}" }))
    );
}

#[tokio::test]
async fn a_code_step_that_names_state_runs_again_when_the_execution_resumes() {
    let steps = code_step(
        "Count",
        "module.exports = async () => ({ data: 'ran', integrationState: { runs: 1 } });",
    );
    let mut j = job(&steps, json!({}));
    j.checkpoints.insert("count:".into(), json!("from before"));
    let (outcome, _) = run(j).await;
    assert_eq!(outcome.result, Some(json!({ "data": "ran" })));
    assert_eq!(
        outcome.states.changed(),
        vec![(Scope::Integration, json!({ "runs": 1 }))]
    );

    let pure = code_step("Pure", "module.exports = async () => ({ data: 'ran' });");
    let mut j = job(&pure, json!({}));
    j.checkpoints.insert("pure:".into(), json!("from before"));
    let (outcome, _) = run(j).await;
    assert_eq!(outcome.result, Some(json!({ "data": "from before" })));
}
