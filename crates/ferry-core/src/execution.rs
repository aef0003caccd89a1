//! Executions: one run of a flow of an instance, from its trigger's payload to its end.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

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
    pub trigger_payload: Value,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was committed to the queue.
    pub queued_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}
