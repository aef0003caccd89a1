//! `code.run` steps: the step's JavaScript (or TypeScript, by its `language` input) runs in a
//! `ferry-js` sandbox with a `context` built
//! from the execution (config variables, customer, instance, flow, integration, ids, webhook
//! URLs, the four state scopes) and `stepResults` from the frame. Its log lines go to the
//! execution's logs under the step's name, `invokeFlow` goes through the host (synchronously,
//! with an idempotency key per call), the state it returns is applied (null deleting), and the
//! response fields it gives (`statusCode`, `headers`, `contentType`) are kept for the final
//! result should the step be the last. Both are committed with the step's result, so a resumed
//! execution replays them from the checkpoint instead of running the code again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_components::Inputs;
use ferry_core::execution::{Severity, StepEffects};
use ferry_definition::model::Step;
use ferry_js::{CodeCall, CodeHost, CodeOutput, Language, LogLevel};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::frame::Frame;
use super::state::Scope;
use super::walk::Run;
use super::{Host, Invocation};

/// Runs the code step `step` (its result key `key`) in `frame`: its `data`.
pub(super) async fn run<H: Host>(
    run: &Run<'_, H>,
    step: &Step,
    frame: &Frame,
    inputs: &Inputs,
    key: &str,
) -> Result<Value, String> {
    let (deadline, time_limit) = run.deadline();
    let call = CodeCall {
        code: inputs.text("code").map_err(|e| e.to_string())?,
        language: language(inputs)?,
        context: context(run, key),
        step_results: frame.step_results(),
        deadline: deadline.into_std(),
        time_limit,
        warm_scope: warm_scope(run),
    };
    let host = StepHost::new(run, &step.name, key);
    let output = run
        .executor
        .js
        .run_code(call, &host)
        .await
        .map_err(|e| e.to_string())?;
    apply(run, key, output)
}

/// The `language` input: JavaScript when not given.
fn language(inputs: &Inputs) -> Result<Language, String> {
    match inputs.opt_text("language").map_err(|e| e.to_string())? {
        None => Ok(Language::JavaScript),
        Some(name) => Language::parse(&name).ok_or_else(|| {
            format!("input `language`: expected javascript or typescript, got {name:?}")
        }),
    }
}

/// Who may share a context kept warm with this step: the instance (its id), so that nothing
/// crosses customers.
fn warm_scope<H: Host>(run: &Run<'_, H>) -> Option<String> {
    let instance = run.base_context().get("instance")?;
    instance.get("id")?.as_str().map(str::to_string)
}

/// `context`, less its functions (the sandbox adds `logger` and `invokeFlow`).
pub(super) fn context<H: Host>(run: &Run<'_, H>, key: &str) -> Value {
    let mut context = run.base_context().clone();
    let execution_id = context
        .get("execution")
        .and_then(|e| e.get("id"))
        .cloned()
        .unwrap_or_else(|| Value::String(run.execution_id.to_string()));
    let [urls, api_keys] = run.webhook().clone();
    context.insert("executionId".into(), execution_id);
    context.insert("stepId".into(), Value::String(key.to_string()));
    context.insert("webhookUrls".into(), urls);
    context.insert("webhookApiKeys".into(), api_keys);
    context.insert("debug".into(), json!({ "enabled": false }));
    run.with_states(|states| {
        for (name, scope) in SCOPES {
            context.insert(name.into(), states.all(scope));
        }
    });
    Value::Object(context)
}

/// The state scopes as code steps name them.
const SCOPES: [(&str, Scope); 4] = [
    ("executionState", Scope::Execution),
    ("instanceState", Scope::Flow),
    ("crossFlowState", Scope::Instance),
    ("integrationState", Scope::Integration),
];

/// Applies what the code returned besides `data`, notes it to commit with the step's result
/// (so a resumed run replays it instead of running the code again), and gives `data`.
pub(super) fn apply<H: Host>(
    run: &Run<'_, H>,
    key: &str,
    output: CodeOutput,
) -> Result<Value, String> {
    let changes = output.state_changes;
    let mut effects = StepEffects::default();
    for (scope, changed) in [
        (Scope::Execution, changes.execution),
        (Scope::Flow, changes.flow),
        (Scope::Instance, changes.instance),
        (Scope::Integration, changes.integration),
    ] {
        if !changed.is_empty() {
            effects.state.insert(scope.as_str().to_string(), changed);
        }
    }
    apply_state(run, &effects.state)?;
    if let Some(status) = output.status_code {
        effects.response.insert("statusCode".into(), json!(status));
    }
    if let Some(headers) = output.headers {
        effects
            .response
            .insert("headers".into(), Value::Object(headers));
    }
    if let Some(content_type) = output.content_type {
        effects
            .response
            .insert("contentType".into(), Value::String(content_type));
    }
    if !effects.is_empty() {
        run.note_effects(key, effects);
    }
    Ok(output.data)
}

/// Applies the state changes a code step gave, now or in the run that committed them: scope
/// name → key → new value, `null` deleting.
pub(super) fn apply_state<H: Host>(
    run: &Run<'_, H>,
    state: &BTreeMap<String, Map<String, Value>>,
) -> Result<(), String> {
    let mut changes = Vec::with_capacity(state.len());
    for (name, changed) in state {
        changes.push((Scope::parse(name)?, changed.clone()));
    }
    run.with_states(|states| states.apply(changes))
}

/// What the sandbox asks of the execution, for one step.
pub(super) struct StepHost<'r, 'a, H> {
    run: &'r Run<'a, H>,
    step: &'r str,
    key: &'r str,
    invocations: AtomicUsize,
}

impl<'r, 'a, H> StepHost<'r, 'a, H> {
    /// The host for the step named `step`, at `key`, of `run` (code steps and custom actions).
    pub(super) fn new(run: &'r Run<'a, H>, step: &'r str, key: &'r str) -> Self {
        StepHost {
            run,
            step,
            key,
            invocations: AtomicUsize::new(0),
        }
    }
}

impl<H: Host> CodeHost for StepHost<'_, '_, H> {
    fn log(&self, level: LogLevel, message: &str) {
        let severity = match level {
            LogLevel::Debug => Severity::Debug,
            LogLevel::Info => Severity::Info,
            LogLevel::Warn => Severity::Warn,
            LogLevel::Error => Severity::Error,
        };
        self.run.log(severity, message.to_string(), Some(self.step));
    }

    fn invoke_flow(&self, name: String, data: Value) -> BoxFuture<'_, Result<Value, String>> {
        let call = self.invocations.fetch_add(1, Ordering::Relaxed);
        let invocation = Invocation {
            flow: name,
            data,
            synchronous: true,
            idempotency_key: format!("{}:invokeFlow:{call}", self.run.idempotency_key(self.key)),
        };
        Box::pin(async move {
            self.before_effect().await?;
            self.run.host.invoke_flow(invocation).await
        })
    }

    fn before_effect(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.run.flush().await.map_err(|_| {
                "the execution's progress could not be saved, so nothing was sent".to_string()
            })
        })
    }
}
