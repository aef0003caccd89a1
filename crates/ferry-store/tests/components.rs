//! Custom components and their versions in the store, on SQLite and PostgreSQL alike.

use ferry_store::testing::TestStore;
use ferry_store::{NewComponentVersion, StoreError, Tenant};

ferry_store::store_tests!(
    publishing_numbers_versions_and_keeps_bundle_and_manifest,
    concurrent_publishes_of_one_component_get_distinct_numbers,
    components_belong_to_their_organization,
);

async fn org(store: &TestStore, name: &str) -> Tenant {
    let boot = store
        .store
        .bootstrap(name, &format!("owner@{name}.test"))
        .await
        .unwrap()
        .unwrap();
    Tenant::organization(boot.organization.id)
}

fn version(key: &str, label: &str) -> NewComponentVersion {
    NewComponentVersion {
        key: key.into(),
        label: label.into(),
        description: format!("{label} things"),
        manifest: format!(r#"{{"key":"{key}"}}"#),
        bundle: format!("export default 1; // {label}"),
        comment: " first ".into(),
    }
}

async fn publishing_numbers_versions_and_keeps_bundle_and_manifest(t: &TestStore) {
    let org = org(t, "Acme").await;
    let first = t
        .store
        .publish_component(&org, version("crm", "CRM"), None)
        .await
        .unwrap();
    assert_eq!((first.version_number, first.comment.as_str()), (1, "first"));
    let second = t
        .store
        .publish_component(&org, version("crm", "CRM v2"), None)
        .await
        .unwrap();
    assert_eq!(second.version_number, 2);
    assert_eq!(second.component_id, first.component_id);
    let component = t.store.custom_component(&org, "crm").await.unwrap();
    assert_eq!(
        (component.label.as_str(), component.latest_version),
        ("CRM v2", 2)
    );
    let versions = t.store.component_versions(&org, "crm").await.unwrap();
    let numbers: Vec<i32> = versions.iter().map(|v| v.version_number).collect();
    assert_eq!(numbers, [2, 1]);
    let one = t.store.component_version(&org, "crm", 1).await.unwrap();
    assert_eq!(one.bundle, "export default 1; // CRM");
    assert_eq!(one.manifest, r#"{"key":"crm"}"#);
    let missing = t.store.component_version(&org, "crm", 3).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }));
    let all = t.store.custom_components(&org).await.unwrap();
    assert_eq!(all.len(), 1);
}

async fn concurrent_publishes_of_one_component_get_distinct_numbers(t: &TestStore) {
    let org = org(t, "Acme").await;
    let publishes = (0..5).map(|_| {
        let store = t.store.clone();
        tokio::spawn(async move {
            store
                .publish_component(&org, version("crm", "CRM"), None)
                .await
        })
    });
    let mut numbers: Vec<i32> = futures::future::join_all(publishes)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().version_number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}

async fn components_belong_to_their_organization(t: &TestStore) {
    let acme = org(t, "Acme").await;
    t.store
        .publish_component(&acme, version("crm", "CRM"), None)
        .await
        .unwrap();
    let other = Tenant::organization(uuid::Uuid::now_v7());
    assert!(t.store.custom_components(&other).await.unwrap().is_empty());
    assert!(t.store.component_version(&other, "crm", 1).await.is_err());
}
