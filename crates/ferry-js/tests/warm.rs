//! Contexts kept warm (`JsOptions::keep_warm`): a step of the same scope and code as an earlier
//! one runs in that step's context, calling its exported function again; anything else, or
//! anything that ended unclean, gets a fresh context.

mod common;

use common::{call, Host};
use ferry_js::{JsError, JsOptions, JsRuntime};
use serde_json::{json, Value};

/// Counts its calls at its module's top level, and echoes its context's `n`.
const COUNTER: &str = "let calls = 0;
module.exports = async (context) => ({ data: { calls: ++calls, n: context.n } });";

/// One thread keeping up to `keep_warm` contexts, with a memory limit of `mebibytes`.
fn runtime(keep_warm: usize, mebibytes: usize) -> JsRuntime {
    JsRuntime::new(JsOptions {
        keep_warm,
        max_runtimes: 1,
        memory_limit_bytes: mebibytes << 20,
        ..JsOptions::default()
    })
}

/// Runs `code` in `scope` with `context`: its data, and what it logged.
async fn run(
    runtime: &JsRuntime,
    code: &str,
    scope: Option<&str>,
    context: Value,
) -> (Result<Value, JsError>, Vec<String>) {
    let host = Host::default();
    let mut step = call(code, context, json!({}), 10.0);
    step.warm_scope = scope.map(str::to_string);
    let ended = runtime.run_code(step, &host).await.map(|out| out.data);
    (ended, host.messages())
}

/// The module-level count `COUNTER` gave for `scope`.
async fn calls(runtime: &JsRuntime, scope: Option<&str>) -> Value {
    let (ended, _) = run(runtime, COUNTER, scope, json!({ "n": 0 })).await;
    ended.unwrap()["calls"].clone()
}

#[tokio::test]
async fn a_step_of_the_same_scope_and_code_runs_in_the_kept_context() {
    let runtime = runtime(4, 64);
    for (n, expected) in [(10, 1), (20, 2), (30, 3)] {
        let (ended, _) = run(&runtime, COUNTER, Some("instance-a"), json!({ "n": n })).await;
        assert_eq!(ended.unwrap(), json!({ "calls": expected, "n": n }));
    }
}

#[tokio::test]
async fn nothing_crosses_scopes_or_codes() {
    let runtime = runtime(4, 64);
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(1));
    assert_eq!(calls(&runtime, Some("instance-b")).await, json!(1));
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(2));
    let other = "module.exports = async () => ({ data: typeof calls })";
    let (seen, _) = run(&runtime, other, Some("instance-a"), json!({})).await;
    assert_eq!(seen.unwrap(), json!("undefined"));
    let (leak, _) = run(
        &runtime,
        "globalThis.leak = 1; module.exports = async () => ({ data: 1 })",
        Some("instance-a"),
        json!({}),
    )
    .await;
    leak.unwrap();
    let (seen, _) = run(
        &runtime,
        "module.exports = async () => ({ data: typeof leak })",
        Some("instance-b"),
        json!({}),
    )
    .await;
    assert_eq!(seen.unwrap(), json!("undefined"));
}

#[tokio::test]
async fn without_a_scope_or_by_default_every_step_is_fresh() {
    let keeping = runtime(4, 64);
    assert_eq!(calls(&keeping, None).await, json!(1));
    assert_eq!(calls(&keeping, None).await, json!(1));
    let default = runtime(0, 64);
    assert_eq!(calls(&default, Some("instance-a")).await, json!(1));
    assert_eq!(calls(&default, Some("instance-a")).await, json!(1));
}

