//! The pruner: deletes step results and log lines older than the retention period (14 days
//! by default; an organization's own period where it set one), in bounded batches with a pause between them so that it never holds the store
//! for long, every so often, until stopped.

use std::time::Duration;

use ferry_store::{PruneScope, Pruned, Store, StoreError};
use tokio::sync::watch;

/// How long records are kept, and how the pruner paces itself.
#[derive(Debug, Clone)]
pub struct RetentionOptions {
    /// Step results and logs older than this are deleted, except in organizations with their
    /// own retention period; `None` keeps them (those organizations are still pruned).
    pub keep: Option<Duration>,
    /// How often the pruner runs.
    pub every: Duration,
    /// Rows per statement.
    pub batch: i64,
    /// Pause between batches.
    pub pause: Duration,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        RetentionOptions {
            keep: Some(Duration::from_secs(14 * 24 * 3600)),
            every: Duration::from_secs(600),
            batch: 1000,
            pause: Duration::from_millis(20),
        }
    }
}

/// Prunes a store on a timer.
pub struct Pruner {
    store: Store,
    options: RetentionOptions,
}

impl Pruner {
    /// A pruner for `store`.
    pub fn new(store: Store, options: RetentionOptions) -> Self {
        Pruner { store, options }
    }

    /// Prunes now and then every `every`, until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.prune_once().await {
                Ok(pruned) if pruned.total() > 0 => tracing::info!(
                    step_results = pruned.step_results,
                    logs = pruned.logs,
                    dedupe_keys = pruned.dedupe_keys,
                    "pruned records past their retention"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "pruning failed; trying again later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.every) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Deletes everything past retention, batch by batch; gives the totals.
    pub async fn prune_once(&self) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        if let Some(keep) = self.options.keep {
            self.prune_scope(PruneScope::Default, keep, &mut total)
                .await?;
        }
        for (org_id, days) in self.store.retention_overrides().await? {
            let keep = Duration::from_secs(u64::from(days) * 24 * 3600);
            self.prune_scope(PruneScope::Organization(org_id), keep, &mut total)
                .await?;
        }
        Ok(total)
    }

    /// Prunes `scope`'s records older than `keep`, adding what went to `total`.
    async fn prune_scope(
        &self,
        scope: PruneScope,
        keep: Duration,
        total: &mut Pruned,
    ) -> Result<(), StoreError> {
        let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        loop {
            let pruned = self.store.prune(scope, cutoff, self.options.batch).await?;
            total.step_results += pruned.step_results;
            total.logs += pruned.logs;
            total.dedupe_keys += pruned.dedupe_keys;
            let full = [pruned.step_results, pruned.logs, pruned.dedupe_keys]
                .iter()
                .any(|n| *n >= self.options.batch as u64);
            if !full {
                return Ok(());
            }
            tokio::time::sleep(self.options.pause).await;
        }
    }
}
