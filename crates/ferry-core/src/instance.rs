//! Instances: an integration version deployed for one customer, with that customer's config
//! values and one flow config (webhook identity and API keys) per flow.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A deployed (or about to be deployed) integration version for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its uuid.
    pub id: Uuid,
    /// The customer it serves.
    pub customer_id: Uuid,
    /// The integration.
    pub integration_id: Uuid,
    /// The published version it runs (a test instance: its integration's draft snapshot).
    pub version_id: Uuid,
    /// Unique per customer.
    pub name: String,
    /// Free text.
    pub description: String,
    /// A paused instance answers its webhooks with 409 and runs nothing.
    pub enabled: bool,
    /// When it was last deployed, if ever.
    pub last_deployed_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Whether it is its integration's test instance (on the system customer, running the draft).
    pub is_test: bool,
    /// Whether it is the system instance in which a shared endpoint's preprocess flow runs
    /// (one per integration version, on the system customer).
    pub is_router: bool,
    /// Whether its executions store no step results and no log lines (for compliance).
    pub disable_logs_and_step_results: bool,
    /// The values set for its config variables.
    pub config_values: Vec<ConfigValue>,
    /// One per flow.
    pub flow_configs: Vec<FlowConfig>,
}

/// The value of one config variable, keyed by the variable's identity (its stable key, else
/// its key). Values are strings, JSON-encoded for structured types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    /// The variable's identity.
    pub key: String,
    /// The value.
    pub value: String,
    /// Sealed at rest and masked in answers (connections).
    pub is_secret: bool,
}

/// An instance's copy of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Its uuid; its global id is the webhook URL's last segment.
    pub id: Uuid,
    /// The flow's identity (its stable key, else its name).
    pub flow_key: String,
    /// Keys callers must send as `Api-Key` when the endpoint is secured.
    pub api_keys: Vec<String>,
}
