//! Statistics for the tables a new database fills fast, on PostgreSQL.
//!
//! PostgreSQL plans a statement from the statistics its tables had when it was planned, and a
//! pooled connection keeps a prepared statement's plan until those statistics change. On a
//! new or freshly vacuumed database the statistics say a table is empty or nearly so, and the
//! plans made then stay sequential scans (or walks of a whole index) while the table grows:
//! - the foreign-key checks that `step_results` and `execution_logs` make against
//!   `executions` walked `executions_instance_status` instead of looking the key up, and the
//!   first minutes of a new database ran at half speed;
//! - looking an instance or its flow configs up, and upserting a schedule, scanned the whole
//!   table (up to 82 ms each at 10,000 instances), and creating 10,000 instances took three
//!   times as long after a VACUUM ANALYZE of a nearly empty database as on a new one.
//!
//! Autovacuum's ANALYZE would put that right within a minute or so; where autovacuum is off,
//! nothing would. So the node analyzes such a table itself as the rows it adds pass 1,000,
//! 2,000, 4,000 and so on (each ANALYZE makes every connection plan again), up to about a
//! million, when the statistics no longer mislead and the database's own maintenance has long
//! taken over. The count is the node's since it started, so a node restarted on a large
//! database analyzes it about ten times in its first million rows too: ANALYZE reads a fixed
//! sample of rows, whatever the table's size.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;

/// Rows added before the first ANALYZE.
pub(crate) const FIRST: u64 = 1_000;

/// No ANALYZE past this many added rows.
const LAST: u64 = 1 << 20;

/// Counts the rows a node adds to some tables, and analyzes them when the count doubles.
#[derive(Debug)]
pub(crate) struct Growth {
    /// The `ANALYZE` statement naming the tables.
    analyze: &'static str,
    added: AtomicU64,
    next: AtomicU64,
}

impl Growth {
    /// A count of rows added to the tables `analyze` (an `ANALYZE` statement) names.
    pub(crate) const fn new(analyze: &'static str) -> Self {
        Growth {
            analyze,
            added: AtomicU64::new(0),
            next: AtomicU64::new(FIRST),
        }
    }

    /// Counts `rows` more added rows; analyzes through `pool`, in the background (the caller
    /// does not wait for it), when the count reaches the next threshold.
    pub(crate) fn added(&self, pool: &PgPool, rows: usize) {
        if !self.due(rows as u64) {
            return;
        }
        let (pool, analyze) = (pool.clone(), self.analyze);
        tokio::spawn(async move {
            if let Err(error) = sqlx::query(analyze).execute(&pool).await {
                tracing::warn!(%error, statement = analyze, "could not take statistics");
            }
        });
    }

    /// Counts `rows` more added rows: whether the count has just passed a threshold. Of
    /// callers passing the same threshold at once, one is told so.
    fn due(&self, rows: u64) -> bool {
        let added = self.added.fetch_add(rows, Ordering::Relaxed) + rows;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            if added < next || next > LAST {
                return false;
            }
            let mut after = next;
            while after <= added {
                after *= 2;
            }
            match self
                .next
                .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(moved) => next = moved,
            }
        }
    }
}

/// The tables the store's own calls fill (the writer counts `executions` itself): instances
/// with their flow configs and config values, and schedules.
#[derive(Debug)]
pub(crate) struct Filling {
    /// Counted in instances created.
    pub(crate) instances: Growth,
    /// Counted in schedules written.
    pub(crate) schedules: Growth,
}

impl Default for Filling {
    fn default() -> Self {
        Filling {
            instances: Growth::new(
                "ANALYZE instances, instance_flow_configs, instance_config_values",
            ),
            schedules: Growth::new("ANALYZE schedules"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analyze_is_due_as_the_count_passes_each_doubling() {
        let growth = Growth::new("ANALYZE t");
        let due: Vec<u64> = (1..=5_000)
            .filter(|_| growth.due(1))
            .map(|_| growth.added.load(Ordering::Relaxed))
            .collect();
        assert_eq!(due, [1_000, 2_000, 4_000]);
    }

    #[test]
    fn a_large_step_past_several_thresholds_is_one_analyze() {
        let growth = Growth::new("ANALYZE t");
        assert!(growth.due(5_000));
        assert!(!growth.due(2_000), "7,000 is short of the next, 8,000");
        assert!(growth.due(1_000));
    }

    #[test]
    fn no_analyze_past_about_a_million_rows() {
        let growth = Growth::new("ANALYZE t");
        assert!(growth.due(LAST));
        assert!(!growth.due(LAST * 4));
    }
}