#[tokio::test]
async fn a_step_that_failed_or_was_stopped_leaves_no_context() {
    let runtime = runtime(4, 64);
    let throws_second = "let calls = 0;
module.exports = async () => { if (++calls === 2) throw new Error('second'); return { data: calls }; };";
    let scope = Some("instance-a");
    assert_eq!(
        run(&runtime, throws_second, scope, json!({}))
            .await
            .0
            .unwrap(),
        json!(1)
    );
    assert!(run(&runtime, throws_second, scope, json!({}))
        .await
        .0
        .is_err());
    assert_eq!(
        run(&runtime, throws_second, scope, json!({}))
            .await
            .0
            .unwrap(),
        json!(1)
    );

    let spins_second = "let calls = 0;
module.exports = async () => { if (++calls === 2) while (true) {} return { data: calls }; };";
    let host = Host::default();
    let mut quick = call(spins_second, json!({}), json!({}), 0.3);
    quick.warm_scope = Some("instance-a".into());
    assert_eq!(
        runtime.run_code(quick.clone(), &host).await.unwrap().data,
        json!(1)
    );
    let stopped = runtime.run_code(quick.clone(), &host).await.unwrap_err();
    assert!(matches!(stopped, JsError::TimeLimit { .. }), "{stopped}");
    quick.deadline = std::time::Instant::now() + quick.time_limit;
    assert_eq!(runtime.run_code(quick, &host).await.unwrap().data, json!(1));
}

#[tokio::test]
async fn a_step_leaving_a_timer_or_a_job_behind_is_not_kept() {
    let runtime = runtime(4, 64);
    let timer = "let calls = 0;
module.exports = async (context) => {
  setTimeout(() => context.logger.info('late ' + context.n), 50);
  return { data: ++calls };
};";
    let scope = Some("instance-a");
    let (first, _) = run(&runtime, timer, scope, json!({ "n": 1 })).await;
    assert_eq!(first.unwrap(), json!(1));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (second, logged) = run(&runtime, timer, scope, json!({ "n": 2 })).await;
    assert_eq!(second.unwrap(), json!(1), "a fresh context");
    assert!(
        logged.iter().all(|line| !line.contains("late 1")),
        "{logged:?}"
    );

    // A job queued while the result is read, after the step's promise settled.
    let job = "let calls = 0;
module.exports = async () => ({
  data: { calls: ++calls, toJSON() { Promise.resolve().then(() => {}); return this.calls; } },
});";
    let (first, _) = run(&runtime, job, scope, json!({})).await;
    assert_eq!(first.unwrap(), json!(1));
    let (second, _) = run(&runtime, job, scope, json!({})).await;
    assert_eq!(second.unwrap(), json!(1), "a fresh context");
}

#[tokio::test]
async fn a_context_holding_much_memory_is_not_kept() {
    // A quarter of the 16 MiB limit is what kept contexts may hold.
    let runtime = runtime(4, 16);
    let big = "const kept = 'x'.repeat(6 * 1024 * 1024);
let calls = 0;
module.exports = async () => ({ data: ++calls + kept.length - kept.length });";
    let scope = Some("instance-a");
    assert_eq!(
        run(&runtime, big, scope, json!({})).await.0.unwrap(),
        json!(1)
    );
    assert_eq!(
        run(&runtime, big, scope, json!({})).await.0.unwrap(),
        json!(1)
    );
}

#[tokio::test]
async fn a_small_context_is_kept_under_a_small_limit() {
    let runtime = runtime(4, 16);
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(1));
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(2));
}

#[tokio::test]
async fn the_least_recently_used_context_goes_when_the_shelf_is_full() {
    let runtime = runtime(2, 64);
    for scope in ["a", "b", "a", "c", "a"] {
        calls(&runtime, Some(scope)).await;
    }
    assert_eq!(
        calls(&runtime, Some("a")).await,
        json!(4),
        "kept throughout"
    );
    assert_eq!(calls(&runtime, Some("b")).await, json!(1), "dropped for c");
}

#[tokio::test]
async fn a_step_stopped_at_the_memory_limit_drops_every_kept_context() {
    let runtime = runtime(4, 16);
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(1));
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(2));
    let hungry = "module.exports = async () => {
  const kept = [];
  for (;;) kept.push('x'.repeat(1000) + kept.length);
};";
    let (stopped, _) = run(&runtime, hungry, Some("instance-b"), json!({})).await;
    let stopped = stopped.unwrap_err();
    assert!(matches!(stopped, JsError::MemoryLimit { .. }), "{stopped}");
    assert_eq!(calls(&runtime, Some("instance-a")).await, json!(1));
}
