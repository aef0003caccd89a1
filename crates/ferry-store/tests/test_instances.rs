//! Test instances in the store, on SQLite and PostgreSQL alike: each integration keeps one on
//! the organization's system customer, running a snapshot of its draft.

use ferry_core::entity::NewCustomer;
use ferry_core::instance::{ConfigValue, Instance};
use ferry_store::testing::TestStore;
use ferry_store::{
    CustomerFilter, DraftShape, InstanceFilter, IntegrationDraft, NewInstance, PageRequest, Sort,
    StoreError, Tenant, VersionChange,
};
use uuid::Uuid;

ferry_store::store_tests!(
    an_import_keeps_a_test_instance_on_the_system_customer,
    a_re_import_moves_the_test_instance_onto_the_new_draft,
    test_instances_go_with_their_integration_and_nowhere_else,
    a_real_test_customer_keeps_its_name_and_external_id,
    concurrent_first_imports_share_one_system_customer,
);

async fn org(t: &TestStore) -> Tenant {
    let boot = t
        .store
        .bootstrap("Acme", "owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    Tenant::organization(boot.organization.id)
}

fn draft(name: &str, text: &str, flows: &[&str]) -> IntegrationDraft {
    IntegrationDraft {
        name: name.into(),
        description: String::new(),
        definition: text.into(),
        shape: DraftShape {
            flow_keys: flows.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        },
    }
}

async fn test_instance(t: &TestStore, org: &Tenant, integration: Uuid) -> Instance {
    t.store
        .test_instance(org, integration)
        .await
        .unwrap()
        .expect("the integration has a test instance")
}

fn flow_config(instance: &Instance, key: &str) -> Option<Uuid> {
    instance
        .flow_configs
        .iter()
        .find(|f| f.flow_key == key)
        .map(|f| f.id)
}

async fn system_customers(t: &TestStore, org: &Tenant) -> Vec<String> {
    let filter = CustomerFilter {
        is_system: Some(true),
        ..Default::default()
    };
    let page = PageRequest::first_page();
    let found = t
        .store
        .customers(org, &filter, Sort::default(), &page)
        .await
        .unwrap();
    found.items.into_iter().map(|(c, _)| c.name).collect()
}

async fn an_import_keeps_a_test_instance_on_the_system_customer(t: &TestStore) {
    let org = org(t).await;
    let orders = t
        .store
        .create_integration(&org, draft("Orders", "draft 1", &["Sync", "Nightly"]))
        .await
        .unwrap();
    let test = test_instance(t, &org, orders.id).await;
    assert!(test.is_test);
    assert_eq!(test.name, "Orders", "named after its integration");
    let keys: Vec<&str> = test
        .flow_configs
        .iter()
        .map(|f| f.flow_key.as_str())
        .collect();
    assert_eq!(keys, ["Sync", "Nightly"], "one flow config per draft flow");

    let customer = t.store.customer(&org, test.customer_id).await.unwrap();
    assert!(customer.is_system);
    assert_eq!(customer.name, "Test Customer");
    assert_eq!(
        customer.external_id.as_deref(),
        Some("testCustomerExternalId")
    );

    let snapshot = t
        .store
        .instance_version(&org, test.version_id)
        .await
        .unwrap();
    assert!(snapshot.is_draft && !snapshot.is_available);
    assert_eq!(
        (snapshot.version_number, snapshot.definition.as_str()),
        (0, "draft 1")
    );
    assert!(
        matches!(
            t.store.integration_version(&org, test.version_id).await,
            Err(StoreError::NotFound { .. })
        ),
        "a draft snapshot is not a published version"
    );
    let page = PageRequest::first_page();
    let versions = t
        .store
        .integration_versions(&org, orders.id, None, &page)
        .await
        .unwrap();
    assert!(versions.items.is_empty(), "versions list published ones");
    assert_eq!(
        t.store
            .integration(&org, orders.id)
            .await
            .unwrap()
            .latest_version,
        None
    );
    let published = t
        .store
        .publish_integration(&org, orders.id, "", None)
        .await
        .unwrap();
    assert_eq!(published.version_number, 1, "numbers start at 1");

    let count = |is_system| {
        let filter = InstanceFilter {
            is_system: Some(is_system),
            ..Default::default()
        };
        let store = t.store.clone();
        async move { store.count_instances(&org, &filter).await.unwrap() }
    };
    assert_eq!((count(true).await, count(false).await), (1, 0));
}

async fn a_re_import_moves_the_test_instance_onto_the_new_draft(t: &TestStore) {
    let org = org(t).await;
    let orders = t
        .store
        .create_integration(&org, draft("Orders", "draft 1", &["sync", "Old Flow"]))
        .await
        .unwrap();
    let before = test_instance(t, &org, orders.id).await;
    let values = [ConfigValue {
        key: "Base URL".into(),
        value: "https://erp.test".into(),
        is_secret: false,
    }];
    t.store
        .set_config_values(&org, before.id, &values)
        .await
        .unwrap();

    let mut second = draft("Orders v2", "draft 2", &["sync", "Nightly Export"]);
    second.shape.flow_renames = vec![("Old Flow".into(), "Nightly Export".into())];
    second.shape.var_renames = vec![("Base URL".into(), "ERP URL".into())];
    t.store
        .replace_draft(&org, orders.id, second)
        .await
        .unwrap();

    let after = test_instance(t, &org, orders.id).await;
    assert_eq!(after.id, before.id, "the same instance");
    assert_eq!(after.name, "Orders v2", "renamed with its integration");
    assert_eq!(
        flow_config(&after, "sync"),
        flow_config(&before, "sync"),
        "a flow keeps its webhook URL across imports"
    );
    assert_eq!(
        flow_config(&after, "Nightly Export"),
        flow_config(&before, "Old Flow"),
        "a renamed flow keeps its webhook URL"
    );
    assert_eq!(after.flow_configs.len(), 2);
    assert_eq!(
        after.config_values,
        [ConfigValue {
            key: "ERP URL".into(),
            value: "https://erp.test".into(),
            is_secret: false,
        }],
        "values survive, renamed variables included"
    );
    let snapshot = t
        .store
        .instance_version(&org, after.version_id)
        .await
        .unwrap();
    assert_eq!(snapshot.definition, "draft 2");
    assert_ne!(
        after.version_id, before.version_id,
        "each import writes a new snapshot"
    );
    assert!(
        matches!(
            t.store.instance_version(&org, before.version_id).await,
            Err(StoreError::NotFound { .. })
        ),
        "the previous snapshot is gone"
    );

    t.store
        .replace_draft(&org, orders.id, draft("Orders v2", "draft 3", &["sync"]))
        .await
        .unwrap();
    let third = test_instance(t, &org, orders.id).await;
    assert_eq!(
        third
            .flow_configs
            .iter()
            .map(|f| f.flow_key.as_str())
            .collect::<Vec<_>>(),
        ["sync"],
        "flows the draft no longer has lose their configs"
    );
}

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, field: &str) {
    match result {
        Err(StoreError::Conflict { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected a conflict on {field}, got {other:?}"),
    }
}

async fn test_instances_go_with_their_integration_and_nowhere_else(t: &TestStore) {
    let org = org(t).await;
    let orders = t
        .store
        .create_integration(&org, draft("Orders", "draft", &["sync"]))
        .await
        .unwrap();
    let version = t
        .store
        .publish_integration(&org, orders.id, "", None)
        .await
        .unwrap();
    let test = test_instance(t, &org, orders.id).await;
    conflict(t.store.delete_instance(&org, test.id).await, "id");
    let change = VersionChange {
        version_id: version.id,
        flow_keys: vec!["sync".into()],
        ..Default::default()
    };
    conflict(
        t.store.change_version(&org, test.id, &change).await,
        "version",
    );
    conflict(t.store.delete_customer(&org, test.customer_id).await, "id");
    let on_system = NewInstance {
        customer_id: test.customer_id,
        version_id: version.id,
        name: "Sneaky".into(),
        description: String::new(),
        config_values: Vec::new(),
        flow_keys: Vec::new(),
    };
    conflict(t.store.create_instance(&org, on_system).await, "customer");
    let mars = t
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
    let on_draft = NewInstance {
        customer_id: mars.id,
        version_id: test.version_id,
        name: "Drafty".into(),
        description: String::new(),
        config_values: Vec::new(),
        flow_keys: Vec::new(),
    };
    assert!(
        matches!(
            t.store.create_instance(&org, on_draft).await,
            Err(StoreError::NotFound { .. })
        ),
        "customers' instances run published versions only"
    );

    let real = NewInstance {
        customer_id: mars.id,
        version_id: version.id,
        name: "Mars Orders".into(),
        description: String::new(),
        config_values: Vec::new(),
        flow_keys: vec!["sync".into()],
    };
    let real = t.store.create_instance(&org, real).await.unwrap();
    conflict(t.store.delete_integration(&org, orders.id).await, "id");
    assert!(
        t.store
            .test_instance(&org, orders.id)
            .await
            .unwrap()
            .is_some(),
        "a refused delete keeps the test instance"
    );
    t.store.delete_instance(&org, real.id).await.unwrap();
    t.store.delete_integration(&org, orders.id).await.unwrap();
    assert!(matches!(
        t.store.instance(&org, test.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        system_customers(t, &org).await,
        ["Test Customer"],
        "the system customer stays for later imports"
    );
}

async fn a_real_test_customer_keeps_its_name_and_external_id(t: &TestStore) {
    let org = org(t).await;
    t.store
        .create_customer(
            &org,
            NewCustomer {
                name: "Test Customer".into(),
                external_id: Some("testCustomerExternalId".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let orders = t
        .store
        .create_integration(&org, draft("Orders", "draft", &[]))
        .await
        .unwrap();
    let test = test_instance(t, &org, orders.id).await;
    let system = t.store.customer(&org, test.customer_id).await.unwrap();
    assert_eq!(
        (system.name.as_str(), system.external_id),
        ("Test Customer (system)", None)
    );
}

async fn concurrent_first_imports_share_one_system_customer(t: &TestStore) {
    let org = org(t).await;
    let (a, b) = tokio::join!(
        t.store
            .create_integration(&org, draft("Orders", "a", &["sync"])),
        t.store
            .create_integration(&org, draft("Invoices", "b", &["sync"])),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(system_customers(t, &org).await, ["Test Customer"]);
    let (ta, tb) = (
        test_instance(t, &org, a.id).await,
        test_instance(t, &org, b.id).await,
    );
    assert_eq!(ta.customer_id, tb.customer_id);
}
