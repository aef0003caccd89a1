//! Instances in the store, on SQLite and PostgreSQL alike.

use ferry_core::entity::NewCustomer;
use ferry_core::instance::ConfigValue;
use ferry_store::testing::TestStore;
use ferry_store::{
    InstanceFilter, IntegrationDraft, NewInstance, PageRequest, StoreError, Tenant, VersionChange,
};
use uuid::Uuid;

ferry_store::store_tests!(
    instances_keep_values_and_flow_configs_with_secrets_sealed,
    customer_users_reach_only_their_instances,
    version_changes_carry_renamed_flows_and_values,
    integrations_with_instances_cannot_be_deleted,
);

struct Setup {
    org: Tenant,
    customer: Uuid,
    version: Uuid,
    integration: Uuid,
}

async fn setup(t: &TestStore) -> Setup {
    let boot = t
        .store
        .bootstrap("Acme", "owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    let org = Tenant::organization(boot.organization.id);
    let customer = t
        .store
        .create_customer(
            &org,
            NewCustomer {
                name: "Mars".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let draft = IntegrationDraft {
        name: "Orders".into(),
        description: String::new(),
        definition: "v1".into(),
        shape: Default::default(),
    };
    let integration = t.store.create_integration(&org, draft).await.unwrap();
    let version = t
        .store
        .publish_integration(&org, integration.id, "", None)
        .await
        .unwrap();
    Setup {
        org,
        customer: customer.id,
        version: version.id,
        integration: integration.id,
    }
}

fn value(key: &str, value: &str, is_secret: bool) -> ConfigValue {
    ConfigValue {
        key: key.into(),
        value: value.into(),
        is_secret,
    }
}

fn new_instance(s: &Setup, name: &str) -> NewInstance {
    NewInstance {
        customer_id: s.customer,
        version_id: s.version,
        name: name.into(),
        description: String::new(),
        config_values: vec![
            value("acme-api-key", r#"{"apiKey":"s3cret"}"#, true),
            value("Base URL", "https://x.test", false),
        ],
        flow_keys: vec!["new-order".into(), "Nightly Sync".into()],
    }
}

async fn instances_keep_values_and_flow_configs_with_secrets_sealed(t: &TestStore) {
    let s = setup(t).await;
    let created = t
        .store
        .create_instance(&s.org, new_instance(&s, "Orders for Mars"))
        .await
        .unwrap();
    assert!(created.enabled);
    assert_eq!(created.integration_id, s.integration);
    assert_eq!(created.flow_configs.len(), 2);
    assert_eq!(
        created.config_values[1],
        value("acme-api-key", r#"{"apiKey":"s3cret"}"#, true)
    );
    let raw = raw_values(t, created.id).await;
    assert!(
        raw.iter().any(|v| v.starts_with("v1:")),
        "secrets are sealed at rest: {raw:?}"
    );
    assert!(!raw.iter().any(|v| v.contains("s3cret")), "{raw:?}");
    let err = t
        .store
        .create_instance(&s.org, new_instance(&s, "Orders for Mars"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err}"
    );

    let updated = t
        .store
        .set_config_values(
            &s.org,
            created.id,
            &[value("Base URL", "https://y.test", false)],
        )
        .await
        .unwrap();
    assert_eq!(
        updated
            .config_values
            .iter()
            .find(|v| v.key == "Base URL")
            .unwrap()
            .value,
        "https://y.test"
    );
    let paused = t
        .store
        .update_instance(
            &s.org,
            created.id,
            None,
            Some("paused for now"),
            Some(false),
        )
        .await
        .unwrap();
    assert!(!paused.enabled);
    assert_eq!(paused.description, "paused for now");
    assert!(paused.last_deployed_at.is_none());
    let deployed = t.store.mark_deployed(&s.org, created.id).await.unwrap();
    assert!(deployed.last_deployed_at.is_some());
    let page = PageRequest::first_page();
    let enabled = InstanceFilter {
        enabled: Some(true),
        is_system: Some(false),
        ..Default::default()
    };
    assert_eq!(
        t.store
            .instances(&s.org, &enabled, &page)
            .await
            .unwrap()
            .items
            .len(),
        0
    );
    let system = InstanceFilter {
        is_system: Some(false),
        ..Default::default()
    };
    assert_eq!(t.store.count_instances(&s.org, &system).await.unwrap(), 1);
    t.store.delete_instance(&s.org, created.id).await.unwrap();
    assert!(matches!(
        t.store.instance(&s.org, created.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn raw_values(t: &TestStore, instance: Uuid) -> Vec<String> {
    // Read around the store's API on purpose: this test checks what is on disk.
    let url = t.url.clone();
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT value FROM instance_config_values WHERE instance_id = $1")
            .bind(instance)
            .fetch_all(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT value FROM instance_config_values WHERE instance_id = $1")
            .bind(instance)
            .fetch_all(&pool)
            .await
            .unwrap()
    }
}

async fn customer_users_reach_only_their_instances(t: &TestStore) {
    let s = setup(t).await;
    let mine = t
        .store
        .create_instance(&s.org, new_instance(&s, "Mine"))
        .await
        .unwrap();
    let other = t
        .store
        .create_customer(
            &s.org,
            NewCustomer {
                name: "Venus".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let theirs = t
        .store
        .create_instance(
            &s.org,
            NewInstance {
                customer_id: other.id,
                ..new_instance(&s, "Theirs")
            },
        )
        .await
        .unwrap();
    let me = Tenant::customer(s.org.org_id, s.customer);
    let seen = t
        .store
        .instances(&me, &InstanceFilter::default(), &PageRequest::first_page())
        .await
        .unwrap();
    assert_eq!(
        seen.items.iter().map(|(i, _)| i.id).collect::<Vec<_>>(),
        [mine.id]
    );
    assert!(matches!(
        t.store.instance(&me, theirs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let err = t
        .store
        .create_instance(
            &me,
            NewInstance {
                customer_id: other.id,
                ..new_instance(&s, "Sneaky")
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "customer" }),
        "{err}"
    );
    t.store.delete_customer(&s.org, other.id).await.unwrap();
    assert!(
        matches!(
            t.store.instance(&s.org, theirs.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "deleting a customer deletes its instances"
    );
}

async fn version_changes_carry_renamed_flows_and_values(t: &TestStore) {
    let s = setup(t).await;
    let created = t
        .store
        .create_instance(&s.org, new_instance(&s, "Orders"))
        .await
        .unwrap();
    let nightly = created
        .flow_configs
        .iter()
        .find(|f| f.flow_key == "Nightly Sync")
        .unwrap()
        .id;
    let v2 = t
        .store
        .publish_integration(&s.org, s.integration, "", None)
        .await
        .unwrap();
    let change = VersionChange {
        version_id: v2.id,
        flow_keys: vec!["new-order".into(), "Hourly Sync".into(), "On Deploy".into()],
        flow_renames: vec![("Nightly Sync".into(), "Hourly Sync".into())],
        var_renames: vec![("Base URL".into(), "Acme URL".into())],
    };
    let moved = t
        .store
        .change_version(&s.org, created.id, &change)
        .await
        .unwrap();
    assert_eq!(moved.version_id, v2.id);
    let keys: Vec<&str> = moved
        .flow_configs
        .iter()
        .map(|f| f.flow_key.as_str())
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        moved
            .flow_configs
            .iter()
            .find(|f| f.flow_key == "Hourly Sync")
            .unwrap()
            .id,
        nightly,
        "a renamed flow keeps its webhook identity"
    );
    assert!(moved
        .config_values
        .iter()
        .any(|v| v.key == "Acme URL" && v.value == "https://x.test"));
    let back = VersionChange {
        version_id: s.version,
        flow_keys: vec!["new-order".into()],
        ..Default::default()
    };
    let rolled_back = t
        .store
        .change_version(&s.org, created.id, &back)
        .await
        .unwrap();
    assert_eq!(
        rolled_back.flow_configs.len(),
        1,
        "flows the version does not have lose their configs"
    );
    let other = t
        .store
        .create_integration(
            &s.org,
            IntegrationDraft {
                name: "Other".into(),
                description: String::new(),
                definition: "x".into(),
                shape: Default::default(),
            },
        )
        .await
        .unwrap();
    let foreign = t
        .store
        .publish_integration(&s.org, other.id, "", None)
        .await
        .unwrap();
    let wrong = VersionChange {
        version_id: foreign.id,
        ..Default::default()
    };
    assert!(matches!(
        t.store.change_version(&s.org, created.id, &wrong).await,
        Err(StoreError::Conflict {
            field: "version",
            ..
        })
    ));
}

async fn integrations_with_instances_cannot_be_deleted(t: &TestStore) {
    let s = setup(t).await;
    let created = t
        .store
        .create_instance(&s.org, new_instance(&s, "Orders"))
        .await
        .unwrap();
    let err = t
        .store
        .delete_integration(&s.org, s.integration)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has instances; delete them first"),
        "{err}"
    );
    t.store.delete_instance(&s.org, created.id).await.unwrap();
    t.store
        .delete_integration(&s.org, s.integration)
        .await
        .unwrap();
}

/// On PostgreSQL, the statistics of nearly empty instance tables (a new database, just
/// vacuumed) are taken again as the node creates its first thousand instances and schedules,
/// autovacuum or not. Otherwise every pooled connection would keep looking instances, their
/// flow configs and their schedules up by scanning whole tables, planned from "a few rows",
/// however large the tables grew. SQLite plans without such statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_instance_tables_get_statistics_of_their_size() {
    use futures::{StreamExt, TryStreamExt};

    let Some(t) = ferry_store::testing::postgres().await else {
        return;
    };
    let s = setup(&t).await;
    let tables = [
        "instances",
        "instance_flow_configs",
        "instance_config_values",
        "schedules",
    ];
    for table in tables {
        let statement = format!("ALTER TABLE {table} SET (autovacuum_enabled = false)");
        ferry_store::testing::execute_raw(&t.store, &[&statement]).await;
    }
    let vacuum = format!("VACUUM ANALYZE {}", tables.join(", "));
    ferry_store::testing::execute_raw(&t.store, &[&vacuum]).await;
    let counted = |table: &'static str| {
        let sql = format!("SELECT reltuples::text FROM pg_class WHERE oid = '{table}'::regclass");
        let store = &t.store;
        async move {
            let rows = ferry_store::testing::query_text(store, &sql).await;
            rows.parse::<f32>().unwrap()
        }
    };
    for table in tables {
        assert!(counted(table).await < 10.0, "{table}: a nearly empty table");
    }

    futures::stream::iter(0..1_050)
        .map(|n| {
            let (store, s) = (&t.store, &s);
            async move {
                let instance = store
                    .create_instance(&s.org, new_instance(s, &format!("instance {n}")))
                    .await?;
                let schedule = ferry_store::NewSchedule {
                    flow_config_id: instance.flow_configs[0].id,
                    cron: "* * * * *".into(),
                    timezone: "UTC".into(),
                    singleton: false,
                    next_fire_at: chrono::Utc::now(),
                };
                store
                    .replace_schedules(&s.org, instance.id, &[schedule])
                    .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();

    let waited = std::time::Instant::now();
    for table in tables {
        while counted(table).await < 1_000.0 && waited.elapsed().as_secs() < 10 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let rows = counted(table).await;
        assert!(rows >= 1_000.0, "{table}: the statistics say {rows} rows");
    }
}
