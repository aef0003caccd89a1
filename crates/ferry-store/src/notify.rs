//! Wake-ups across nodes. On PostgreSQL, a trigger (migration `0013_queue_notify`) sends a
//! notification on [`CHANNEL`] whenever executions are queued, and [`Store::listen_queued`]
//! gives a listener a worker waits on, so an execution queued by any node is picked up at once
//! rather than at the next poll. SQLite, which one process uses, has no listener: the node's
//! in-process signals do the same there.

use sqlx::postgres::PgListener;

use crate::backend::Backend;
use crate::{Store, StoreError};

/// The PostgreSQL notification channel that says executions were queued.
pub const CHANNEL: &str = "ferry_queued";

/// A connection listening for queued executions.
pub struct QueueListener(PgListener);

impl std::fmt::Debug for QueueListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueListener")
    }
}

impl QueueListener {
    /// Waits for the next notification. After a lost connection it reconnects (answering the
    /// error once); notifications sent meanwhile are lost, which polling makes up for.
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.0.recv().await?;
        Ok(())
    }
}

impl Store {
    /// A listener for queued executions (PostgreSQL); `None` on SQLite.
    pub async fn listen_queued(&self) -> Result<Option<QueueListener>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                Ok(Some(QueueListener(listener)))
            }
        }
    }
}
