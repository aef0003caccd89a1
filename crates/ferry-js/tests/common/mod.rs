//! What the tests share: a host that records log lines and answers `invokeFlow`, and a way to
//! run a code step with a context, step results and a time limit.

#![allow(dead_code)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_js::{
    CodeCall, CodeHost, CodeOutput, JsError, JsOptions, JsRuntime, Language, LogLevel, StepResults,
};
use futures::future::BoxFuture;
use serde_json::{json, Value};

/// Records what a step asks of its host.
#[derive(Default)]
pub struct Host {
    pub lines: Mutex<Vec<(LogLevel, String)>>,
    pub invoked: Mutex<Vec<(String, Value)>>,
}

impl CodeHost for Host {
    fn log(&self, level: LogLevel, message: &str) {
        self.lines
            .lock()
            .unwrap()
            .push((level, message.to_string()));
    }

    fn invoke_flow(&self, name: String, data: Value) -> BoxFuture<'_, Result<Value, String>> {
        Box::pin(async move {
            self.invoked
                .lock()
                .unwrap()
                .push((name.clone(), data.clone()));
            if name == "Missing" {
                return Err(format!("no flow named {name:?}"));
            }
            Ok(json!({ "flow": name, "echo": data }))
        })
    }
}

impl Host {
    pub fn messages(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// A step of `code` with the given context and step results, and `seconds` to run.
pub fn call(code: &str, context: Value, step_results: Value, seconds: f64) -> CodeCall {
    let time_limit = Duration::from_secs_f64(seconds);
    CodeCall {
        code: code.to_string(),
        language: Language::JavaScript,
        context,
        step_results: StepResults::of(&step_results),
        deadline: Instant::now() + time_limit,
        time_limit,
        warm_scope: None,
    }
}

/// Runs `code` with an empty context on `runtime`.
pub async fn run_on(runtime: &JsRuntime, code: &str) -> (Result<CodeOutput, JsError>, Host) {
    let host = Host::default();
    let result = runtime
        .run_code(call(code, json!({}), json!({}), 10.0), &host)
        .await;
    (result, host)
}

/// Runs `code` with an empty context on a fresh runtime.
pub async fn run(code: &str) -> (Result<CodeOutput, JsError>, Host) {
    run_on(&JsRuntime::new(JsOptions::default()), code).await
}

/// The `data` `code` returns, or a panic with its error.
pub async fn data(code: &str) -> Value {
    match run(code).await.0 {
        Ok(output) => output.data,
        Err(error) => panic!("the code failed: {error}"),
    }
}

/// The error `code` fails with, or a panic with its data.
pub async fn error(code: &str) -> JsError {
    match run(code).await.0 {
        Ok(output) => panic!("the code succeeded with {}", output.data),
        Err(error) => error,
    }
}
