//! Statistics for `executions` while a new database fills, on PostgreSQL.
//!
//! PostgreSQL plans a foreign-key check once per connection and keeps the plan until the
//! table's statistics change. On a new or freshly vacuumed database the statistics say
//! `executions` is empty, and the checks that `step_results` and `execution_logs` make against
//! it were then planned as walks of a whole index (`executions_instance_status`, whose last
//! column is `id`) rather than lookups in the primary key: the first minutes of a new
//! database ran at half speed, until autovacuum's first ANALYZE, or for good where
//! autovacuum is off. So the writer analyzes `executions` itself as the executions it
//! commits pass 1,000, 2,000, 4,000 and so on (each ANALYZE makes every connection plan
//! again), up to about a million, when the statistics no longer mislead and the database's
//! own maintenance has long taken over. The count is the node's since it started, so a node
//! restarted on a large database analyzes it about ten times in its first million
//! executions too: ANALYZE reads a fixed sample of rows, whatever the table's size.

use sqlx::PgPool;

/// Executions committed before the first ANALYZE.
pub(super) const FIRST: u64 = 1_000;

/// No ANALYZE past this many committed executions.
const LAST: u64 = 1 << 20;

/// Counts the executions the writer commits, and analyzes `executions` when the count doubles.
pub(super) struct Growth {
    pool: PgPool,
    committed: u64,
    next: u64,
}

impl Growth {
    /// Analyzes through `pool` (not the writer's connection, which must not wait for it).
    pub(super) fn new(pool: PgPool) -> Self {
        Growth {
            pool,
            committed: 0,
            next: FIRST,
        }
    }

    /// Counts `rows` more committed executions; analyzes, in the background, when the count
    /// reaches the next threshold.
    pub(super) fn committed(&mut self, rows: usize) {
        self.committed += rows as u64;
        if self.committed < self.next || self.next > LAST {
            return;
        }
        while self.next <= self.committed {
            self.next *= 2;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            if let Err(error) = sqlx::query("ANALYZE executions").execute(&pool).await {
                tracing::warn!(%error, "could not analyze the executions table");
            }
        });
    }
}
