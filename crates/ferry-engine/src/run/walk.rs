//! Walking a flow's steps: the run's shared parts, the per-scope frame of step results, plain
//! steps with their error handlers and retries, and keeping each result to commit.
//!
//! A step's result is not written as the step ends: it waits, with the log lines, until the
//! run is about to reach outside the execution (a step whose action is not
//! [`local::keeps_inside`], or a code step's `fetch` / `invokeFlow`), and is then committed
//! with every other waiting result in one write ([`Run::flush`]); what still waits at the end
//! is committed with the execution's end. So an effect outside is never made before what came
//! before it is durable, and a flow of steps that keep inside costs one write, not one a step.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_core::execution::{now_micros, LogLine, Severity, StepEffects, StepResult};
use ferry_core::payload::Payload;
use ferry_definition::model::{ErrorHandlerType, Flow, Step, TriggerType};
use ferry_definition::reference_name;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use uuid::Uuid;

use super::frame::{Frame, StepVariables};
use super::{code, control, local, poll, Checkpoint, Ended, Executor, Host, Job, States};

/// What the step list does next.
pub(super) enum Control {
    /// Go on with the next step.
    Next,
    /// A `loop.break` ran: end the enclosing loop.
    Break,
}

/// Why a run stops before its last step.
pub(super) enum Halt {
    /// A step failed (and its handler did not ignore it).
    Failed(String),
    /// `flow.stop` ended it, with the response already set.
    Stopped,
    /// It was cancelled.
    Cancelled,
    /// A step result could not be committed.
    Interrupted(String),
}

struct Shared {
    logs: Vec<LogLine>,
    states: States,
    last: Option<Value>,
    /// What a code step said of the response (`statusCode`, `headers`, `contentType`) when it
    /// gave the latest result.
    last_response: Map<String, Value>,
    /// What code steps did besides their results, by step key, until their step commits.
    effects: HashMap<String, StepEffects>,
    response: Option<Value>,
    /// Step results kept, not yet committed, in the order their steps ended.
    pending: Vec<StepResult>,
    /// Why a commit failed: the run stops at its next step.
    broken: Option<String>,
}

/// What is left of a run when it ends.
pub(super) struct Parts {
    pub(super) logs: Vec<LogLine>,
    pub(super) states: States,
    pub(super) steps: Vec<StepResult>,
}

/// One execution being run.
pub(super) struct Run<'a, H> {
    pub(super) executor: &'a Executor,
    pub(super) host: &'a H,
    pub(super) execution_id: Uuid,
    context: &'a Map<String, Value>,
    /// The trigger's `webhookUrls` and `webhookApiKeys`, which code steps get in their
    /// context (the trigger's result itself moves into the flow's frame).
    webhook: [Value; 2],
    checkpoints: &'a HashMap<String, Checkpoint>,
    components: &'a HashMap<String, std::sync::Arc<str>>,
    deadline: Instant,
    limits: super::Limits,
    shared: Mutex<Shared>,
    /// Held while committing, so that concurrent steps (a loop's items) reach outside only
    /// once what came before them is durable.
    flushing: tokio::sync::Mutex<()>,
}

