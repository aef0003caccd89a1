//! Migrations that move data, on SQLite and PostgreSQL alike: a database an older version
//! left keeps every value through them.

use ferry_store::testing::{execute_raw, fixture, stored_sizes, TestStore};
use ferry_store::{Store, StoreOptions};
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
            "DELETE FROM _sqlx_migrations WHERE version = 22",
        ],
    )
    .await;

    // Opening the store runs migration 22 again.
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
