//! Custom components and their published versions, as the store keeps them. A version holds
//! the bundle (JavaScript text) and the manifest read from it (JSON text); `ferry-js` reads
//! bundles and `ferry-components` checks manifests.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A custom component of an organization: a key and its published versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomComponent {
    /// Its uuid.
    pub id: Uuid,
    /// Unique within the organization; the prefix of its actions' keys.
    pub key: String,
    /// Its name for people, from the latest version.
    pub label: String,
    /// What it does, from the latest version.
    pub description: String,
    /// The latest version's number.
    pub latest_version: i32,
    /// When it was first published.
    pub created_at: DateTime<Utc>,
    /// When it was last published.
    pub updated_at: DateTime<Utc>,
}

/// One published, frozen version of a custom component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentVersion {
    /// Its uuid.
    pub id: Uuid,
    /// The component.
    pub component_id: Uuid,
    /// The component's key.
    pub key: String,
    /// 1, 2, 3… per component.
    pub version_number: i32,
    /// The manifest, as JSON text.
    pub manifest: String,
    /// The bundle, as published.
    pub bundle: String,
    /// Why it was published.
    pub comment: String,
    /// Who published it.
    pub published_by: Option<Uuid>,
    /// When.
    pub published_at: DateTime<Utc>,
}
