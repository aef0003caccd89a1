//! Test helpers: a fresh store per test, on SQLite (a file in a temporary directory) or on
//! PostgreSQL (a schema of its own in the database named by `FERRY_TEST_DATABASE_URL`), so
//! that test runs never see each other's rows.
//!
//! When `FERRY_TEST_DATABASE_URL` is unset, [`postgres`] returns `None` and says so on stderr;
//! `.ci/run` always sets it, and there an unreachable server fails the test.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::{Store, StoreError, StoreOptions};

/// The variable naming the PostgreSQL server tests use.
pub const TEST_DATABASE_URL: &str = "FERRY_TEST_DATABASE_URL";

/// A store for one test, removed when dropped (SQLite) or at the next run (PostgreSQL).
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// Its URL, for tests that start a server on it.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("ferry.db").display());
    let store = Store::open(&StoreOptions::new(&url))
        .await
        .expect("open SQLite store")
        .with_sealer(test_sealer());
    TestStore {
        store,
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL store in its own schema, or `None` when no test server is configured.
pub async fn postgres() -> Option<TestStore> {
    postgres_with(&[]).await
}

/// A fresh PostgreSQL store like [`postgres`]'s whose connections run with `settings` (such
/// as `plan_cache_mode`): for tests of a statement under a plan PostgreSQL may choose by
/// itself only now and then.
pub async fn postgres_with(settings: &[(&str, &str)]) -> Option<TestStore> {
    let Ok(base) = std::env::var(TEST_DATABASE_URL) else {
        eprintln!("skipped on PostgreSQL: {TEST_DATABASE_URL} is not set");
        return None;
    };
    let schema = create_schema(&base)
        .await
        .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL}={}: {e}", crate::redact(&base)));
    let url = with_search_path(&base, &schema);
    let options = PgConnectOptions::from_str(&base)
        .expect("a PostgreSQL URL")
        .options([("search_path", schema.as_str())])
        .options(settings.iter().copied());
    let store = Store::open_postgres(options, 8)
        .await
        .expect("open PostgreSQL store")
        .with_sealer(test_sealer());
    Some(TestStore {
        store,
        url,
        _dir: None,
    })
}

fn test_sealer() -> crate::secrets::Sealer {
    crate::secrets::Sealer::new(&crate::secrets::MasterKey::generate())
}

/// Both stores, SQLite first; PostgreSQL only when configured.
pub async fn all() -> Vec<TestStore> {
    let mut stores = vec![sqlite().await];
    stores.extend(postgres().await);
    stores
}

/// Creates `ferry_test_<unix seconds>_<random>` and drops test schemas older than an hour.
async fn create_schema(base: &str) -> Result<String, StoreError> {
    let mut conn = PgConnection::connect(base).await?;
    let now = chrono::Utc::now().timestamp();
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ferry\\_test\\_%'",
    )
    .fetch_all(&mut conn)
    .await?;
    for name in stale {
        let created: i64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(now);
        if now - created > 3600 {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .execute(&mut conn)
                .await?;
        }
    }
    let schema = format!("ferry_test_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut conn)
        .await?;
    Ok(schema)
}

/// The base URL with `options=-c search_path=<schema>` added, for processes started by tests.
fn with_search_path(base: &str, schema: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// Declares, for each `async fn name(store: &TestStore)` named, two tests: `name::sqlite` and
/// `name::postgres`, so that every store test runs on both databases.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let store = $crate::testing::sqlite().await;
                    super::$name(&store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(store) = $crate::testing::postgres().await {
                        super::$name(&store).await;
                    }
                }
            }
        )*
    };
}

/// A step result `key` of execution `execution_id`: made now (its id and times, to the
/// microsecond, as stored), with `results`, no error and no effects.
pub fn step_result(
    execution_id: uuid::Uuid,
    key: &str,
    results: serde_json::Value,
) -> ferry_core::execution::StepResult {
    let at = ferry_core::execution::now_micros();
    ferry_core::execution::StepResult {
        id: uuid::Uuid::now_v7(),
        execution_id,
        step_key: key.into(),
        step_name: key.into(),
        loop_path: String::new(),
        results: Some(results),
        from_trigger: false,
        error: None,
        effects: Default::default(),
        started_at: at,
        ended_at: at,
    }
}

