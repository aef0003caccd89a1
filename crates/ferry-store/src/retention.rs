//! Retention: step results and log lines older than a cutoff are deleted in bounded batches,
//! so that the database does not grow without bound and no single statement holds the store
//! for long; expired dedupe keys go too. Executions themselves are kept. An organization with
//! its own retention period (`organizations.retention_days`) is pruned by it, and left out of
//! the server-wide pass.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::backend::write;
use crate::{now, Store, StoreError};

/// What one pruning batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Step results deleted.
    pub step_results: u64,
    /// Log lines deleted.
    pub logs: u64,
    /// Expired dedupe keys deleted.
    pub dedupe_keys: u64,
}

impl Pruned {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.step_results + self.logs + self.dedupe_keys
    }
}

/// The smallest version-7 uuid of the millisecond `at`: every row id (uuid v7, so time-ordered)
/// created before `at` is below it.
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70; // version 7
    bytes[8] = 0x80; // RFC 4122 variant
    Uuid::from_bytes(bytes)
}

/// Whose records a pruning batch deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneScope {
    /// Every organization without its own retention period (the server's period applies).
    Default,
    /// One organization, by its own retention period.
    Organization(Uuid),
}

impl PruneScope {
    /// The step results' condition on `org_id` (`$3` is the organization's id when there is
    /// one).
    fn condition(&self) -> &'static str {
        match self {
            PruneScope::Default => {
                "org_id NOT IN (SELECT id FROM organizations WHERE retention_days IS NOT NULL)"
            }
            PruneScope::Organization(_) => "org_id = $3",
        }
    }

    /// Which log lines of the scope are older than `$1`. Log lines are keyed by
    /// `(org_id, id)`, so they are looked up organization by organization (those without a
    /// period of their own, or the one named).
    fn old_logs(&self) -> &'static str {
        match self {
            PruneScope::Default => {
                "org_id IN (SELECT id FROM organizations WHERE retention_days IS NULL) AND id < $1"
            }
            PruneScope::Organization(_) => "org_id = $3 AND id < $1",
        }
    }

    fn org_id(&self) -> Option<Uuid> {
        match self {
            PruneScope::Default => None,
            PruneScope::Organization(id) => Some(*id),
        }
    }
}

impl Store {
    /// Deletes up to `batch` step results and up to `batch` log lines of `scope` created
    /// before `cutoff`, and up to `batch` expired dedupe keys. Call it again while it deletes
    /// a full batch.
    pub async fn prune(
        &self,
        scope: PruneScope,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<Pruned, StoreError> {
        let bound = first_id_at(cutoff);
        let at = now();
        let step_sql = format!(
            "DELETE FROM step_results WHERE id IN \
             (SELECT id FROM step_results WHERE id < $1 AND {} LIMIT $2)",
            scope.condition()
        );
        let log_sql = format!(
            "DELETE FROM execution_logs WHERE (org_id, id) IN \
             (SELECT org_id, id FROM execution_logs WHERE {} LIMIT $2)",
            scope.old_logs()
        );
        Ok(write!(self, pool => {
            let mut steps = sqlx::query(&step_sql).bind(bound).bind(batch);
            let mut lines = sqlx::query(&log_sql).bind(bound).bind(batch);
            if let Some(org_id) = scope.org_id() {
                steps = steps.bind(org_id);
                lines = lines.bind(org_id);
            }
            let step_results = steps.execute(pool).await?.rows_affected();
            let logs = lines.execute(pool).await?.rows_affected();
            let dedupe_keys = sqlx::query(
                "DELETE FROM dedupe_keys WHERE (flow_config_id, dedupe_key) IN \
                 (SELECT flow_config_id, dedupe_key FROM dedupe_keys WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(at).bind(batch).execute(pool).await?.rows_affected();
            Ok::<_, StoreError>(Pruned { step_results, logs, dedupe_keys })
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_sorts_between_ids_made_before_and_after_it() {
        let before = Uuid::now_v7();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let bound = first_id_at(Utc::now());
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = Uuid::now_v7();
        assert!(before < bound && bound < after);
    }
}
