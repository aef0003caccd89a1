//! Every way a code step can fail ends that step only, with an error that names the place or
//! the limit, and the same runtime goes on running the next step.

mod common;

use std::time::{Duration, Instant};

use common::{call, error, run_on, Host};
use ferry_js::{JsError, JsOptions, JsRuntime};
use serde_json::json;

const FINE: &str = "module.exports = async () => ({ data: 'fine' })";

/// A runtime with one sandbox, so every step below reuses the one that just failed.
fn one_sandbox(memory_limit_bytes: usize) -> JsRuntime {
    JsRuntime::new(JsOptions {
        memory_limit_bytes,
        max_runtimes: 1,
        ..JsOptions::default()
    })
}

async fn fails_then_recovers(runtime: &JsRuntime, code: &str, seconds: f64) -> JsError {
    let host = Host::default();
    let failed = runtime
        .run_code(call(code, json!({}), json!({}), seconds), &host)
        .await;
    let error = failed.expect_err("the step should fail");
    let (next, _) = run_on(runtime, FINE).await;
    assert_eq!(next.unwrap().data, json!("fine"), "after: {error}");
    error
}

#[tokio::test]
async fn a_syntax_error_gives_its_line_and_column() {
    let problem = error("module.exports = async () => {\n  return { data: (1 + };\n};").await;
    let JsError::Syntax {
        line,
        column,
        message,
    } = &problem
    else {
        panic!("{problem:?}")
    };
    assert_eq!((*line, *column), (2, 23), "{problem}");
    assert!(message.contains("unexpected token"), "{message}");
    assert!(problem
        .to_string()
        .starts_with("syntax error at line 2, column 23: "));
}

#[tokio::test]
async fn a_module_without_an_exported_function_says_so() {
    assert_eq!(
        error("const f = 1;").await.to_string(),
        "module.exports must be a function, but it is an empty object (nothing was exported)"
    );
    assert_eq!(
        error("module.exports = { run() {} };").await,
        JsError::NoExport {
            found: "an object".into()
        }
    );
}

#[tokio::test]
async fn thrown_errors_keep_their_message_and_stack_and_other_values_are_described() {
    let JsError::Thrown { message, stack } =
        error("function check() { throw new TypeError('no order id'); }\nmodule.exports = async () => check();").await
    else {
        panic!()
    };
    assert_eq!(message, "TypeError: no order id");
    let stack = stack.unwrap();
    assert!(stack.contains("at check (code.js:1:"), "{stack}");
    assert!(!stack.contains("ferry:"), "{stack}");

    assert_eq!(
        error("module.exports = async () => { throw 'boom'; }")
            .await
            .to_string(),
        "the code threw a non-Error value: \"boom\""
    );
    assert_eq!(
        error("module.exports = async () => { throw { code: 42 }; }")
            .await
            .to_string(),
        "the code threw a non-Error value: {\"code\":42}"
    );
    let rejected = error("module.exports = () => Promise.reject(new RangeError('late'))").await;
    assert!(
        rejected
            .to_string()
            .starts_with("RangeError: late\n    at <anonymous> (code.js:1:"),
        "{rejected}"
    );
    assert!(error("throw new Error('at load');")
        .await
        .to_string()
        .starts_with("Error: at load"));
}

