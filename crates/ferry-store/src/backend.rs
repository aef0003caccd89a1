//! Connecting to SQLite or PostgreSQL, applying migrations, and running one query text on
//! either.
//!
//! SQLite runs in WAL mode with `synchronous=FULL` (a commit is on disk when it returns: it
//! survives a crash of the process and of the machine; the grouped commit syncs on a thread of
//! its own instead, and answers after it) and a write pool of one connection, so
//! writers queue in the pool instead of failing with `SQLITE_BUSY`; readers use their own pool.
//! The grouped commit writes through a connection of its own, holding the write pool's
//! connection meanwhile, so there is still one writer at a time ([`crate::batch`]), and a
//! thread of its own copies the log into the database file (no connection checkpoints by
//! itself).
//! (`mmap_size` was tried: under load its page faults and unmapping cost more than the copies
//! it saves, and every reader's mapping counts in the RSS.) PostgreSQL uses one pool for both. The hot path's writes are
//! grouped into shared commits ([`crate::batch`]).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool};

use crate::StoreError;

/// The SQLite pools, and the database's file.
#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    pub(crate) reader: SqlitePool,
    /// One connection: SQLite takes one writer at a time.
    pub(crate) writer: SqlitePool,
    /// The database file, for the grouped commit's own connection ([`crate::batch`]).
    pub(crate) path: Arc<Path>,
}

/// Which database a store runs on.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool for reads, once per backend: the body is the
/// same text, type-checked against each database.
macro_rules! read {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite(pools) => {
                let $pool = &pools.reader;
                $body
            }
            $crate::backend::Backend::Postgres($pool) => $body,
        }
    };
}

/// Like [`read!`], with the pool for writes (SQLite's single writer).
macro_rules! write {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite(pools) => {
                let $pool = &pools.writer;
                $body
            }
            $crate::backend::Backend::Postgres($pool) => $body,
        }
    };
}

pub(crate) use {read, write};

/// Opens a SQLite database file, creating it if missing, and applies migrations. An
/// in-memory database is refused: it would be one database per connection, and the grouped
/// commit writes through a connection of its own.
pub(crate) async fn open_sqlite(url: &str, max_readers: u32) -> Result<Backend, StoreError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::UnsupportedUrl(format!(
            "{url} (an in-memory SQLite database; name a file)"
        )));
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Statement journals (a multi-row statement inside a transaction, such as the
        // schedules' inserts, keeps one, to undo itself alone) stay in memory: past 64 KiB
        // SQLite would otherwise spill them to a temporary file, created, written and deleted
        // on every large commit.
        .pragma("temp_store", "memory")
        // The log is copied into the database by the grouped commit's checkpointer, never by
        // the connection that commits ([`crate::batch`]).
        .pragma("wal_autocheckpoint", "0")
        .busy_timeout(Duration::from_secs(10));
    let path = options.get_filename().to_path_buf();
    // No ping before handing out a connection: a SQLite connection is a file in this
    // process, and the ping is one more round trip to its thread on every query.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(max_readers.max(1))
        .test_before_acquire(false)
        .connect_with(options.read_only(true))
        .await?;
    Ok(Backend::Sqlite(SqlitePools {
        reader,
        writer,
        path: path.into(),
    }))
}

/// The longest a query waits for a PostgreSQL connection of a pool.
pub(crate) const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to PostgreSQL and applies migrations (sqlx holds an advisory lock while it does,
/// so several nodes starting at once migrate once).
pub(crate) async fn open_postgres(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<Backend, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(PG_ACQUIRE_TIMEOUT)
        .connect_with(without_jit(options))
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(Backend::Postgres(pool))
}

/// `options` with PostgreSQL's JIT compilation off (it comes last, so it wins over the URL's).
///
/// PostgreSQL compiles a query's expressions to machine code when its estimated cost passes
/// `jit_above_cost`. The claim's estimate does once thousands of executions are queued (the
/// FIFO check's subquery is costed for every queued row, though it rarely runs): each claim
/// then spent about 25 ms compiling for 0.3 ms of work, and a backlog drained at half speed.
/// The store's queries are short ones, which JIT never pays back.
fn without_jit(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("jit", "off")])
}

/// Binding the few value types the store's dynamic queries use, whatever the database.
///
/// sqlx's `push_bind` is generic over `Encode<DB> + Type<DB>`; spelling those bounds for every
/// type on every generic query builder is noisy, so this trait names them once.
pub(crate) trait Dialect: sqlx::Database {
    fn bind_text(query: &mut QueryBuilder<'_, Self>, value: String);
    fn bind_uuid(query: &mut QueryBuilder<'_, Self>, value: uuid::Uuid);
    fn bind_time(query: &mut QueryBuilder<'_, Self>, value: chrono::DateTime<chrono::Utc>);
    fn bind_bool(query: &mut QueryBuilder<'_, Self>, value: bool);
}

macro_rules! impl_dialect {
    ($db:ty) => {
        impl Dialect for $db {
            fn bind_text(query: &mut QueryBuilder<'_, Self>, value: String) {
                query.push_bind(value);
            }
            fn bind_uuid(query: &mut QueryBuilder<'_, Self>, value: uuid::Uuid) {
                query.push_bind(value);
            }
            fn bind_time(query: &mut QueryBuilder<'_, Self>, value: chrono::DateTime<chrono::Utc>) {
                query.push_bind(value);
            }
            fn bind_bool(query: &mut QueryBuilder<'_, Self>, value: bool) {
                query.push_bind(value);
            }
        }
    };
}

impl_dialect!(Sqlite);
impl_dialect!(Postgres);

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::Backend;
    use crate::testing;

    #[tokio::test]
    async fn the_stores_postgres_connections_never_compile_queries_to_machine_code() {
        let Some(t) = testing::postgres().await else {
            return;
        };
        let Backend::Postgres(pool) = &t.store.backend else {
            panic!("a PostgreSQL store");
        };
        let jit: String = sqlx::query_scalar("SHOW jit")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(jit, "off");
    }
}
