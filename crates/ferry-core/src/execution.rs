//! Executions: one run of a flow of an instance, from its trigger's payload to its end.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::payload::Payload;

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// Committed, waiting for a worker.
    Queued,
    /// A worker holds it.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ended with an error; an automatic retry is queued.
    FailedRetryPending,
    /// Stopped on request.
    Cancelled,
}

impl ExecutionStatus {
    /// The name the store and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "QUEUED",
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::FailedRetryPending => "FAILED_RETRY_PENDING",
            ExecutionStatus::Cancelled => "CANCELLED",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::FailedRetryPending,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Its uuid.
    pub id: Uuid,
    /// The instance.
    pub instance_id: Uuid,
    /// The instance's customer.
    pub customer_id: Uuid,
    /// The flow config that was triggered.
    pub flow_config_id: Uuid,
    /// The flow's identity.
    pub flow_key: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// Whether a caller waits for its result.
    pub is_synchronous: bool,
    /// The trigger's result: the request as the flow sees it.
    pub trigger_payload: Payload,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was committed to the queue.
    pub queued_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How many times a worker has taken it (more than once when a worker was lost).
    pub attempt: i32,
    /// What it ended with: the last step's result, as a synchronous caller receives it.
    pub result: Option<Value>,
    /// The execution whose `flow.invoke` step started this one.
    pub invoked_by: Option<Uuid>,
    /// For an automatic retry: the execution it retries (the first of the chain).
    pub retry_for: Option<Uuid>,
    /// For an automatic retry: which one (1 for the first retry); 0 otherwise.
    pub retry_attempt: i32,
    /// For a replay: the execution it replays.
    pub replay_for: Option<Uuid>,
    /// A queued retry does not start before this time.
    pub not_before: Option<DateTime<Utc>>,
}

impl ExecutionStatus {
    /// Whether the execution has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::FailedRetryPending
                | ExecutionStatus::Cancelled
        )
    }
}

/// The committed result of one step (of one loop iteration, inside loops).
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Its uuid.
    pub id: Uuid,
    /// The execution.
    pub execution_id: Uuid,
    /// `<stepRef>:<loop path>`: unique in the execution, the key a resumed run looks up.
    pub step_key: String,
    /// The step's name.
    pub step_name: String,
    /// The loop indices, outermost first, joined by `.` (empty outside loops).
    pub loop_path: String,
    /// What the step gave (`None` when it failed).
    pub results: Option<Value>,
    /// Whether the step's result is the execution's trigger payload (the result of a trigger
    /// that was not a poll): a store keeps the payload once, in the execution, and reads it
    /// from there into `results`. Written, `results` is not read (the engine leaves it `None`).
    pub from_trigger: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// What else it did, for a resumed run to replay.
    pub effects: StepEffects,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
}

/// What a step did besides giving its result, committed with it, so that a resumed execution
/// takes the step's whole outcome from its checkpoint instead of running it again. Only code
/// steps have any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepEffects {
    /// What it said of the execution's response: `statusCode`, `headers`, `contentType`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub response: Map<String, Value>,
    /// The state it changed: scope (`execution`, `flow`, `instance`, `integration`) → key →
    /// new value, `null` deleting.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state: BTreeMap<String, Map<String, Value>>,
}

impl StepEffects {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.response.is_empty() && self.state.is_empty()
    }
}

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Detail for debugging.
    Debug,
    /// What happened.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

impl Severity {
    /// The name the store and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }

    /// The severity named `name` (`warning` is `warn`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "debug" | "trace" => Some(Severity::Debug),
            "info" => Some(Severity::Info),
            "warn" | "warning" => Some(Severity::Warn),
            "error" | "fatal" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// The longest log line kept, in characters; longer lines are cut.
pub const MAX_LOG_LINE_CHARS: usize = 4096;

/// One line of an execution's logs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Its uuid (time-ordered).
    pub id: Uuid,
    /// The execution.
    pub execution_id: Uuid,
    /// How serious.
    pub severity: Severity,
    /// The text, at most [`MAX_LOG_LINE_CHARS`] characters.
    pub message: String,
    /// The step that wrote it, if any.
    pub step_name: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl LogLine {
    /// A line written now, cut at [`MAX_LOG_LINE_CHARS`] characters.
    pub fn new(execution_id: Uuid, severity: Severity, message: &str, step: Option<&str>) -> Self {
        let message = match message.char_indices().nth(MAX_LOG_LINE_CHARS) {
            Some((cut, _)) => message[..cut].to_string(),
            None => message.to_string(),
        };
        LogLine {
            id: Uuid::now_v7(),
            execution_id,
            severity,
            message,
            step_name: step.map(str::to_string),
            at: now_micros(),
        }
    }
}

/// Now, truncated to microseconds (what both stores keep).
pub fn now_micros() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_cut_at_4096_characters_not_bytes() {
        let long = "é".repeat(5000);
        let line = LogLine::new(Uuid::nil(), Severity::Info, &long, None);
        assert_eq!(line.message.chars().count(), MAX_LOG_LINE_CHARS);
    }

    #[test]
    fn severities_read_their_usual_names() {
        assert_eq!(Severity::parse("WARNING"), Some(Severity::Warn));
        assert_eq!(Severity::parse("loud"), None);
    }
}
