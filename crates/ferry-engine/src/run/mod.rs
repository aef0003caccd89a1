//! The executor: runs one execution of a flow, step by step, in memory, committing completed
//! steps' results through its [`Host`].
//!
//! - Step results are committed in groups, not one by one: whatever steps ended are committed
//!   together before the run next reaches outside the execution (an HTTP request, a sleep,
//!   `flow.invoke`, a code step's `fetch` or `invokeFlow`), and what is left at the end is
//!   given back in the [`Outcome`] for the host to commit with the execution's end. A step
//!   that keeps inside (control, logs, state, pure transforms, code that fetches nothing) and
//!   is lost with its worker simply runs again, with the same result.
//! - Steps run in order; `branch.*` steps run the branch they choose, `loop.*` steps run their
//!   steps per item (optionally several at once), and the flow goes on after them.
//! - A step's inputs are evaluated against `steps`, `configVars`, `customer`, `instance`,
//!   `flow`, `execution` and `integration` ([`crate::expr`]); an input that fails to evaluate
//!   fails the step with a message naming the expression.
//! - A failing step follows its error handler: fail (the default), ignore (its result carries
//!   `error`), or retry with a wait, optionally doubling, then fail or ignore.
//! - A step whose result was committed by an earlier run of the same execution (a worker lost
//!   mid-run) is not run again: its committed [`Checkpoint`] is used, and what else the step
//!   did (a code step's state changes and response fields) is replayed from it. State steps
//!   run again, since state lives in memory until the execution ends.
//! - Cancellation and the time limit are checked before each step; the time limit also bounds
//!   each action. An action that fails once the time limit has passed (a code step's sandbox
//!   stops at the same deadline) fails the execution with the time limit's error, never with
//!   the action's, and no error handler turns it into anything else.
//! - `code.run` steps run JavaScript in `ferry-js` sandboxes; the state they return is applied,
//!   and when such a step is the last, its `statusCode`, `headers` and `contentType` join its
//!   `data` in the final result.
//! - The trigger's result usually arrives as JSON text ([`Job::trigger`]); it stays text in
//!   the run's frame (`frame.rs`) unless an expression reads it, and a code step gets it
//!   spliced into its step results' text.
//! - A flow with a `polling` trigger polls first (`poll.rs`): the trigger's result is what the
//!   poll found, and a poll that found nothing new ends the execution, succeeded.
//! - Steps calling a custom component's action (`<component>.<action>`) run its `perform` in a
//!   sandbox, from the bundle of the version the definition pins, like a code step.

mod code;
mod control;
mod custom;
mod frame;
mod local;
mod poll;
pub mod state;
mod walk;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use ferry_core::execution::{LogLine, Severity, StepEffects, StepResult};
use ferry_core::payload::Payload;
use ferry_definition::model::Flow;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::expr::Evaluator;
pub use ferry_js::JsOptions;
pub use poll::POLLING_STATE_KEY;
pub use state::{Scope, States};

/// The default limit on an execution's run time: 15 minutes.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

/// The default limit on one step's result, serialized: 100 MiB.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 100 * 1024 * 1024;

/// What an execution may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long it may run.
    pub time: Duration,
    /// How large one step's result may be, serialized as JSON.
    pub result_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: DEFAULT_TIME_LIMIT,
            result_bytes: DEFAULT_MAX_RESULT_BYTES,
        }
    }
}

/// What the executor asks of whoever runs it: committing step results, starting other flows,
/// and telling whether the execution was cancelled.
pub trait Host: Send + Sync {
    /// Commits completed steps' results, in the order they ended, with the log lines written
    /// since the last commit, as one write. An error stops the execution (it is left for a
    /// later run to resume).
    fn checkpoint(
        &self,
        steps: Vec<StepResult>,
        logs: Vec<LogLine>,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Starts another flow of the same instance (`flow.invoke`): its result when
    /// `synchronous`, else `{ executionId }`.
    fn invoke_flow(
        &self,
        invocation: Invocation,
    ) -> impl Future<Output = Result<Value, String>> + Send;

    /// Whether the execution was cancelled.
    fn cancelled(&self) -> bool;
}

/// A `flow.invoke` step's request.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The flow's name.
    pub flow: String,
    /// The payload it is given.
    pub data: Value,
    /// Whether to wait for its result.
    pub synchronous: bool,
    /// The invoking step's idempotency key.
    pub idempotency_key: String,
}

