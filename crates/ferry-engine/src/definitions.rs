//! Published definitions, parsed once. A published version never changes, so its parsed
//! definition is kept by version id for the process's life: webhooks, instance queries and
//! workers read it without parsing and checking the YAML again each time. Draft snapshots (what
//! test instances run) are parsed on each use instead: each import replaces them, so keeping
//! them would only grow the map, and test runs are few.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_components::custom::Stored;
use ferry_core::integration::IntegrationVersion;
use ferry_definition::{Definition, Invalid};
use uuid::Uuid;

/// The parsed definitions of published versions, by version id.
#[derive(Default)]
pub struct Definitions {
    parsed: Mutex<HashMap<Uuid, Arc<Definition>>>,
}

impl Definitions {
    /// The parsed definition of version `id`, if it was parsed before.
    pub fn cached(&self, id: Uuid) -> Option<Arc<Definition>> {
        self.lock().get(&id).cloned()
    }

    /// The parsed definition of `version`, parsing it on first use.
    pub fn of(&self, version: &IntegrationVersion) -> Result<Arc<Definition>, Invalid> {
        if let Some(found) = self.lock().get(&version.id) {
            return Ok(found.clone());
        }
        // Parsed outside the lock; two first uses at once both parse, and either result is right.
        let parsed = Arc::new(ferry_definition::parse(&version.definition, &Stored)?);
        if !version.is_draft {
            self.lock().insert(version.id, parsed.clone());
        }
        Ok(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Definition>>> {
        // A panic while holding this lock cannot leave the map half-written; keep using it.
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
