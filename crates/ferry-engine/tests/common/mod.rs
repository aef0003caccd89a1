//! What the executor's tests share: an in-memory host that records what the executor commits,
//! and jobs made from a few lines of YAML steps.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ferry_components::Builtins;
use ferry_core::execution::{LogLine, StepResult};
use ferry_core::payload::Payload;
use ferry_engine::run::{Executor, Host, Invocation, Job, Limits, Outcome, States};
use serde_json::{json, Map, Value};
use uuid::Uuid;

#[derive(Default)]
pub struct Recorder {
    pub steps: Mutex<Vec<StepResult>>,
    pub logs: Mutex<Vec<LogLine>>,
    pub cancel: AtomicBool,
    pub fail_commits: AtomicBool,
    /// How many times the executor committed before the end.
    pub checkpoints: AtomicUsize,
}

impl Host for Recorder {
    async fn checkpoint(&self, steps: Vec<StepResult>, logs: Vec<LogLine>) -> Result<(), String> {
        if self.fail_commits.load(Ordering::Relaxed) {
            return Err("store unreachable".into());
        }
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.steps.lock().unwrap().extend(steps);
        self.logs.lock().unwrap().extend(logs);
        Ok(())
    }

    async fn invoke_flow(&self, invocation: Invocation) -> Result<Value, String> {
        Ok(
            json!({ "invoked": invocation.flow, "with": invocation.data, "key": invocation.idempotency_key }),
        )
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl Recorder {
    /// Records what the executor left to commit with the execution's end, as a worker does.
    pub fn end(&self, outcome: &Outcome) {
        self.steps.lock().unwrap().extend(outcome.steps.clone());
        self.logs.lock().unwrap().extend(outcome.logs.clone());
    }

    pub fn results(&self) -> Vec<(String, Option<Value>)> {
        let steps = self.steps.lock().unwrap();
        steps
            .iter()
            .map(|s| (s.step_key.clone(), s.results.clone()))
            .collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.results().into_iter().map(|(k, _)| k).collect()
    }

    pub fn messages(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.message.clone())
            .collect()
    }
}

/// A job running the one flow of a definition whose `steps:` are `steps`.
pub fn job(steps: &str, trigger: Value) -> Job {
    let yaml = format!(
        "name: Test\nrequiredConfigVars:\n  - {{ key: Greeting, dataType: string, defaultValue: hello }}\nflows:\n  - name: Flow\n    trigger: {{ type: webhook }}\n    steps:\n{}",
        steps
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    );
    let definition = ferry_definition::parse(&yaml, &Builtins)
        .unwrap_or_else(|e| panic!("invalid test flow: {e}\n{yaml}"));
    let mut context = Map::new();
    context.insert("configVars".into(), json!({ "Greeting": "hello" }));
    Job {
        execution_id: Uuid::now_v7(),
        flow: definition.flows[0].clone(),
        // As a webhook's payload arrives: text, parsed only where the run reads it.
        trigger: Payload::from_json(&trigger.to_string()).unwrap(),
        context,
        states: States::default(),
        checkpoints: HashMap::new(),
        components: HashMap::new(),
        limits: Limits {
            time: Duration::from_secs(30),
            ..Limits::default()
        },
    }
}

pub async fn run(job: Job) -> (Outcome, Recorder) {
    let host = Recorder::default();
    let outcome = Executor::new().run(job, &host).await;
    host.end(&outcome);
    (outcome, host)
}
