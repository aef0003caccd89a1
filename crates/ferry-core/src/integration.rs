//! Integrations and their published versions, as the store keeps them. The definition itself
//! is YAML text; `ferry-definition` reads and checks it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A named integration with an editable draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Its uuid.
    pub id: Uuid,
    /// Unique within the organization; taken from the definition's `name`.
    pub name: String,
    /// Taken from the definition's `description`.
    pub description: String,
    /// The draft definition, as last imported.
    pub draft: String,
    /// The number of the latest published version, if any.
    pub latest_version: Option<i32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its draft last changed.
    pub updated_at: DateTime<Utc>,
}

/// A published, frozen version of an integration, or the snapshot of its draft that its test
/// instance runs (`is_draft`, number 0, never listed among versions nor given to customers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationVersion {
    /// Its uuid.
    pub id: Uuid,
    /// The integration.
    pub integration_id: Uuid,
    /// 1, 2, 3… per integration; 0 for a draft snapshot.
    pub version_number: i32,
    /// The definition as published.
    pub definition: String,
    /// Why it was published.
    pub comment: String,
    /// Whether new instances may use it.
    pub is_available: bool,
    /// Who published it.
    pub published_by: Option<Uuid>,
    /// When (for a draft snapshot: when the draft was imported).
    pub published_at: DateTime<Utc>,
    /// Whether this is the snapshot of the draft a test instance runs (replaced on each import).
    pub is_draft: bool,
}
