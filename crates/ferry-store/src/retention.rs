//! Retention: step results and log lines older than a cutoff are deleted in bounded batches,
//! so that the database does not grow without bound and no single statement holds the store
//! for long; expired dedupe keys go too. Executions themselves are kept.

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

impl Store {
    /// Deletes up to `batch` step results and up to `batch` log lines created before `cutoff`,
    /// and up to `batch` expired dedupe keys. Call it again while it deletes a full batch.
    pub async fn prune(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<Pruned, StoreError> {
        let bound = first_id_at(cutoff);
        let at = now();
        Ok(write!(self, pool => {
            let step_results = sqlx::query("DELETE FROM step_results WHERE id IN (SELECT id FROM step_results WHERE id < $1 LIMIT $2)")
                .bind(bound).bind(batch).execute(pool).await?.rows_affected();
            let logs = sqlx::query("DELETE FROM execution_logs WHERE id IN (SELECT id FROM execution_logs WHERE id < $1 LIMIT $2)")
                .bind(bound).bind(batch).execute(pool).await?.rows_affected();
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