/// One execution to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The execution.
    pub execution_id: Uuid,
    /// The flow.
    pub flow: Flow,
    /// The trigger's result: the request or event that started the execution (as a webhook
    /// queued it: text, parsed only where the run reads inside it).
    pub trigger: Payload,
    /// What expressions read besides `steps`: `configVars`, `customer`, `instance`, `flow`,
    /// `execution`, `integration`.
    pub context: Map<String, Value>,
    /// The state scopes, as stored.
    pub states: States,
    /// What an earlier run of this execution committed, by step key.
    pub checkpoints: HashMap<String, Checkpoint>,
    /// The bundles of the custom components the definition pins, by component key.
    pub components: HashMap<String, std::sync::Arc<str>>,
    /// What the execution may use.
    pub limits: Limits,
}

/// A step's outcome an earlier run of the execution committed: a resumed run uses it instead
/// of running the step again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// Its result.
    pub results: Value,
    /// What else it did, replayed on resume.
    pub effects: StepEffects,
}

impl Checkpoint {
    /// The checkpoints in what an earlier run committed, by step key (failed steps have none,
    /// so they run again).
    pub fn of(committed: Vec<StepResult>) -> HashMap<String, Checkpoint> {
        committed
            .into_iter()
            .filter(|step| step.error.is_none())
            .filter_map(|step| {
                let checkpoint = Checkpoint {
                    results: step.results?,
                    effects: step.effects,
                };
                Some((step.step_key, checkpoint))
            })
            .collect()
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// Every step ran, or `flow.stop` ended it.
    Succeeded,
    /// A step failed; the message names it.
    Failed(String),
    /// It was cancelled.
    Cancelled,
    /// Its host could not commit a step result; a later run resumes it.
    Interrupted(String),
}

/// What running an execution gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ended: Ended,
    /// The final result, as a synchronous caller receives it: `{ data, statusCode?, headers?,
    /// contentType? }`.
    pub result: Option<Value>,
    /// The state scopes at the end (persisted ones written back only on success).
    pub states: States,
    /// Step results not yet committed, in the order their steps ended: the host commits them
    /// with the execution's end.
    pub steps: Vec<StepResult>,
    /// Log lines not yet committed.
    pub logs: Vec<LogLine>,
}

/// Runs executions; shared by all of a worker's tasks.
#[derive(Default)]
pub struct Executor {
    evaluator: Evaluator,
    runner: ferry_components::Runner,
    js: ferry_js::JsRuntime,
}

impl Executor {
    /// An executor with its own HTTP client for `http.request` steps and its own JavaScript
    /// sandboxes (default limits) for `code.run` steps.
    pub fn new() -> Self {
        Self::default()
    }

    /// An executor whose `code.run` sandboxes follow `options` (memory limit, how many run at
    /// once, `fetch` limits).
    pub fn with_js(options: ferry_js::JsOptions) -> Self {
        Executor {
            js: ferry_js::JsRuntime::new(options),
            ..Self::default()
        }
    }

    /// Runs `job` to its end, committing step results through `host`.
    pub async fn run<H: Host>(&self, mut job: Job, host: &H) -> Outcome {
        let execution_id = job.execution_id;
        let flow_name = job.flow.name.clone();
        // The trigger's result moves into the run's frame, not copied there.
        let trigger = std::mem::take(&mut job.trigger);
        let run = walk::Run::new(self, host, &job, &trigger);
        run.log(
            Severity::Info,
            format!("Starting execution of flow {flow_name:?}"),
            None,
        );
        let halted = run.run_flow(&job.flow, trigger).await;
        let (ended, result) = run.finish(halted);
        let line = match &ended {
            Ended::Succeeded => (Severity::Info, "Execution succeeded".to_string()),
            Ended::Failed(error) => (Severity::Error, format!("Execution failed: {error}")),
            Ended::Cancelled => (Severity::Warn, "Execution cancelled".to_string()),
            Ended::Interrupted(why) => (Severity::Warn, format!("Execution interrupted: {why}")),
        };
        let mut parts = run.into_parts();
        parts
            .logs
            .push(LogLine::new(execution_id, line.0, &line.1, None));
        Outcome {
            ended,
            result,
            states: parts.states,
            steps: parts.steps,
            logs: parts.logs,
        }
    }
}