impl<'a, H: Host> Run<'a, H> {
    /// A run of `job`, whose trigger result was taken out of it to give to [`Run::run_flow`].
    pub(super) fn new(
        executor: &'a Executor,
        host: &'a H,
        job: &'a Job,
        trigger: &Payload,
    ) -> Self {
        Run {
            executor,
            host,
            execution_id: job.execution_id,
            context: &job.context,
            webhook: webhook_fields(trigger),
            checkpoints: &job.checkpoints,
            components: &job.components,
            deadline: Instant::now() + job.limits.time,
            limits: job.limits,
            shared: Mutex::new(Shared {
                logs: Vec::new(),
                states: job.states.clone(),
                last: None,
                last_response: Map::new(),
                effects: HashMap::new(),
                response: None,
                pending: Vec::new(),
                broken: None,
            }),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while holding this lock; if something did, the data is still whole.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a line to the execution's logs (committed with the next step result).
    pub(super) fn log(&self, severity: Severity, message: String, step: Option<&str>) {
        let line = LogLine::new(self.execution_id, severity, &message, step);
        self.lock().logs.push(line);
    }

    /// Runs a state operation on the run's state scopes.
    pub(super) fn with_states<T>(&self, f: impl FnOnce(&mut States) -> T) -> T {
        f(&mut self.lock().states)
    }

    /// Makes `results` the latest step result: the execution's result if nothing follows.
    pub(super) fn set_last(&self, results: &Value) {
        self.set_last_with(results, Map::new());
    }

    /// Makes `results` the latest step result, with the response fields its step gave.
    fn set_last_with(&self, results: &Value, response: Map<String, Value>) {
        let mut shared = self.lock();
        shared.last = Some(results.clone());
        shared.last_response = response;
    }

    /// Keeps what the step at `key` did besides its result (a code step's response fields
    /// and state changes), to commit with its result.
    pub(super) fn note_effects(&self, key: &str, effects: StepEffects) {
        self.lock().effects.insert(key.to_string(), effects);
    }

    /// The bundle of custom component `key`, as the definition pins it.
    pub(super) fn bundle(&self, key: &str) -> Option<&str> {
        self.components.get(key).map(|bundle| &**bundle)
    }

    /// The trigger's `webhookUrls` and `webhookApiKeys` (each `{}` when it has none).
    pub(super) fn webhook(&self) -> &[Value; 2] {
        &self.webhook
    }

    /// What expressions read besides `steps`.
    pub(super) fn base_context(&self) -> &Map<String, Value> {
        self.context
    }

    /// When the execution must have ended, and its time limit.
    pub(super) fn deadline(&self) -> (Instant, Duration) {
        (self.deadline, self.limits.time)
    }

    /// Sets the response of a synchronous call (`flow.stop`).
    pub(super) fn set_response(&self, response: Value) {
        self.lock().response = Some(response);
    }

    /// Runs the flow from its trigger (whose result is `trigger`, unless the trigger polls) to
    /// its last step.
    pub(super) async fn run_flow(&self, flow: &Flow, trigger: Payload) -> Result<Control, Halt> {
        let mut frame = Frame::default();
        let reference = flow
            .trigger
            .name
            .as_deref()
            .map(reference_name)
            .unwrap_or_else(|| "trigger".to_string());
        let started = now_micros();
        let name = flow.trigger.name.as_deref().unwrap_or("Trigger");
        let key = frame.key(&reference);
        if flow.trigger.kind != TriggerType::Polling {
            self.commit_trigger(name, &key, &frame, started)?;
            frame.set_trigger(&reference, trigger);
            return self.run_steps(&flow.steps, &mut frame).await;
        }
        let results = self.polled(flow, &key, &frame, &trigger).await?;
        self.commit(name, &key, &frame, started, Ok(&results))?;
        let nothing_new = poll::found_nothing(&results);
        frame.set_results(&reference, results);
        if nothing_new {
            self.log(Severity::Info, "The poll found nothing new".into(), None);
            self.set_response(poll::no_changes());
            return Err(Halt::Stopped);
        }
        self.run_steps(&flow.steps, &mut frame).await
    }

    /// A polling trigger's result: a committed one when the execution resumes (its cursor
    /// kept again), else a new poll's. A failed poll fails the execution.
    /// `payload` is the schedule's payload the poll's result is made from.
    async fn polled(
        &self,
        flow: &Flow,
        key: &str,
        frame: &Frame,
        payload: &Value,
    ) -> Result<Value, Halt> {
        if let Some(saved) = self.checkpoints.get(key) {
            poll::remember(self, &saved.results["polling"]["cursor"]).map_err(Halt::Failed)?;
            return Ok(saved.results.clone());
        }
        match poll::poll(self, &flow.trigger, payload, key).await {
            Ok(results) => Ok(results),
            Err(error) => {
                let error = format!("the polling trigger failed: {error}");
                self.log(Severity::Error, error.clone(), None);
                let name = flow.trigger.name.as_deref().unwrap_or("Trigger");
                self.commit(name, key, frame, now_micros(), Err(&error))?;
                Err(Halt::Failed(error))
            }
        }
    }

    /// Turns how the walk ended into how the execution ended, with its final result.
    pub(super) fn finish(&self, walked: Result<Control, Halt>) -> (Ended, Option<Value>) {
        let mut shared = self.lock();
        match walked {
            Ok(_) => {
                let mut result = std::mem::take(&mut shared.last_response);
                let last = shared.last.take().unwrap_or(Value::Null);
                result.insert("data".into(), last);
                (Ended::Succeeded, Some(Value::Object(result)))
            }
            Err(Halt::Stopped) => (Ended::Succeeded, shared.response.take()),
            Err(Halt::Failed(error)) => (Ended::Failed(error), None),
            Err(Halt::Cancelled) => (Ended::Cancelled, None),
            Err(Halt::Interrupted(why)) => (Ended::Interrupted(why), None),
        }
    }

    pub(super) fn into_parts(self) -> Parts {
        let shared = self.shared.into_inner().unwrap_or_else(|e| e.into_inner());
        Parts {
            logs: shared.logs,
            states: shared.states,
            steps: shared.pending,
        }
    }

    /// Runs `steps` in order in `frame`.
    pub(super) fn run_steps<'s>(
        &'s self,
        steps: &'s [Step],
        frame: &'s mut Frame,
    ) -> BoxFuture<'s, Result<Control, Halt>> {
        Box::pin(async move {
            for step in steps {
                if let Control::Break = self.run_step(step, frame).await? {
                    return Ok(Control::Break);
                }
            }
            Ok(Control::Next)
        })
    }

