//! Migrations that move data, on SQLite and PostgreSQL alike: a database an older version
//! left keeps every value through them.

use std::time::Duration;

use ferry_core::execution::{LogLine, Severity};
use ferry_store::testing::{
    execute_raw, fixture, query_text, step_result, stored_sizes, TestStore,
};
use ferry_store::{EndRecords, Ending, LogFilter, PageRequest, Store, StoreOptions};
use serde_json::json;

ferry_store::store_tests!(
    migration_22_moves_trigger_payloads_out_of_the_executions_row,
    migration_24_keys_log_lines_by_organization,
    executions_have_only_the_indexes_their_queries_read,
);

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
            // (The migrations after it go too: 24 to 27, and PostgreSQL's 23.)
            "DELETE FROM _sqlx_migrations WHERE version >= 22",
        ],
    )
    .await;

    // Opening the store runs migration 22 (and those after it) again.
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

/// The log lines' table as it was before migration 24, keyed by `id` alone and indexed by
/// organization, with the rows it holds now.
const LOGS_BEFORE_24_SQLITE: [&str; 6] = [
    "CREATE TABLE execution_logs_by_id (org_id BLOB NOT NULL, id BLOB PRIMARY KEY NOT NULL, \
     execution_id BLOB NOT NULL REFERENCES executions (id) ON DELETE CASCADE, \
     severity TEXT NOT NULL, message TEXT NOT NULL, step_name TEXT, at TEXT NOT NULL)",
    "INSERT INTO execution_logs_by_id SELECT org_id, id, execution_id, severity, message, \
     step_name, at FROM execution_logs",
    "DROP TABLE execution_logs",
    "ALTER TABLE execution_logs_by_id RENAME TO execution_logs",
    "CREATE INDEX execution_logs_execution ON execution_logs (execution_id, id)",
    "CREATE INDEX execution_logs_org ON execution_logs (org_id, id)",
];
const LOGS_BEFORE_24_POSTGRES: [&str; 3] = [
    "ALTER TABLE execution_logs DROP CONSTRAINT execution_logs_pkey",
    "ALTER TABLE execution_logs ADD PRIMARY KEY (id)",
    "CREATE INDEX execution_logs_org ON execution_logs (org_id, id)",
];

async fn migration_24_keys_log_lines_by_organization(t: &TestStore) {
    let f = fixture(&t.store, &["f"]).await;
    let new = f.execution("f", json!({}));
    let id = t.store.enqueue_execution(&f.org, new).await.unwrap().id;
    let lines = ["first", "second"].map(|m| LogLine::new(id, Severity::Info, m, Some("S")));
    let step = step_result(id, "s:", json!(1));
    t.store
        .record_step(f.org.org_id, &step, &lines)
        .await
        .unwrap();

    let sqlite = t.url.starts_with("sqlite:");
    let mut statements: Vec<&str> = if sqlite {
        LOGS_BEFORE_24_SQLITE.to_vec()
    } else {
        LOGS_BEFORE_24_POSTGRES.to_vec()
    };
    statements.push("DELETE FROM _sqlx_migrations WHERE version = 24");
    execute_raw(&t.store, &statements).await;

    // Opening the store runs migration 24 again: the lines read back, by execution and by
    // organization.
    let reopened = Store::open(&StoreOptions::new(&t.url)).await.unwrap();
    let first = PageRequest::first_page();
    for execution_id in [Some(id), None] {
        let filter = LogFilter {
            execution_id,
            severities: vec![],
        };
        let page = reopened.logs(&f.org, &filter, &first).await.unwrap();
        let read: Vec<&str> = page.items.iter().map(|l| l.0.message.as_str()).collect();
        assert_eq!(
            read,
            ["first", "second"],
            "execution filter {execution_id:?}"
        );
        assert_eq!(reopened.count_logs(&f.org, &filter).await.unwrap(), 2);
    }

    // Keyed by (org_id, id), without the index by organization.
    let by_org = "SELECT CAST(COUNT(*) AS TEXT) FROM execution_logs WHERE org_id IS NOT NULL";
    assert_eq!(query_text(&reopened, by_org).await, "2");
    let keys = if sqlite {
        "SELECT group_concat(name, ',') FROM pragma_index_info(\
         (SELECT name FROM pragma_index_list('execution_logs') WHERE origin = 'pk'))"
    } else {
        "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum)) \
         FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = 'execution_logs'::regclass AND i.indisprimary"
    };
    assert_eq!(query_text(&reopened, keys).await, "org_id,id");
    let indexes = if sqlite {
        "SELECT group_concat(name, ',') FROM \
         (SELECT name FROM pragma_index_list('execution_logs') WHERE origin = 'c' ORDER BY name)"
    } else {
        "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
         WHERE tablename = 'execution_logs' AND indexname <> 'execution_logs_pkey' \
         AND schemaname = current_schema()"
    };
    assert_eq!(
        query_text(&reopened, indexes).await,
        "execution_logs_execution"
    );
    if sqlite {
        let table = "SELECT sql FROM sqlite_master WHERE name = 'execution_logs'";
        assert!(query_text(&reopened, table).await.contains("WITHOUT ROWID"));
    }
}

/// Every index on `executions` costs each queued execution an entry (or, for the partial
/// ones, each execution that matches): these are the ones a query reads (migrations 20, 25,
/// 26 and 27 dropped or narrowed the others). A new index belongs here with the query it serves.
async fn executions_have_only_the_indexes_their_queries_read(t: &TestStore) {
    let indexes = if t.url.starts_with("sqlite:") {
        "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_list('executions') \
         WHERE origin = 'c' ORDER BY name)"
    } else {
        "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
         WHERE tablename = 'executions' AND indexname <> 'executions_pkey' \
         AND schemaname = current_schema()"
    };
    let mut expected = vec![
        "executions_cancellation",
        "executions_flow_config_unfinished",
        "executions_instance_status",
        "executions_leased",
        "executions_queued",
        "executions_replay_for",
        "executions_retry_for",
    ];
    if !t.url.starts_with("sqlite:") {
        // PostgreSQL only (migration 27): old row versions leave dead entries in the partial
        // indexes on status, so the retry-chain update gets one of its own.
        expected.push("executions_retry_pending");
    }
    assert_eq!(query_text(&t.store, indexes).await, expected.join(","));
}
