//! `code.run` steps in flows: what their code sees, where their logs and state go, how a last
//! code step shapes a synchronous caller's answer, and how a failing one fails only itself.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{job, run, Recorder};
use ferry_engine::run::{Checkpoint, Ended, Executor, Job, Outcome, Scope, States};
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
    // Imports refuse code that does not parse; a version stored before that check existed
    // still runs it, and fails at run time.
    let mut broken = job(
        &code_step("Broken", "module.exports = async () => ({ data: 1 });"),
        json!({}),
    );
    broken.flow.steps[0].inputs.insert(
        "code".into(),
        json!("module.exports = async () => {\n  return { data: (1 + };\n};"),
    );
    let (outcome, host) = run(broken).await;
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

/// Runs `job` to its end, then again as a resumed execution that finds every step the first
/// run committed (a worker lost after its last checkpoint, before ending the execution).
async fn run_and_resume(j: Job) -> (Outcome, Outcome, Recorder) {
    let (first, host) = run(j.clone()).await;
    let mut again = j;
    again.checkpoints = Checkpoint::of(host.steps.lock().unwrap().clone());
    let (resumed, host) = run(again).await;
    (first, resumed, host)
}

#[tokio::test]
async fn a_resumed_execution_keeps_the_status_headers_and_content_type_of_its_last_code_step() {
    let answer = code_step(
        "Answer",
        r#"module.exports = async () => ({ data: "<ok/>", statusCode: 202, headers: { "X-Ferry": "1" }, contentType: "application/xml" });"#,
    );
    let (first, resumed, _) = run_and_resume(job(&answer, json!({}))).await;
    assert_eq!(resumed.ended, Ended::Succeeded);
    assert_eq!(resumed.result, first.result);
    assert_eq!(resumed.result.unwrap()["statusCode"], json!(202));
}

#[tokio::test]
async fn a_resumed_code_step_is_not_run_again_and_its_state_changes_are_replayed() {
    // The state scope is named only through a computed key, and the code has a side effect
    // (a fresh id, a log line): a resumed run must neither lose the state nor run the code.
    let steps = code_step(
        "Count",
        r#"module.exports = async ({ logger }) => {
  logger.info("counting");
  return { data: crypto.randomUUID(), ["integration" + "State"]: { runs: 1 }, executionState: { seen: true } };
};"#,
    );
    let steps = format!(
        "{steps}- name: Seen\n  action: state.get\n  inputs: {{ scope: execution, key: seen }}"
    );
    let (first, resumed, host) = run_and_resume(job(&steps, json!({}))).await;
    assert_eq!(resumed.ended, Ended::Succeeded);
    assert!(!host.messages().contains(&"counting".to_string()));
    assert_eq!(resumed.result, Some(json!({ "data": true })));
    assert_eq!(resumed.states.changed(), first.states.changed());
    assert_eq!(
        resumed.states.changed(),
        vec![(Scope::Integration, json!({ "runs": 1 }))]
    );
}

#[tokio::test]
async fn past_the_time_limit_a_code_step_fails_the_execution_with_the_time_limit_s_error() {
    // The sandbox stops the code at the same deadline as the executor: whichever notices first,
    // the execution fails naming its time limit, and the step's error handler does not apply.
    for handler in ["", "  errorHandler: { type: ignore }\n"] {
        let spin = format!(
            "{}{handler}",
            code_step("Spin", "module.exports = async () => { while (true) {} };")
        );
        let mut j = job(&spin, json!({}));
        j.limits.time = Duration::from_secs(1);
        let (outcome, _) = run(j).await;
        assert_eq!(
            outcome.ended,
            Ended::Failed("the execution ran past its time limit of 1 s".into()),
            "with {handler:?}"
        );
    }
}

/// A TypeScript `code.run` step named `name`.
fn typescript_step(name: &str, code: &str) -> String {
    code_step(name, code).replace(
        "  inputs:\n    code: |\n",
        "  inputs:\n    language: typescript\n    code: |\n",
    )
}