    async fn run_step(&self, step: &Step, frame: &mut Frame) -> Result<Control, Halt> {
        if self.host.cancelled() {
            return Err(Halt::Cancelled);
        }
        if Instant::now() >= self.deadline {
            return Err(self.over_time());
        }
        match step.action.as_str() {
            "branch.onValue" | "branch.onExpression" => control::branch(self, step, frame).await,
            "loop.overItems" | "loop.nTimes" => control::repeat(self, step, frame).await,
            "loop.break" => {
                let reference = reference_name(&step.name);
                let key = frame.key(&reference);
                self.commit(&step.name, &key, frame, now_micros(), Ok(&Value::Null))?;
                frame.set_results(&reference, Value::Null);
                Ok(Control::Break)
            }
            _ => self.plain(step, frame).await.map(|_| Control::Next),
        }
    }

    fn over_time(&self) -> Halt {
        Halt::Failed(format!(
            "the execution ran past its time limit of {} s",
            self.limits.time.as_secs()
        ))
    }

    /// Runs an action step, following its error handler, and commits its result.
    async fn plain(&self, step: &Step, frame: &mut Frame) -> Result<(), Halt> {
        let reference = reference_name(&step.name);
        let key = frame.key(&reference);
        if let Some(saved) = self.checkpoints.get(&key) {
            // State lives in memory until the execution ends: state steps simply run again.
            if !step.action.starts_with("state.") {
                return self.resume(step, frame, &reference, saved);
            }
        }
        if !local::keeps_inside(&step.action) {
            self.flush().await?;
        }
        let started = now_micros();
        self.log(
            Severity::Info,
            format!("Running step {:?}", step.name),
            Some(&step.name),
        );
        let attempted = self
            .attempts(step, frame, &key)
            .await
            .and_then(|results| self.within_limit(results));
        let (results, response) = match attempted {
            Ok(results) => {
                let effects = self.commit(&step.name, &key, frame, started, Ok(&results))?;
                (results, effects.response)
            }
            Err(Attempt::Halt(halt)) => return Err(halt),
            Err(Attempt::Failed(error)) => {
                let results = self.failed(step, frame, &key, started, error).await?;
                (results, Map::new())
            }
        };
        self.set_last_with(&results, response);
        frame.set_results(&reference, results);
        if step.action == "flow.stop" {
            return Err(Halt::Stopped);
        }
        Ok(())
    }