/// Runs `statements` as they are, in order, on the store's writer: for tests that put a
/// database back the way an older version left it.
pub async fn execute_raw(store: &Store, statements: &[&str]) {
    for statement in statements {
        let done: Result<(), StoreError> = crate::backend::write!(store, pool => {
            sqlx::raw_sql(statement).execute(pool).await.map(|_| ()).map_err(StoreError::from)
        });
        done.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The one text value the query `sql` reads, as it is, from the store's reader: for tests
/// that look at the database itself.
pub async fn query_text(store: &Store, sql: &str) -> String {
    let read: Result<String, StoreError> = crate::backend::read!(store, pool => {
        sqlx::query_scalar(sql).fetch_one(pool).await.map_err(StoreError::from)
    });
    read.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Makes every queued automatic retry due now: tests cannot wait the minutes between retries.
pub async fn make_retries_due(store: &Store) {
    let done: Result<u64, StoreError> = crate::backend::write!(store, pool => {
        sqlx::query("UPDATE executions SET not_before = NULL WHERE status = 'QUEUED' AND not_before IS NOT NULL")
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(StoreError::from)
    });
    done.expect("make retries due");
}

/// An organization with one customer and one instance of a published integration, for tests
/// that need executions: what [`fixture`] builds.
pub struct Fixture {
    /// The organization, as a tenant.
    pub org: crate::Tenant,
    /// The customer.
    pub customer: uuid::Uuid,
    /// The instance.
    pub instance: ferry_core::instance::Instance,
}

impl Fixture {
    /// A new asynchronous execution of the instance's flow `flow_key` (one of the fixture's
    /// flow keys), with `payload` as its trigger payload.
    pub fn execution(&self, flow_key: &str, payload: serde_json::Value) -> crate::NewExecution {
        let flow_config = self
            .instance
            .flow_configs
            .iter()
            .find(|config| config.flow_key == flow_key)
            .expect("a flow key of the fixture");
        crate::NewExecution {
            instance_id: self.instance.id,
            customer_id: self.customer,
            flow_config_id: flow_config.id,
            flow_key: flow_key.into(),
            is_synchronous: false,
            trigger_payload: payload.into(),
            invoked_by: None,
            replay_for: None,
            cancellation_key: None,
            fifo: false,
        }
    }
}

/// Bootstraps the store and creates a customer and an instance with a flow config per key in
/// `flow_keys` (its integration's definition text is a placeholder).
pub async fn fixture(store: &Store, flow_keys: &[&str]) -> Fixture {
    fixture_with(store, "v1", flow_keys).await
}

/// Like [`fixture`], with `definition` as the published version's text (for tests that run
/// the instance's flows).
pub async fn fixture_with(store: &Store, definition: &str, flow_keys: &[&str]) -> Fixture {
    let boot = store
        .bootstrap("Acme", "owner@acme.test")
        .await
        .expect("bootstrap")
        .expect("a fresh store");
    let org = crate::Tenant::organization(boot.organization.id);
    let customer = ferry_core::entity::NewCustomer {
        name: "Mars".into(),
        ..Default::default()
    };
    let customer = store
        .create_customer(&org, customer)
        .await
        .expect("customer");
    let draft = crate::IntegrationDraft {
        name: "Fixture".into(),
        description: String::new(),
        definition: definition.into(),
        shape: Default::default(),
    };
    let integration = store
        .create_integration(&org, draft)
        .await
        .expect("integration");
    let version = store
        .publish_integration(&org, integration.id, "", None)
        .await
        .expect("version");
    let new = crate::NewInstance {
        customer_id: customer.id,
        version_id: version.id,
        name: "Mars instance".into(),
        description: String::new(),
        config_values: vec![],
        flow_keys: flow_keys.iter().map(|k| k.to_string()).collect(),
    };
    let instance = store.create_instance(&org, new).await.expect("instance");
    Fixture {
        org,
        customer: customer.id,
        instance,
    }
}

/// What an execution's rows hold, for tests of the blob store: the bytes of its row in
/// `execution_payloads` (0 without one), the bytes of its step results' `results` columns, and its blobs.
pub async fn stored_sizes(store: &Store, execution_id: uuid::Uuid) -> (i64, i64, i64) {
    let sizes: Result<(i64, i64, i64), StoreError> = crate::backend::read!(store, pool => {
        sqlx::query_as(
            "SELECT CAST(COALESCE((SELECT LENGTH(CAST(data AS TEXT)) FROM execution_payloads WHERE execution_id = $1), 0) AS BIGINT), \
             (SELECT CAST(COALESCE(SUM(LENGTH(CAST(results AS TEXT))), 0) AS BIGINT) FROM step_results WHERE execution_id = $1), \
             (SELECT COUNT(*) FROM blobs WHERE execution_id = $1) FROM executions WHERE id = $1",
        )
        .bind(execution_id)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)
    });
    sizes.expect("stored sizes")
}
