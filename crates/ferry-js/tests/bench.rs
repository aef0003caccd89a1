//! A micro benchmark, not a timed test: the overhead of a trivial code step (a fresh context,
//! the prelude, the cached bytecode, JSON in and out, the thread hop). Run it with
//! `cargo test -p ferry-js --release --test bench -- --ignored --nocapture`. Back to back,
//! a step may wait for the previous one's clean-up (garbage collection and preparing the next
//! context); spaced out, it finds its context ready.

mod common;

use std::time::{Duration, Instant};

use common::{call, Host};
use ferry_js::JsRuntime;
use serde_json::json;

const RUNS: usize = 2000;

#[tokio::test]
#[ignore = "a benchmark: run it on purpose"]
async fn trivial_code_step_overhead() {
    measure("back to back", Duration::ZERO).await;
    measure("1 ms apart", Duration::from_millis(1)).await;
}

/// Runs the step `RUNS` times, `pause` apart, and prints the figures.
async fn measure(label: &str, pause: Duration) {
    let runtime = JsRuntime::default();
    let host = Host::default();
    let code = "module.exports = async (context, stepResults) => ({ data: { id: stepResults.trigger.results.id, greeting: context.configVars.Greeting } })";
    let context =
        json!({ "configVars": { "Greeting": "hello" }, "executionId": "e", "stepId": "s" });
    let results = json!({ "trigger": { "results": { "id": 1, "body": "x".repeat(1000) } } });
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 50 {
        let started = Instant::now();
        let output = runtime
            .run_code(call(code, context.clone(), results.clone(), 10.0), &host)
            .await
            .unwrap();
        if i >= 50 {
            times.push(started.elapsed());
        }
        assert_eq!(output.data["id"], json!(1));
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "trivial code step, {label}, {RUNS} runs: median {:?}, p99 {:?}, mean {mean:?}, max {:?}",
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
}
