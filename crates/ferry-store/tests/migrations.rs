//! Migrations that move data, on SQLite and PostgreSQL alike: a database an older version
//! left keeps every value through them.

use std::time::Duration;

use ferry_store::testing::{execute_raw, fixture, stored_sizes, TestStore};
use ferry_store::{EndRecords, Ending, Store, StoreOptions};
use serde_json::json;

ferry_store::store_tests!(migration_22_moves_trigger_payloads_out_of_the_executions_row);

async fn migration_22_moves_trigger_payloads_out_of_the_executions_row(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let payload = json!({ "body": { "data": { "order": 7, "items": ["a", "b"] } } });
    let new = f.execution("f", payload.clone());
    let id = t.store.enqueue_execution(&f.org, new).await.unwrap().id;

    // The database as it was before migration 22: the payload in the executions row.
    let column_type = if t.url.starts_with("sqlite:") {
        "TEXT"
    } else {
        "JSONB"
    };
    let add_column = format!("ALTER TABLE executions ADD COLUMN trigger_payload {column_type}");
    execute_raw(
        &t.store,
        &[
            &add_column,
            "UPDATE executions SET trigger_payload = \
             (SELECT data FROM execution_payloads p WHERE p.execution_id = executions.id)",
            "DROP TABLE execution_payloads",
            // (PostgreSQL's migration 23, which came after, goes too.)
            "DELETE FROM _sqlx_migrations WHERE version >= 22",
        ],
    )
    .await;

    // Opening the store runs migration 22 (and 23) again.
    let reopened = Store::open(&StoreOptions::new(&t.url)).await.unwrap();
    let execution = reopened.execution(&f.org, id).await.unwrap();
    assert_eq!(execution.trigger_payload, payload);
    let (row, _, blobs) = stored_sizes(&reopened, id).await;
    // (PostgreSQL writes JSONB out with spaces.)
    let written = payload.to_string().len() as i64;
    assert!(
        row >= written,
        "the payload has a row of its own ({row} bytes)"
    );
    assert_eq!(blobs, 0);
}

/// The JSON columns PostgreSQL's migration 23 turns from `jsonb` into `json`.
const JSON_COLUMNS: [(&str, &str); 6] = [
    ("execution_payloads", "data"),
    ("blobs", "data"),
    ("step_results", "results"),
    ("step_results", "effects"),
    ("executions", "result"),
    ("flow_state", "value"),
];

/// PostgreSQL only: SQLite always kept JSON as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_23_keeps_the_values_postgresql_stored_as_jsonb() {
    let Some(t) = ferry_store::testing::postgres().await else {
        return;
    };
    let f = fixture(&t.store, &["f"]).await;
    let payload = json!({ "body": { "order": 7, "items": ["a", "b"] } });
    let id = t
        .store
        .enqueue_execution(&f.org, f.execution("f", payload.clone()))
        .await
        .unwrap()
        .id;
    let lease = Duration::from_secs(30);
    t.store.claim_executions("w", 1, lease).await.unwrap();
    let ending = Ending::succeeded(Some(json!({ "total": 12.5 })));
    let records = EndRecords::default();
    let ended = t
        .store
        .finish_execution(f.org.org_id, id, "w", &ending, records);
    assert!(ended.await.unwrap());

    // The database as it was before migration 23: the same values, as `jsonb`.
    let mut statements: Vec<String> = JSON_COLUMNS
        .iter()
        .map(|(table, column)| format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb"))
        .collect();
    statements.push("DELETE FROM _sqlx_migrations WHERE version = 23".into());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    execute_raw(&t.store, &statements).await;

    // Opening the store runs migration 23 again.
    let reopened = Store::open(&StoreOptions::new(&t.url)).await.unwrap();
    let execution = reopened.execution(&f.org, id).await.unwrap();
    assert_eq!(execution.trigger_payload, payload);
    assert_eq!(execution.result, Some(json!({ "total": 12.5 })));
    for (table, column) in JSON_COLUMNS {
        let kind = column_type(&reopened, table, column).await;
        assert_eq!(kind, "json", "{table}.{column}");
    }
}

/// The type of `table.column` in the test's schema.
async fn column_type(store: &Store, table: &str, column: &str) -> String {
    let sql = format!(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = to_regclass('{table}') AND attname = '{column}'"
    );
    ferry_store::testing::query_text(store, &sql).await
}
