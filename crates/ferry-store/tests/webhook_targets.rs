//! What a webhook URL leads to, read through the node's cache of targets: this node's changes
//! show at once, another node's within `WEBHOOK_TARGET_FRESH_FOR`; on SQLite and PostgreSQL.

use ferry_store::testing::{fixture, TestStore};
use ferry_store::{Store, StoreOptions, WEBHOOK_TARGET_FRESH_FOR};
use std::time::Duration;

ferry_store::store_tests!(
    a_webhook_target_names_its_instance_and_every_flow_config,
    this_node_s_changes_reach_its_webhooks_at_once,
    another_node_s_changes_reach_webhooks_within_the_freshness_bound,
);

async fn a_webhook_target_names_its_instance_and_every_flow_config(t: &TestStore) {
    let f = fixture(&t.store, &["Orders", "Refunds"]).await;
    let orders = f.instance.flow_configs[0].clone();
    let target = t.store.webhook_target(orders.id).await.unwrap().unwrap();
    assert_eq!(target.instance_id, f.instance.id);
    assert_eq!(target.customer_id, f.customer);
    assert_eq!(target.flow_config_id, orders.id);
    assert_eq!(target.flow_key, orders.flow_key);
    assert!(target.enabled);
    let mut keys: Vec<&str> = target
        .flow_configs
        .iter()
        .map(|c| c.flow_key.as_str())
        .collect();
    keys.sort();
    assert_eq!(keys, ["Orders", "Refunds"]);
    let unknown = uuid::Uuid::new_v4();
    assert!(t.store.webhook_target(unknown).await.unwrap().is_none());
}

async fn this_node_s_changes_reach_its_webhooks_at_once(t: &TestStore) {
    let (store, f) = (&t.store, fixture(&t.store, &["Orders"]).await);
    let flow_config = f.instance.flow_configs[0].id;
    let read = || async { store.webhook_target(flow_config).await.unwrap() };
    assert!(read().await.unwrap().enabled, "read once, so it is cached");

    let id = f.instance.id;
    store
        .update_instance(&f.org, id, None, None, Some(false))
        .await
        .unwrap();
    assert!(!read().await.unwrap().enabled, "paused");
    store
        .update_instance(&f.org, id, Some("Renamed"), None, Some(true))
        .await
        .unwrap();
    let target = read().await.unwrap();
    assert!(target.enabled, "resumed");
    assert_eq!(target.instance_name, "Renamed");

    let keys = vec!["k-1".to_string()];
    store
        .set_flow_api_keys(&f.org, flow_config, &keys)
        .await
        .unwrap();
    assert_eq!(read().await.unwrap().api_keys, keys);

    store.delete_instance(&f.org, id).await.unwrap();
    assert!(read().await.is_none(), "deleted");
}

async fn another_node_s_changes_reach_webhooks_within_the_freshness_bound(t: &TestStore) {
    let (node_a, f) = (&t.store, fixture(&t.store, &["Orders"]).await);
    let node_b = Store::open(&StoreOptions::new(&t.url)).await.unwrap();
    let flow_config = f.instance.flow_configs[0].id;
    let target = node_b.webhook_target(flow_config).await.unwrap().unwrap();
    assert!(target.enabled);

    node_a
        .update_instance(&f.org, f.instance.id, None, None, Some(false))
        .await
        .unwrap();
    let on_a = node_a.webhook_target(flow_config).await.unwrap().unwrap();
    assert!(!on_a.enabled, "the node that paused it sees it at once");

    tokio::time::sleep(WEBHOOK_TARGET_FRESH_FOR + Duration::from_millis(50)).await;
    let on_b = node_b.webhook_target(flow_config).await.unwrap().unwrap();
    assert!(
        !on_b.enabled,
        "the other node sees it once its copy is stale"
    );
}
