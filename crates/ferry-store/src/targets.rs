//! The webhook targets this node read lately, so a busy webhook does not read its instance and
//! flow configs from the database on every request.
//!
//! A target is kept for [`FRESH_FOR`]. Every change this store makes to an instance, its flow
//! configs, or what owns them (customer, integration) empties the cache, so on one node (the
//! only way SQLite runs) a webhook never sees a change later than the change's commit. A change
//! made by another node (PostgreSQL) reaches this node's webhooks within [`FRESH_FOR`]: until
//! then a paused instance's webhook may still queue executions (they wait, as any queued
//! before the pause, and run on resume), and a removed `Api-Key` may still be accepted.
//!
//! A read that began before a change must not put its (older) answer back after the change
//! emptied the cache: each change bumps a generation, and an answer is kept only when the
//! generation is the one its read began in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::executions::WebhookTarget;

/// How long a target read from the database is used before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// The most targets kept; past it, stale ones go, and if none is stale, all.
const MOST: usize = 10_000;

/// Cheap to clone: clones share the entries.
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetCache(Arc<Mutex<Entries>>);

#[derive(Debug, Default)]
struct Entries {
    by_flow_config: HashMap<Uuid, (Instant, Arc<WebhookTarget>)>,
    generation: u64,
}

/// Taken before a read, handed back with its answer: the generation and the time the read
/// began (its answer is as old as that).
pub(crate) struct Ticket(u64, Instant);

impl TargetCache {
    /// The target of `flow_config_id`, if read less than [`FRESH_FOR`] ago and unchanged since.
    pub(crate) fn fresh(&self, flow_config_id: Uuid) -> Option<Arc<WebhookTarget>> {
        let entries = self.lock();
        let (read_at, target) = entries.by_flow_config.get(&flow_config_id)?;
        (read_at.elapsed() < FRESH_FOR).then(|| target.clone())
    }

    /// Taken before reading a target from the database.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation, Instant::now())
    }

    /// Keeps `target`, read under `ticket`, unless something changed since the read began.
    pub(crate) fn keep(&self, Ticket(generation, read_at): Ticket, target: &Arc<WebhookTarget>) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.by_flow_config.len() >= MOST {
            entries
                .by_flow_config
                .retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
            if entries.by_flow_config.len() >= MOST {
                entries.by_flow_config.clear();
            }
        }
        let key = target.flow_config_id;
        entries
            .by_flow_config
            .insert(key, (read_at, target.clone()));
    }

    /// Forgets every target: called after any change to what a target is read from.
    pub(crate) fn forget_all(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_flow_config.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The entries stay consistent whatever a panicking holder did (each change is one
        // map operation), so a poisoned lock is used as is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Arc<WebhookTarget> {
        Arc::new(WebhookTarget {
            org_id: Uuid::new_v4(),
            instance_id: Uuid::new_v4(),
            instance_name: "Mars".into(),
            customer_id: Uuid::new_v4(),
            integration_id: Uuid::new_v4(),
            version_id: Uuid::new_v4(),
            enabled: true,
            flow_configs: vec![],
            flow_config_id: Uuid::new_v4(),
            flow_key: "Orders".into(),
            api_keys: vec![],
        })
    }

    #[test]
    fn a_kept_target_is_used_until_a_change() {
        let (cache, target) = (TargetCache::default(), target());
        cache.keep(cache.ticket(), &target);
        assert!(cache.fresh(target.flow_config_id).is_some());
        cache.forget_all();
        assert!(cache.fresh(target.flow_config_id).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let (cache, target) = (TargetCache::default(), target());
        let ticket = cache.ticket();
        cache.forget_all();
        cache.keep(ticket, &target);
        assert!(cache.fresh(target.flow_config_id).is_none());
    }

    #[test]
    fn a_target_goes_stale_after_the_bound() {
        let (cache, target) = (TargetCache::default(), target());
        let Ticket(generation, _) = cache.ticket();
        let long_ago = Instant::now()
            .checked_sub(FRESH_FOR + Duration::from_millis(1))
            .expect("the clock has run longer than the bound");
        cache.keep(Ticket(generation, long_ago), &target);
        assert!(cache.fresh(target.flow_config_id).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TargetCache::default();
        for _ in 0..MOST + 5 {
            cache.keep(cache.ticket(), &target());
        }
        assert!(cache.lock().by_flow_config.len() <= MOST);
    }
}