#[tokio::test]
async fn a_typescript_code_step_runs_with_its_types_stripped() {
    let steps = typescript_step(
        "Typed",
        r#"import type { Logger } from "ferry";

interface Order { id: number; lines: Array<{ sku: string; qty: number }> }
type Totals = Record<string, number>;
enum Status { Open = "open", Done = "done" }

function total<T extends { qty: number }>(lines: T[]): number {
  return lines.reduce((sum: number, line: T) => sum + line.qty, 0);
}

class Tally {
  constructor(private readonly seen: Totals = {}) {}
  add(sku: string, qty: number): this { this.seen[sku] = (this.seen[sku] ?? 0) + qty; return this; }
  get totals(): Totals { return this.seen; }
}

module.exports = async (context: { logger: Logger }, stepResults: any) => {
  const order = stepResults.trigger.results.body.data as Order;
  const tally = order.lines.reduce((t, l) => t.add(l.sku, l.qty), new Tally());
  return { data: { id: order.id, total: total(order.lines), bySku: tally.totals, status: Status.Done satisfies string } };
};"#,
    );
    let lines =
        json!([{ "sku": "a", "qty": 2 }, { "sku": "b", "qty": 3 }, { "sku": "a", "qty": 1 }]);
    let (outcome, host) = run(job(
        &steps,
        json!({ "body": { "data": { "id": 7, "lines": lines } } }),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded, "{:?}", host.messages());
    assert_eq!(
        outcome.result,
        Some(
            json!({ "data": { "id": 7, "total": 6, "bySku": { "a": 3, "b": 3 }, "status": "done" } })
        )
    );
}

/// A loopback server that records, for each request, which step results the host had
/// committed when the request arrived.
async fn witness(host: Arc<Recorder>) -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            record.lock().unwrap().push(host.keys());
            async { "{}" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_code_step_commits_what_came_before_it_only_when_it_reaches_outside() {
    let host = Arc::new(Recorder::default());
    let (url, seen) = witness(host.clone()).await;
    let steps = [
        code_step("Pure", "module.exports = async () => ({ data: 1 })"),
        code_step(
            "Calls",
            &format!("module.exports = async () => {{ await fetch('{url}'); await fetch('{url}'); return {{ data: 2 }}; }}"),
        ),
    ]
    .concat();
    let outcome = Executor::new().run(job(&steps, json!({})), &*host).await;
    assert_eq!(outcome.ended, Ended::Succeeded, "{:?}", outcome.ended);
    // The first request found the trigger and the pure step committed; nothing new was
    // waiting before the second, so it cost no commit.
    assert_eq!(
        *seen.lock().unwrap(),
        [vec!["trigger:", "pure:"], vec!["trigger:", "pure:"]]
    );
    assert_eq!(host.checkpoints.load(Ordering::Relaxed), 1);
    let left: Vec<&str> = outcome.steps.iter().map(|s| s.step_key.as_str()).collect();
    assert_eq!(left, ["calls:"]);
}

#[tokio::test]
async fn a_code_step_cannot_reach_outside_when_what_came_before_cannot_be_committed() {
    let host = Arc::new(Recorder::default());
    host.fail_commits.store(true, Ordering::Relaxed);
    let (url, seen) = witness(host.clone()).await;
    // The code swallows the failed request and goes on; the run must still stop.
    let code = format!(
        "module.exports = async () => {{ let e = null; try {{ await fetch('{url}'); }} catch (x) {{ e = String(x); }} return {{ data: e }}; }}"
    );
    let steps = [
        code_step("Swallow", &code),
        "- name: After\n  action: log.write\n  inputs: { message: x }\n".to_string(),
    ]
    .concat();
    let outcome = Executor::new().run(job(&steps, json!({})), &*host).await;
    assert!(
        matches!(outcome.ended, Ended::Interrupted(_)),
        "{:?}",
        outcome.ended
    );
    assert!(seen.lock().unwrap().is_empty(), "no request was sent");
}
