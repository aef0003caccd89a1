//! Custom component bundles, loaded from the store by the versions a definition pins and kept
//! for the process's life: a published component version never changes, so its bundle never
//! goes stale. Bounded: past [`MAX_BUNDLES`] the cache is emptied and fills again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ferry_store::{Store, StoreError, Tenant};
use uuid::Uuid;

/// The most bundles kept.
pub const MAX_BUNDLES: usize = 256;

/// A bundle's identity: organization, component key, version.
type BundleKey = (Uuid, String, u32);

/// Bundles by organization, component key and version.
#[derive(Default)]
pub struct Bundles {
    kept: Mutex<HashMap<BundleKey, Arc<str>>>,
}

impl Bundles {
    /// The bundles of the component versions `pins` names, by component key.
    pub async fn load(
        &self,
        store: &Store,
        tenant: &Tenant,
        pins: &BTreeMap<String, u32>,
    ) -> Result<HashMap<String, Arc<str>>, StoreError> {
        let mut found = HashMap::new();
        for (key, version) in pins {
            let id = (tenant.org_id, key.clone(), *version);
            let kept = self.lock().get(&id).cloned();
            let bundle = match kept {
                Some(bundle) => bundle,
                None => {
                    let number = i32::try_from(*version).unwrap_or(i32::MAX);
                    let stored = store.component_version(tenant, key, number).await?;
                    let bundle: Arc<str> = stored.bundle.into();
                    let mut kept = self.lock();
                    if kept.len() >= MAX_BUNDLES {
                        kept.clear();
                    }
                    kept.insert(id, bundle.clone());
                    bundle
                }
            };
            found.insert(key.clone(), bundle);
        }
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BundleKey, Arc<str>>> {
        // Nothing panics while holding this lock; if something did, the map is still whole.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}
