//! Ferry's store: one API over SQLite (the embedded default) and PostgreSQL (many nodes).
//!
//! - [`Store::open`] connects by URL and applies the versioned migrations of `migrations/`.
//! - Every operation takes a [`Tenant`]: the organization, and for customer users their
//!   customer. Tenancy is enforced here, in the SQL, not by callers remembering to filter.
//! - Lists are keyset-paginated ([`page`]).
//!
//! The same query text runs on both databases (`backend::read!`/`write!` type-check it
//! against each); where the dialects differ, each gets its own text.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod backend;
mod batch;
mod blobs;
mod components;
mod customers;
mod eager;
mod error;
mod executions;
mod instances;
mod integrations;
mod json_text;
mod limits;
mod notify;
mod organizations;
pub mod page;
mod records;
mod retention;
mod routing;
mod runs;
mod schedules;
pub mod secrets;
mod statistics;
mod targets;
mod test_instances;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod unnest;
mod users;

use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use uuid::Uuid;

use backend::Backend;

pub use blobs::BLOB_THRESHOLD;
pub use components::NewComponentVersion;
pub use customers::{CustomerFilter, CustomerSortField};
pub use eager::{Entry, Holder};
pub use error::StoreError;
pub use executions::{Enqueued, ExecutionFilter, NewExecution, WebhookTarget, DEDUPE_WINDOW};
pub use instances::{InstanceFilter, NewInstance, VersionChange};
pub use integrations::{IntegrationDraft, IntegrationFilter, IntegrationSortField};
pub use limits::ConcurrencyLimits;
pub use notify::QueueListener;
pub use organizations::Bootstrapped;
pub use organizations::{check_retention_days, MAX_RETENTION_DAYS};
pub use page::{Direction, Page, PageRequest, Sort};
pub use records::LogFilter;
pub use retention::{PruneScope, Pruned};
pub use runs::{Claimed, EndRecords, Ending, LeaseState, SentEnd, Standing, StateWrite};
pub use schedules::{Cadence, NewSchedule, Schedule, Tick, TickOutcome};
pub use targets::FRESH_FOR as WEBHOOK_TARGET_FRESH_FOR;
pub use test_instances::DraftShape;
pub use tokens::{Authenticated, NewToken};
pub use users::{UserFilter, UserKind, UserSortField};

/// Whose data an operation may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    /// The organization.
    pub org_id: Uuid,
    /// For customer users: the one customer they may see.
    pub customer_id: Option<Uuid>,
}

impl Tenant {
    /// The whole organization.
    pub fn organization(org_id: Uuid) -> Self {
        Self {
            org_id,
            customer_id: None,
        }
    }

    /// One customer of the organization.
    pub fn customer(org_id: Uuid, customer_id: Uuid) -> Self {
        Self {
            org_id,
            customer_id: Some(customer_id),
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Connections in the pool (PostgreSQL) or reader connections (SQLite).
    pub max_connections: u32,
}

impl StoreOptions {
    /// Options for `url` with the default pool size.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) sealer: Option<std::sync::Arc<secrets::Sealer>>,
    pub(crate) limits: ConcurrencyLimits,
    /// Group commit of the hot path's writes ([`batch`]).
    pub(crate) batcher: batch::Batcher,
    /// The webhook targets read lately ([`targets`]).
    pub(crate) targets: targets::TargetCache,
    /// The rows this node added to tables that fill fast ([`statistics`]).
    pub(crate) filling: std::sync::Arc<statistics::Filling>,
}

impl Store {
    /// Connects to the database named by `options.url` and applies pending migrations.
    pub async fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        let url = options.url.as_str();
        let backend = if url.starts_with("sqlite:") {
            backend::open_sqlite(url, options.max_connections).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)?;
            backend::open_postgres(connect, options.max_connections).await?
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        Store::on(backend)
    }

    /// Connects to PostgreSQL with prepared options (tests use this to pick a schema).
    pub async fn open_postgres(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        let backend = backend::open_postgres(options, max_connections).await?;
        Store::on(backend)
    }

    /// A store on an open backend, with its group-commit writer started.
    fn on(backend: Backend) -> Result<Store, StoreError> {
        Ok(Store {
            batcher: batch::Batcher::start(backend.clone())?,
            backend,
            sealer: None,
            limits: ConcurrencyLimits::default(),
            targets: targets::TargetCache::default(),
            filling: Default::default(),
        })
    }

    /// The store, sealing secrets with `sealer` (without one, writing a secret is refused).
    pub fn with_sealer(self, sealer: secrets::Sealer) -> Store {
        Store {
            sealer: Some(std::sync::Arc::new(sealer)),
            ..self
        }
    }

    /// The store, whose claims keep to `limits` (executions over them stay queued).
    pub fn with_concurrency_limits(self, limits: ConcurrencyLimits) -> Store {
        Store { limits, ..self }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        backend::write!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Counts `rows` added to the tables `growth` (one of [`Store::filling`]'s) counts, which
    /// analyzes them as they fill, on PostgreSQL ([`statistics`]).
    pub(crate) fn added(
        &self,
        growth: fn(&statistics::Filling) -> &statistics::Growth,
        rows: usize,
    ) {
        if let Backend::Postgres(pool) = &self.backend {
            growth(&self.filling).added(pool, rows);
        }
    }

    /// Closes every connection; in-flight operations finish first.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pools) => {
                pools.reader.close().await;
                pools.writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// Hides a password in a URL before it goes into a message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A new time-ordered id.
pub(crate) fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Now, truncated to microseconds so that SQLite and PostgreSQL give back the same value.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