    /// Takes a step's outcome from the checkpoint an earlier run committed: its result, the
    /// state changes and response fields it gave (replayed), and, for `flow.stop`, the end.
    fn resume(
        &self,
        step: &Step,
        frame: &mut Frame,
        reference: &str,
        saved: &Checkpoint,
    ) -> Result<(), Halt> {
        code::apply_state(self, &saved.effects.state)
            .map_err(|e| Halt::Failed(format!("step {:?} could not be resumed: {e}", step.name)))?;
        self.set_last_with(&saved.results, saved.effects.response.clone());
        frame.set_results(reference, saved.results.clone());
        if step.action == "flow.stop" {
            self.set_response(saved.results.clone());
            return Err(Halt::Stopped);
        }
        Ok(())
    }

    /// A step that failed for good: its result carries the error when ignored, else the
    /// execution fails.
    async fn failed(
        &self,
        step: &Step,
        frame: &Frame,
        key: &str,
        started: DateTime<Utc>,
        error: String,
    ) -> Result<Value, Halt> {
        let handler = step.error_handler.as_ref();
        let ignored = handler.is_some_and(|h| {
            h.kind == ErrorHandlerType::Ignore
                || (h.kind == ErrorHandlerType::Retry && h.ignore_final_error)
        });
        let severity = if ignored {
            Severity::Warn
        } else {
            Severity::Error
        };
        let verb = if ignored {
            "failed (ignored)"
        } else {
            "failed"
        };
        self.log(
            severity,
            format!("Step {:?} {verb}: {error}", step.name),
            Some(&step.name),
        );
        self.commit(&step.name, key, frame, started, Err(&error))?;
        if ignored {
            Ok(json!({ "error": { "message": error } }))
        } else {
            Err(Halt::Failed(format!(
                "step {:?} failed: {error}",
                step.name
            )))
        }
    }

