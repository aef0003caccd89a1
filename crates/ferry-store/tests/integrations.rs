//! Integrations and their versions in the store, on SQLite and PostgreSQL alike.

use ferry_store::testing::TestStore;
use ferry_store::{IntegrationDraft, IntegrationFilter, PageRequest, Sort, StoreError, Tenant};

ferry_store::store_tests!(
    drafts_are_created_and_replaced_with_unique_names,
    publishing_freezes_numbered_versions,
    concurrent_publishes_get_distinct_numbers,
    versions_can_be_made_unavailable_and_go_with_their_integration,
);

async fn org(store: &TestStore) -> Tenant {
    let boot = store
        .store
        .bootstrap("Acme", "owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    Tenant::organization(boot.organization.id)
}

fn draft(name: &str, text: &str) -> IntegrationDraft {
    IntegrationDraft {
        name: name.into(),
        description: format!("{name} does things"),
        definition: text.into(),
        shape: Default::default(),
    }
}

async fn drafts_are_created_and_replaced_with_unique_names(t: &TestStore) {
    let org = org(t).await;
    let created = t
        .store
        .create_integration(&org, draft("Orders", "v: 1"))
        .await
        .unwrap();
    assert_eq!(created.latest_version, None);
    let err = t
        .store
        .create_integration(&org, draft("Orders", "v: 2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err}"
    );
    let other = t
        .store
        .create_integration(&org, draft("Invoices", "v: 1"))
        .await
        .unwrap();
    let replaced = t
        .store
        .replace_draft(&org, created.id, draft("Orders v2", "v: 2"))
        .await
        .unwrap();
    assert_eq!(
        (replaced.name.as_str(), replaced.draft.as_str()),
        ("Orders v2", "v: 2")
    );
    assert!(replaced.updated_at >= created.updated_at);
    let err = t
        .store
        .replace_draft(&org, other.id, draft("Orders v2", "v: 3"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { field: "name", .. }));
    let page = PageRequest::first_page();
    let found = t
        .store
        .integrations(
            &org,
            &IntegrationFilter {
                name_contains: Some("ORDER".into()),
                ..Default::default()
            },
            Sort::default(),
            &page,
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(
        t.store
            .count_integrations(&org, &IntegrationFilter::default())
            .await
            .unwrap(),
        2
    );
    let customer = t
        .store
        .create_customer(
            &org,
            ferry_core::entity::NewCustomer {
                name: "C".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let as_customer = Tenant::customer(org.org_id, customer.id);
    assert!(matches!(
        t.store.integration(&as_customer, created.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn publishing_freezes_numbered_versions(t: &TestStore) {
    let org = org(t).await;
    let integration = t
        .store
        .create_integration(&org, draft("Orders", "first"))
        .await
        .unwrap();
    let v1 = t
        .store
        .publish_integration(&org, integration.id, " first cut ", None)
        .await
        .unwrap();
    assert_eq!(
        (
            v1.version_number,
            v1.comment.as_str(),
            v1.definition.as_str()
        ),
        (1, "first cut", "first")
    );
    t.store
        .replace_draft(&org, integration.id, draft("Orders", "second"))
        .await
        .unwrap();
    let v2 = t
        .store
        .publish_integration(&org, integration.id, "", None)
        .await
        .unwrap();
    assert_eq!((v2.version_number, v2.definition.as_str()), (2, "second"));
    assert_eq!(
        t.store
            .integration_version(&org, v1.id)
            .await
            .unwrap()
            .definition,
        "first",
        "published versions do not change"
    );
    assert_eq!(
        t.store
            .integration(&org, integration.id)
            .await
            .unwrap()
            .latest_version,
        Some(2)
    );
    let versions = t
        .store
        .integration_versions(&org, integration.id, None, &PageRequest::first_page())
        .await
        .unwrap();
    let numbers: Vec<i32> = versions
        .items
        .iter()
        .map(|(v, _)| v.version_number)
        .collect();
    assert_eq!(numbers, [2, 1], "newest first");
}

async fn concurrent_publishes_get_distinct_numbers(t: &TestStore) {
    let org = org(t).await;
    let integration = t
        .store
        .create_integration(&org, draft("Orders", "x"))
        .await
        .unwrap();
    let publishes = (0..6).map(|_| {
        let store = t.store.clone();
        tokio::spawn(async move {
            store
                .publish_integration(&org, integration.id, "", None)
                .await
        })
    });
    let mut numbers: Vec<i32> = futures::future::join_all(publishes)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().version_number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
}

async fn versions_can_be_made_unavailable_and_go_with_their_integration(t: &TestStore) {
    let org = org(t).await;
    let integration = t
        .store
        .create_integration(&org, draft("Orders", "x"))
        .await
        .unwrap();
    let v1 = t
        .store
        .publish_integration(&org, integration.id, "", None)
        .await
        .unwrap();
    t.store
        .publish_integration(&org, integration.id, "", None)
        .await
        .unwrap();
    let off = t
        .store
        .set_version_available(&org, v1.id, false)
        .await
        .unwrap();
    assert!(!off.is_available);
    let available = t
        .store
        .integration_versions(&org, integration.id, Some(true), &PageRequest::first_page())
        .await
        .unwrap();
    assert_eq!(available.items.len(), 1);
    assert_eq!(available.items[0].0.version_number, 2);
    t.store
        .delete_integration(&org, integration.id)
        .await
        .unwrap();
    assert!(matches!(
        t.store.integration_version(&org, v1.id).await,
        Err(StoreError::NotFound { .. })
    ));
}
