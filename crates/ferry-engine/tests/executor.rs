//! The executor as a specification: flows written in YAML, run against an in-memory host that
//! records what the executor commits (the store-backed host is tested with the worker).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use ferry_core::execution::Severity;
use ferry_engine::run::{Checkpoint, Ended, Executor, Scope, States};
use serde_json::json;

mod common;

use common::{job, run, Recorder};

#[tokio::test]
async fn steps_run_in_order_reading_the_trigger_and_earlier_steps() {
    let (outcome, host) = run(job(
        r#"- name: Remember
  action: state.set
  inputs: { scope: execution, key: who, value: "{{ steps.trigger.results.body.data.name }}" }
- name: Greet
  action: state.get
  inputs: { scope: execution, key: who }
- name: Say
  action: log.write
  inputs: { message: "{{ configVars.Greeting }} {{ steps.greet.results }}" }
- name: Last
  action: state.get
  inputs: { scope: execution, key: who }"#,
        json!({ "body": { "data": { "name": "Ada" } } }),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(
        host.keys(),
        ["trigger:", "remember:", "greet:", "say:", "last:"]
    );
    assert_eq!(host.results()[2].1, Some(json!("Ada")));
    assert_eq!(
        outcome.result,
        Some(json!({ "data": "Ada" })),
        "the last step's result"
    );
    let messages = host.messages();
    assert!(messages.contains(&"hello Ada".to_string()), "{messages:?}");
    assert_eq!(
        messages.first().unwrap(),
        "Starting execution of flow \"Flow\""
    );
    assert_eq!(messages.last().unwrap(), "Execution succeeded");
}

#[tokio::test]
async fn an_expression_that_fails_fails_the_step_naming_the_input_and_the_missing_field() {
    let (outcome, host) = run(job(
        r#"- name: Say
  action: log.write
  inputs: { message: "{{ steps.trigger.results.body.nope }}" }"#,
        json!({ "body": { "data": 1 } }),
    ))
    .await;
    let Ended::Failed(error) = outcome.ended else {
        panic!("{:?}", outcome.ended)
    };
    assert!(
        error.starts_with("step \"Say\" failed: input `message`"),
        "{error}"
    );
    assert!(error.contains("has no field \"nope\""), "{error}");
    let say = host.steps.lock().unwrap().last().cloned().unwrap();
    assert_eq!(say.step_name, "Say");
    assert!(say.error.is_some() && say.results.is_none());
}

#[tokio::test]
async fn a_branch_runs_only_the_branch_it_takes_and_the_flow_goes_on_after_it() {
    let steps = r#"- name: Size
  action: branch.onExpression
  branches:
    - name: Big
      condition: { left: "{{ steps.trigger.results.total }}", operator: isGreaterThan, right: 1000 }
      steps: [ { name: Big Note, action: state.set, inputs: { scope: execution, key: size, value: big } } ]
    - name: Else
      steps: [ { name: Small Note, action: state.set, inputs: { scope: execution, key: size, value: small } } ]
- name: Either
  action: branch.selectExecutedStepResult
  inputs: { stepResults: [ "{{ steps.bigNote.results }}", "{{ steps.smallNote.results }}" ] }"#;
    let (outcome, host) = run(job(steps, json!({ "total": 5000 }))).await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(host.keys(), ["trigger:", "size:", "bigNote:", "either:"]);
    assert_eq!(
        host.results()[1].1,
        Some(json!("Big")),
        "the branch step's result is the branch taken"
    );
    assert_eq!(outcome.result, Some(json!({ "data": "big" })));

    let (_, host) = run(job(steps, json!({ "total": 3 }))).await;
    assert_eq!(host.keys(), ["trigger:", "size:", "smallNote:", "either:"]);
    assert_eq!(host.results()[3].1, Some(json!("small")));
}

#[tokio::test]
async fn branch_on_value_matches_loosely_and_falls_back_to_else() {
    let steps = r#"- name: Kind
  action: branch.onValue
  inputs: { value: "{{ steps.trigger.results.kind }}" }
  branches:
    - { name: Two, value: 2, steps: [] }
    - { name: Else, steps: [] }"#;
    let (_, host) = run(job(steps, json!({ "kind": "2" }))).await;
    assert_eq!(host.results()[1].1, Some(json!("Two")));
    let (_, host) = run(job(steps, json!({ "kind": "3" }))).await;
    assert_eq!(host.results()[1].1, Some(json!("Else")));
}

const LOOP: &str = r#"- name: Each
  action: loop.overItems
  inputs: { items: "{{ steps.trigger.results.items }}" CONCURRENCY }
  steps:
    - name: Double
      action: state.get
      inputs: { scope: execution, key: none }
    - name: Item
      action: log.write
      inputs: { message: "item {{ steps.each.index }} is {{ steps.each.currentItem }}" }
    - name: Echo
      action: branch.selectExecutedStepResult
      inputs: { stepResults: [ "{{ steps.each.currentItem * 10 }}" ] }"#;

#[tokio::test]
async fn a_loop_runs_its_steps_per_item_and_gives_each_iterations_last_result() {
    let (outcome, host) = run(job(
        &LOOP.replace(" CONCURRENCY", ""),
        json!({ "items": [1, 2, 3] }),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(outcome.result, Some(json!({ "data": [10, 20, 30] })));
    let keys = host.keys();
    assert!(keys.contains(&"echo:2".to_string()), "{keys:?}");
    assert_eq!(keys.last().unwrap(), "each:");
    assert!(host.messages().contains(&"item 1 is 2".to_string()));
}

#[tokio::test]
async fn a_concurrent_loop_keeps_the_items_order_in_its_result() {
    let items: Vec<u32> = (0..40).collect();
    let (outcome, host) = run(job(
        &LOOP.replace(" CONCURRENCY", ", concurrency: 8"),
        json!({ "items": items }),
    ))
    .await;
    let expected: Vec<u32> = items.iter().map(|i| i * 10).collect();
    assert_eq!(outcome.result, Some(json!({ "data": expected })));
    assert_eq!(host.keys().len(), 1 + 40 * 3 + 1);
}

#[tokio::test]
async fn loop_break_ends_the_loop_and_nested_loops_have_their_own_indices() {
    let steps = r#"- name: Outer
  action: loop.nTimes
  inputs: { iterations: 5 }
  steps:
    - name: Inner
      action: loop.nTimes
      inputs: { iterations: 2 }
      steps:
        - name: Pair
          action: branch.selectExecutedStepResult
          inputs: { stepResults: "{{ [steps.outer.index, steps.inner.index] }}" }
    - name: Enough?
      action: branch.onExpression
      branches:
        - name: Stop
          condition: { left: "{{ steps.outer.index }}", operator: equals, right: 1 }
          steps: [ { name: Stop Here, action: loop.break } ]
        - { name: Else, steps: [] }"#;
    let (outcome, host) = run(job(steps, json!({}))).await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    let keys = host.keys();
    assert!(keys.contains(&"pair:1.1".to_string()), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("pair:2")),
        "the loop stopped after index 1: {keys:?}"
    );
    let outer = host
        .results()
        .into_iter()
        .find(|(k, _)| k == "outer:")
        .unwrap()
        .1
        .unwrap();
    assert_eq!(outer.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_loop_over_something_other_than_a_list_fails_saying_what_it_got() {
    let (outcome, _) = run(job(
        &LOOP.replace(" CONCURRENCY", ""),
        json!({ "items": "abc" }),
    ))
    .await;
    let Ended::Failed(error) = outcome.ended else {
        panic!()
    };
    assert!(
        error.contains("input `items`: expected a list, got text"),
        "{error}"
    );
}

/// A local server that answers 500 the first `failures` times, then 200 `{"ok": true}`.
async fn flaky(failures: usize) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new().route(
        "/",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < failures {
                    (StatusCode::INTERNAL_SERVER_ERROR, "down".to_string())
                } else {
                    (StatusCode::OK, r#"{"ok":true}"#.to_string())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, calls)
}

fn fetch(url: &str, handler: &str) -> String {
    format!("- name: Fetch\n  action: http.request\n  inputs: {{ url: \"{url}\" }}\n  errorHandler: {handler}")
}

#[tokio::test]
async fn a_retried_step_runs_again_until_it_succeeds() {
    let (url, calls) = flaky(2).await;
    let (outcome, host) = run(job(
        &fetch(
            &url,
            "{ type: retry, maxAttempts: 3, secondsBetweenAttempts: 0 }",
        ),
        json!({}),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        host.results()[1].1.as_ref().unwrap()["data"],
        json!({ "ok": true })
    );
    assert_eq!(
        host.messages()
            .iter()
            .filter(|m| m.contains("attempt"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_step_that_keeps_failing_fails_the_execution_or_carries_its_error_when_ignored() {
    let (url, _) = flaky(100).await;
    let (outcome, _) = run(job(
        &fetch(
            &url,
            "{ type: retry, maxAttempts: 1, secondsBetweenAttempts: 0 }",
        ),
        json!({}),
    ))
    .await;
    let Ended::Failed(error) = outcome.ended else {
        panic!()
    };
    assert!(error.contains("500"), "{error}");

    let ignore = format!("{}\n- name: After\n  action: branch.selectExecutedStepResult\n  inputs: {{ stepResults: \"{{{{ steps.fetch.results.error.message }}}}\" }}", fetch(&url, "{ type: ignore }"));
    let (outcome, host) = run(job(&ignore, json!({}))).await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    let after = host.results().last().unwrap().1.clone().unwrap();
    assert!(after.as_str().unwrap().contains("500"), "{after}");
}

#[tokio::test]
async fn flow_stop_ends_the_execution_with_its_response() {
    let (outcome, host) = run(job(
        r#"- name: Answer
  action: flow.stop
  inputs: { statusCode: 201, body: { created: true }, headers: { x-a: b } }
- name: Never
  action: log.write
  inputs: { message: unreachable }"#,
        json!({}),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(host.keys(), ["trigger:", "answer:"]);
    let result = outcome.result.unwrap();
    assert_eq!(result["statusCode"], json!(201));
    assert_eq!(result["data"], json!({ "created": true }));
}

#[tokio::test]
async fn state_changes_are_handed_back_for_writing() {
    let mut j = job(
        r#"- name: Count
  action: state.append
  inputs: { scope: flow, key: seen, value: "{{ steps.trigger.results.id }}" }"#,
        json!({ "id": 7 }),
    );
    j.states = States::loaded(Some(json!({ "seen": [6] })), None, None);
    let (outcome, _) = run(j).await;
    assert_eq!(
        outcome.states.changed(),
        vec![(Scope::Flow, json!({ "seen": [6, 7] }))]
    );
}

#[tokio::test]
async fn committed_steps_are_not_run_again_when_an_execution_resumes() {
    let (url, calls) = flaky(0).await;
    let mut j = job(&fetch(&url, "{ type: fail }"), json!({}));
    j.checkpoints.insert(
        "fetch:".into(),
        Checkpoint {
            results: json!({ "data": "from before" }),
            ..Checkpoint::default()
        },
    );
    let (outcome, _) = run(j).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        outcome.result,
        Some(json!({ "data": { "data": "from before" } }))
    );
}

#[tokio::test]
async fn a_committed_flow_stop_still_ends_the_resumed_execution_with_its_response() {
    let steps = "- name: Stop\n  action: flow.stop\n  inputs: { statusCode: 204, body: bye }\n- name: After\n  action: log.write\n  inputs: { message: after }";
    let (first, host) = run(job(steps, json!({}))).await;
    let mut j = job(steps, json!({}));
    j.checkpoints = Checkpoint::of(host.steps.lock().unwrap().clone());
    let (resumed, host) = run(j).await;
    assert_eq!(resumed.ended, Ended::Succeeded);
    assert_eq!(resumed.result, first.result);
    assert!(!host.messages().contains(&"after".to_string()));
}

#[tokio::test]
async fn flow_invoke_goes_through_the_host_with_the_steps_idempotency_key() {
    let j = job(
        "- name: Call\n  action: flow.invoke\n  inputs: { flow: Other, data: { a: 1 } }",
        json!({}),
    );
    let id = j.execution_id;
    let (outcome, _) = run(j).await;
    let data = &outcome.result.unwrap()["data"];
    assert_eq!(data["invoked"], json!("Other"));
    assert_eq!(data["key"], json!(format!("{id}:call:0")));
}

#[tokio::test]
async fn the_time_limit_ends_a_step_that_runs_too_long() {
    let mut j = job(
        "- name: Nap\n  action: sleep\n  inputs: { seconds: 5 }",
        json!({}),
    );
    j.limits.time = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let (outcome, _) = run(j).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let Ended::Failed(error) = outcome.ended else {
        panic!()
    };
    assert!(error.contains("time limit"), "{error}");
}

#[tokio::test]
async fn a_cancelled_execution_stops_before_its_next_step() {
    let host = Recorder::default();
    host.cancel.store(true, Ordering::Relaxed);
    let outcome = Executor::new()
        .run(
            job(
                LOOP.replace(" CONCURRENCY", "").as_str(),
                json!({ "items": [1] }),
            ),
            &host,
        )
        .await;
    assert_eq!(outcome.ended, Ended::Cancelled);
    host.end(&outcome);
    assert_eq!(host.keys(), ["trigger:"]);
}

#[tokio::test]
async fn a_run_whose_results_cannot_be_committed_is_interrupted_before_reaching_outside() {
    let host = Recorder::default();
    host.fail_commits.store(true, Ordering::Relaxed);
    let outcome = Executor::new()
        .run(
            job(
                "- name: A\n  action: log.write\n  inputs: { message: x }\n- name: Call\n  action: flow.invoke\n  inputs: { flow: Other }",
                json!({}),
            ),
            &host,
        )
        .await;
    assert!(
        matches!(outcome.ended, Ended::Interrupted(_)),
        "{:?}",
        outcome.ended
    );
    let severities: Vec<Severity> = outcome.logs.iter().map(|l| l.severity).collect();
    assert!(severities.contains(&Severity::Warn));
    assert!(
        !outcome
            .logs
            .iter()
            .any(|l| l.message.contains("Running step \"Call\"")),
        "the invoking step did not start"
    );
}

#[tokio::test]
async fn steps_that_keep_inside_the_execution_are_committed_together_with_its_end() {
    let (outcome, host) = run(job(
        "- name: A\n  action: log.write\n  inputs: { message: x }\n- name: Shape\n  action: text.upperCase\n  inputs: { text: abc }",
        json!({}),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    assert_eq!(host.checkpoints.load(Ordering::Relaxed), 0);
    assert_eq!(host.keys(), ["trigger:", "a:", "shape:"]);
}

#[tokio::test]
async fn what_came_before_a_step_that_reaches_outside_is_committed_before_it_runs() {
    let (outcome, host) = run(job(
        "- name: A\n  action: log.write\n  inputs: { message: x }\n- name: Call\n  action: flow.invoke\n  inputs: { flow: Other }\n- name: B\n  action: log.write\n  inputs: { message: y }",
        json!({}),
    ))
    .await;
    assert_eq!(outcome.ended, Ended::Succeeded);
    // One commit before `Call` (the trigger and A); `Call` and B go with the end.
    assert_eq!(host.checkpoints.load(Ordering::Relaxed), 1);
    let ended: Vec<String> = outcome.steps.iter().map(|s| s.step_key.clone()).collect();
    assert_eq!(ended, ["call:", "b:"]);
    assert_eq!(host.keys(), ["trigger:", "a:", "call:", "b:"]);
}

#[tokio::test]
async fn a_result_over_the_size_limit_fails_its_step_and_is_not_stored() {
    let mut j = job(
        "- name: Big\n  action: text.replace\n  inputs: { text: \"{{ 'x' * 2000 }}\", find: y, replacement: z }",
        json!({}),
    );
    j.limits.result_bytes = 1000;
    let (outcome, host) = run(j).await;
    let Ended::Failed(error) = outcome.ended else {
        panic!()
    };
    assert!(
        error.contains("result is 2002 bytes, over the limit of 1000 bytes"),
        "{error}"
    );
    let big = host.steps.lock().unwrap().last().cloned().unwrap();
    assert!(big.results.is_none());
}
