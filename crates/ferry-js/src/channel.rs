//! What a sandbox thread and the task waiting for its step say to each other: the step to run
//! and its end, the host work the code asks for (log lines, `fetch`, `invokeFlow`), and the
//! answers to that work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::component::ComponentCall;
use crate::{CodeCall, CodeOutput, JsError, LogLevel};

/// One step for a sandbox thread.
pub(crate) struct Job {
    /// The step.
    pub(crate) task: Task,
    /// Where host work goes.
    pub(crate) requests: tokio::sync::mpsc::UnboundedSender<Request>,
    /// Where its answers come from; closed when the caller stopped waiting.
    pub(crate) answers: std::sync::mpsc::Receiver<Answer>,
    /// Set when the caller stopped waiting.
    pub(crate) abandoned: Abandoned,
    /// Where the step's end goes.
    pub(crate) done: tokio::sync::oneshot::Sender<Result<CodeOutput, JsError>>,
}

/// What a sandbox thread runs: a code step, or an operation of a custom component.
pub(crate) enum Task {
    /// A `code.run` step.
    Code(CodeCall),
    /// A custom component's manifest, action, trigger, hook or data source.
    Component(ComponentCall),
}

impl Task {
    /// When it must have ended.
    pub(crate) fn deadline(&self) -> std::time::Instant {
        match self {
            Task::Code(call) => call.deadline,
            Task::Component(call) => call.deadline,
        }
    }

    /// The time limit its deadline comes from.
    pub(crate) fn time_limit(&self) -> std::time::Duration {
        match self {
            Task::Code(call) => call.time_limit,
            Task::Component(call) => call.time_limit,
        }
    }
}

/// Host work the code asks for.
pub(crate) enum Request {
    /// A log line.
    Log(LogLevel, String),
    /// A `fetch`; answered under the same id.
    Fetch(u64, FetchRequest),
    /// An `invokeFlow`; answered under the same id.
    InvokeFlow(u64, String, Value),
}

/// The answer to request `id`.
pub(crate) struct Answer {
    /// The request's id.
    pub(crate) id: u64,
    /// Its result, or the message the code's promise is rejected with.
    pub(crate) result: Result<Reply, String>,
}

/// A successful answer.
pub(crate) enum Reply {
    /// A flow's result.
    Json(Value),
    /// A response to `fetch`.
    Response(FetchResponse),
}

/// An HTTP request the code makes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FetchRequest {
    /// An http or https URL (checked by the sandbox).
    pub(crate) url: String,
    /// `GET`, `POST`, …
    pub(crate) method: String,
    /// Header names and values, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body, if any.
    pub(crate) body: Option<Vec<u8>>,
    /// The code's own timeout, in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
}

/// The response it gets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FetchResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The status's reason phrase.
    pub(crate) status_text: String,
    /// The final URL, after redirects.
    pub(crate) url: String,
    /// Whether redirects were followed.
    pub(crate) redirected: bool,
    /// Header names (lower case) and values, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

/// A flag the caller raises when it stops waiting for a step (the guard in its task is
/// dropped), which the sandbox's interrupt handler watches.
#[derive(Clone, Default)]
pub(crate) struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    /// Whether the caller stopped waiting.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Says the caller stopped waiting.
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