#[tokio::test]
async fn an_infinite_loop_stops_at_the_time_limit() {
    let runtime = one_sandbox(64 << 20);
    let started = Instant::now();
    let problem = fails_then_recovers(
        &runtime,
        "module.exports = async () => { while (true) {} }",
        0.3,
    )
    .await;
    assert_eq!(problem, JsError::TimeLimit { seconds: 0 });
    assert_eq!(problem.to_string(), "exceeded the time limit of 0 s");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn waiting_past_the_deadline_stops_at_the_time_limit_too() {
    let runtime = one_sandbox(64 << 20);
    let code = "module.exports = async () => { await new Promise((r) => setTimeout(r, 60000)); }";
    let started = Instant::now();
    let problem = fails_then_recovers(&runtime, code, 0.2).await;
    assert!(matches!(problem, JsError::TimeLimit { .. }), "{problem}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_deep_recursion_is_a_stack_overflow_not_a_crash() {
    let runtime = one_sandbox(256 << 20);
    let code =
        "const down = (n) => down(n + 1) + 1;\nmodule.exports = async () => ({ data: down(0) });";
    let problem = fails_then_recovers(&runtime, code, 10.0).await;
    assert_eq!(problem, JsError::StackOverflow);
    assert!(problem.to_string().starts_with("stack overflow"));
}

#[tokio::test]
async fn a_huge_allocation_stops_at_the_memory_limit() {
    let runtime = one_sandbox(32 << 20);
    for code in [
        "module.exports = async () => { const all = []; while (true) all.push(new Array(100000).fill(1.5)); }",
        "module.exports = async () => ({ data: new ArrayBuffer(256 * 1024 * 1024).byteLength })",
        "module.exports = async () => ({ data: 'x'.repeat(1 << 28).length })",
        // Many small allocations: the one refused is small, and so is the room left for
        // QuickJS's own error.
        "module.exports = async () => { const all = []; while (true) all.push('x'.repeat(1000) + all.length); }",
        "module.exports = async () => { const all = []; while (true) all.push({ n: all.length }); }",
    ] {
        let problem = fails_then_recovers(&runtime, code, 10.0).await;
        assert_eq!(problem, JsError::MemoryLimit { mebibytes: 32 }, "{code}");
        assert_eq!(problem.to_string(), "exceeded the memory limit of 32 MiB");
    }
}

#[tokio::test]
async fn a_promise_that_can_never_settle_ends_the_step_at_once() {
    let runtime = one_sandbox(64 << 20);
    let problem = fails_then_recovers(
        &runtime,
        "module.exports = () => new Promise(() => {})",
        30.0,
    )
    .await;
    assert_eq!(problem, JsError::Unsettled);
}

#[tokio::test]
async fn the_sandbox_has_no_file_system_process_environment_or_modules() {
    let checks = "module.exports = async () => ({ data: [typeof process, typeof require, typeof std, typeof os, typeof Deno, typeof Bun] })";
    assert_eq!(
        common::data(checks).await,
        json!([
            "undefined",
            "function",
            "undefined",
            "undefined",
            "undefined",
            "undefined"
        ])
    );
    let required = error("module.exports = async () => require('fs')").await;
    assert!(
        required
            .to_string()
            .contains("require(\"fs\") is not available"),
        "{required}"
    );
    let imported = error("import fs from 'fs';\nexport default () => ({ data: 1 });").await;
    assert!(imported.to_string().contains("fs"), "{imported}");
}

#[tokio::test]
async fn steps_on_one_runtime_do_not_see_each_other_s_globals() {
    let runtime = one_sandbox(64 << 20);
    let (first, _) = run_on(
        &runtime,
        "globalThis.leak = 1; module.exports = async () => ({ data: 1 })",
    )
    .await;
    first.unwrap();
    let (second, _) = run_on(
        &runtime,
        "module.exports = async () => ({ data: typeof leak })",
    )
    .await;
    assert_eq!(second.unwrap().data, json!("undefined"));
}

#[tokio::test]
async fn an_abandoned_step_is_stopped_and_frees_its_sandbox() {
    let runtime = one_sandbox(64 << 20);
    let host = Host::default();
    let spin = call(
        "module.exports = async () => { while (true) {} }",
        json!({}),
        json!({}),
        60.0,
    );
    let gave_up =
        tokio::time::timeout(Duration::from_millis(200), runtime.run_code(spin, &host)).await;
    assert!(gave_up.is_err());
    let started = Instant::now();
    let (next, _) = run_on(&runtime, FINE).await;
    assert_eq!(next.unwrap().data, json!("fine"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the sandbox was freed"
    );
}

#[tokio::test]
async fn dropping_the_runtime_ends_its_threads_cleanly_even_mid_step() {
    let runtime = one_sandbox(64 << 20);
    run_on(&runtime, FINE).await.0.unwrap();
    drop(runtime);
    let busy = JsRuntime::default();
    let host = Host::default();
    let spin = call(
        "module.exports = async () => { while (true) {} }",
        json!({}),
        json!({}),
        60.0,
    );
    let _ = tokio::time::timeout(Duration::from_millis(100), busy.run_code(spin, &host)).await;
    drop(busy);
    // A sandbox freed wrongly aborts the whole process; give the threads time to end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::data(FINE).await, json!("fine"));
}

#[tokio::test]
async fn garbage_earlier_steps_leave_never_counts_against_a_later_step_s_memory_limit() {
    // Each step leaves about 2 MiB of cyclic garbage (only a collection frees cycles); fifty
    // of them on one 16 MiB sandbox would be 100 MiB if nothing collected it between steps.
    let runtime = one_sandbox(16 * 1024 * 1024);
    let code = "module.exports = async () => { const a = []; for (let i = 0; i < 20000; i++) { const o = { i, pad: 'x'.repeat(40) }; o.self = o; a.push(o); } return { data: a.length }; }";
    for step in 0..50 {
        let host = Host::default();
        let ran = runtime
            .run_code(call(code, json!({}), json!({}), 10.0), &host)
            .await;
        assert_eq!(ran.map(|out| out.data), Ok(json!(20000)), "step {step}");
    }
}

#[tokio::test]
async fn cyclic_garbage_a_step_makes_is_collected_during_the_step() {
    // About 200 MiB of cycles made and dropped in one step, on a 16 MiB sandbox: it fits only
    // if QuickJS collects while the step runs, not just between steps.
    let runtime = one_sandbox(16 * 1024 * 1024);
    let code = "module.exports = async () => { let n = 0; for (let r = 0; r < 100; r++) { const a = []; for (let i = 0; i < 20000; i++) { const o = { i, pad: 'x'.repeat(40) }; o.self = o; a.push(o); } n += a.length; } return { data: n }; }";
    let ran = runtime
        .run_code(call(code, json!({}), json!({}), 30.0), &Host::default())
        .await;
    assert_eq!(ran.map(|out| out.data), Ok(json!(2_000_000)));
}