    /// Runs the step's action once, or more under a retry handler.
    async fn attempts(&self, step: &Step, frame: &Frame, key: &str) -> Result<Value, Attempt> {
        let inputs = local::evaluate_inputs(self, step, frame).map_err(Attempt::Failed)?;
        let handler = step
            .error_handler
            .as_ref()
            .filter(|h| h.kind == ErrorHandlerType::Retry);
        let retries = handler.and_then(|h| h.max_attempts).unwrap_or(0);
        let mut wait = Duration::from_secs(
            handler
                .and_then(|h| h.seconds_between_attempts)
                .unwrap_or(0)
                .into(),
        );
        let mut attempt = 0;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            let call = local::call(self, step, frame, inputs.clone(), key);
            let error = match tokio::time::timeout(remaining, call).await {
                Ok(Ok(results)) => return Ok(results),
                Ok(Err(error)) => error,
                Err(_) => return Err(Attempt::Halt(self.over_time())),
            };
            // An action that stops at the same deadline (a code step's sandbox) may answer
            // before the timeout fires; past the deadline, the time limit is the cause.
            if Instant::now() >= self.deadline {
                return Err(Attempt::Halt(self.over_time()));
            }
            if attempt >= retries {
                return Err(Attempt::Failed(error));
            }
            attempt += 1;
            self.log(
                Severity::Warn,
                format!(
                    "Step {:?} failed: {error}; attempt {} of {} in {} s",
                    step.name,
                    attempt + 1,
                    retries + 1,
                    wait.as_secs()
                ),
                Some(&step.name),
            );
            if Instant::now() + wait >= self.deadline {
                return Err(Attempt::Halt(self.over_time()));
            }
            tokio::time::sleep(wait).await;
            if handler.is_some_and(|h| h.exponential_backoff) {
                wait = (wait * 2).min(Duration::from_secs(24 * 3600));
            }
        }
    }

    /// Refuses a result larger than the limit, as a failure of the step.
    fn within_limit(&self, results: Value) -> Result<Value, Attempt> {
        let size = json_size(&results);
        if size > self.limits.result_bytes {
            return Err(Attempt::Failed(format!(
                "the step's result is {size} bytes, over the limit of {} bytes",
                self.limits.result_bytes
            )));
        }
        Ok(results)
    }

    /// Keeps a step's result (or error), with what else the step did (noted by
    /// [`Run::note_effects`]), which it gives back, for the next commit ([`Run::flush`], or the
    /// execution's end). Fails when an earlier commit did.
    pub(super) fn commit(
        &self,
        name: &str,
        key: &str,
        frame: &Frame,
        started: DateTime<Utc>,
        outcome: Result<&Value, &String>,
    ) -> Result<StepEffects, Halt> {
        let (results, error) = match outcome {
            Ok(results) => (Some(results.clone()), None),
            Err(error) => (None, Some(error.clone())),
        };
        let mut shared = self.lock();
        if let Some(why) = &shared.broken {
            return Err(Halt::Interrupted(why.clone()));
        }
        let effects = shared.effects.remove(key).unwrap_or_default();
        shared.pending.push(StepResult {
            id: Uuid::now_v7(),
            execution_id: self.execution_id,
            step_key: key.to_string(),
            step_name: name.to_string(),
            loop_path: frame.path_text(),
            results,
            from_trigger: false,
            error,
            effects: effects.clone(),
            started_at: started,
            ended_at: now_micros(),
        });
        Ok(effects)
    }

    /// Keeps the result of a trigger that is not a poll: the trigger payload, which the
    /// execution already holds, so it is neither copied nor written again
    /// ([`StepResult::from_trigger`]).
    fn commit_trigger(
        &self,
        name: &str,
        key: &str,
        frame: &Frame,
        started: DateTime<Utc>,
    ) -> Result<(), Halt> {
        // No copy of the payload: the store reads it from the execution.
        self.commit(name, key, frame, started, Ok(&Value::Null))?;
        if let Some(step) = self.lock().pending.last_mut() {
            step.results = None;
            step.from_trigger = true;
        }
        Ok(())
    }

    /// Commits the step results and log lines kept so far, in one write through the host:
    /// called before the run reaches outside the execution. A failed commit stops the run.
    pub(super) async fn flush(&self) -> Result<(), Halt> {
        let _one_at_a_time = self.flushing.lock().await;
        let (steps, logs) = {
            let mut shared = self.lock();
            if let Some(why) = &shared.broken {
                return Err(Halt::Interrupted(why.clone()));
            }
            (
                std::mem::take(&mut shared.pending),
                std::mem::take(&mut shared.logs),
            )
        };
        if steps.is_empty() && logs.is_empty() {
            return Ok(());
        }
        self.host.checkpoint(steps, logs).await.map_err(|why| {
            self.lock().broken = Some(why.clone());
            Halt::Interrupted(why)
        })
    }

    /// What expressions in `frame` read: the run's context, and the step results so far as
    /// `steps`, read in place.
    pub(super) fn context<'f>(&'f self, frame: &'f Frame) -> StepVariables<'f> {
        StepVariables::new(self.context, frame)
    }

    /// `<executionId>:<stepRef>:<loop path or 0>`: the same each time this step runs.
    pub(super) fn idempotency_key(&self, key: &str) -> String {
        let (reference, path) = key.split_once(':').unwrap_or((key, ""));
        let path = if path.is_empty() { "0" } else { path };
        format!("{}:{reference}:{path}", self.execution_id)
    }
}

/// Why an attempt at a step did not give a result.
pub(super) enum Attempt {
    /// The action failed: the step's handler decides.
    Failed(String),
    /// The run must stop (time limit).
    Halt(Halt),
}

/// The length of a value written as JSON, without writing it anywhere.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// The trigger's `webhookUrls` and `webhookApiKeys` (each `{}` when it has none), read from
/// its text when it is text, without parsing the rest into values.
fn webhook_fields(trigger: &Payload) -> [Value; 2] {
    #[derive(serde::Deserialize)]
    struct Fields {
        #[serde(rename = "webhookUrls", default = "empty")]
        urls: Value,
        #[serde(rename = "webhookApiKeys", default = "empty")]
        keys: Value,
    }
    fn empty() -> Value {
        json!({})
    }
    if !trigger.is_parsed() {
        if let Ok(fields) = serde_json::from_str::<Fields>(trigger.text()) {
            return [fields.urls, fields.keys];
        }
    }
    let field = |name: &str| trigger.get(name).cloned().unwrap_or_else(empty);
    [field("webhookUrls"), field("webhookApiKeys")]
}
