//! Customers in the store, on SQLite and PostgreSQL alike.

use ferry_core::entity::{CustomerPatch, NewCustomer};
use ferry_store::testing::TestStore;
use ferry_store::{
    CustomerFilter, CustomerSortField, Direction, PageRequest, Sort, StoreError, Tenant,
};

ferry_store::store_tests!(
    names_and_external_ids_are_unique_per_organization,
    concurrent_creates_of_one_name_let_exactly_one_win,
    pages_walk_every_customer_once_in_every_sort,
    filters_combine,
    customer_users_see_only_their_customer,
    update_changes_only_given_fields,
    delete_removes_the_customer_and_its_users,
    cursors_are_checked_against_their_query,
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

fn customer(name: &str, external_id: &str) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        external_id: Some(external_id.into()),
        ..Default::default()
    }
}

async fn names_and_external_ids_are_unique_per_organization(t: &TestStore) {
    let org = org(t).await;
    let store = &t.store;
    store
        .create_customer(&org, customer("Mars Missions", "abc-123"))
        .await
        .unwrap();
    let err = store
        .create_customer(&org, customer("Mars Missions", "other"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err}"
    );
    let err = store
        .create_customer(&org, customer("Other", "abc-123"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "externalId",
                ..
            }
        ),
        "{err}"
    );
    // An empty external id means none, and many customers may have none.
    store
        .create_customer(&org, customer("No Id 1", ""))
        .await
        .unwrap();
    store
        .create_customer(&org, customer("No Id 2", ""))
        .await
        .unwrap();
    // Another organization may use the same names.
    let other = Tenant::organization(uuid::Uuid::now_v7());
    let err = store
        .create_customer(&other, customer("Mars Missions", "abc-123"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Database(_)),
        "no such organization: {err}"
    );
}

async fn concurrent_creates_of_one_name_let_exactly_one_win(t: &TestStore) {
    let org = org(t).await;
    let attempts = (0..8).map(|i| {
        let store = t.store.clone();
        tokio::spawn(async move {
            store
                .create_customer(&org, customer("Race", &format!("race-{i}")))
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::Conflict { field: "name", .. }))))
        .count();
    assert_eq!((won, conflicts), (1, 7));
}

async fn pages_walk_every_customer_once_in_every_sort(t: &TestStore) {
    let org = org(t).await;
    for i in 0..23 {
        // Names collide on purpose in sort order only through case; ids break ties.
        store_create(t, &org, &format!("Customer {:02}", (i * 7) % 23)).await;
    }
    let fields = [
        CustomerSortField::Id,
        CustomerSortField::Name,
        CustomerSortField::CreatedAt,
        CustomerSortField::ExternalId,
    ];
    for field in fields {
        for direction in [Direction::Asc, Direction::Desc] {
            let sort = Sort { field, direction };
            let mut seen = Vec::new();
            let mut after = Some(String::new());
            loop {
                let page = PageRequest::new(Some(5), after.clone()).unwrap();
                let got = t
                    .store
                    .customers(&org, &CustomerFilter::default(), sort, &page)
                    .await
                    .unwrap();
                seen.extend(got.items.iter().map(|(c, _)| c.name.clone()));
                if !got.has_next_page {
                    break;
                }
                after = got.end_cursor().map(str::to_string);
            }
            assert_eq!(seen.len(), 23, "{field:?} {direction:?}");
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 23, "{field:?} {direction:?}");
            if field == CustomerSortField::Name {
                let mut expected = unique.clone();
                if direction == Direction::Desc {
                    expected.reverse();
                }
                assert_eq!(seen, expected);
            }
        }
    }
    assert_eq!(
        t.store
            .count_customers(&org, &CustomerFilter::default())
            .await
            .unwrap(),
        23
    );
}

async fn store_create(t: &TestStore, org: &Tenant, name: &str) -> ferry_core::entity::Customer {
    t.store
        .create_customer(
            org,
            NewCustomer {
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

async fn filters_combine(t: &TestStore) {
    let org = org(t).await;
    let new = |name: &str, labels: &[&str], is_system: bool| NewCustomer {
        name: name.into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        is_system,
        ..Default::default()
    };
    t.store
        .create_customer(&org, new("Gold EU", &["Gold", "EU"], false))
        .await
        .unwrap();
    t.store
        .create_customer(&org, new("Gold US", &["gold", "us"], false))
        .await
        .unwrap();
    t.store
        .create_customer(&org, new("Test 100%_", &[], true))
        .await
        .unwrap();
    let names = |filter: CustomerFilter| async move {
        let page = PageRequest::first_page();
        let got = t
            .store
            .customers(&org, &filter, Sort::default(), &page)
            .await
            .unwrap();
        got.items
            .into_iter()
            .map(|(c, _)| c.name)
            .collect::<Vec<_>>()
    };
    let gold = CustomerFilter {
        labels: vec!["GOLD".into()],
        ..Default::default()
    };
    assert_eq!(names(gold).await, ["Gold EU", "Gold US"]);
    let gold_eu = CustomerFilter {
        labels: vec!["gold".into(), "eu".into()],
        ..Default::default()
    };
    assert_eq!(names(gold_eu).await, ["Gold EU"]);
    assert_eq!(
        names(CustomerFilter {
            is_system: Some(false),
            ..Default::default()
        })
        .await,
        ["Gold EU", "Gold US"]
    );
    assert_eq!(
        names(CustomerFilter {
            is_system: Some(true),
            ..Default::default()
        })
        .await,
        ["Test 100%_"]
    );
    assert_eq!(
        names(CustomerFilter {
            name_contains: Some("0%_".into()),
            ..Default::default()
        })
        .await,
        ["Test 100%_"]
    );
    assert!(names(CustomerFilter {
        name_contains: Some("%".into()),
        is_system: Some(false),
        ..Default::default()
    })
    .await
    .is_empty());
    let got = t
        .store
        .customers(
            &org,
            &CustomerFilter::default(),
            Sort::default(),
            &PageRequest::first_page(),
        )
        .await
        .unwrap();
    assert_eq!(got.items[0].0.labels, ["eu", "gold"]);
}

async fn customer_users_see_only_their_customer(t: &TestStore) {
    let org = org(t).await;
    let mine = store_create(t, &org, "Mine").await;
    let theirs = store_create(t, &org, "Theirs").await;
    let me = Tenant::customer(org.org_id, mine.id);
    let all = t
        .store
        .customers(
            &me,
            &CustomerFilter::default(),
            Sort::default(),
            &PageRequest::first_page(),
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.items[0].0.id, mine.id);
    assert!(matches!(
        t.store.customer(&me, theirs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.store.delete_customer(&me, theirs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.store
            .update_customer(&me, theirs.id, CustomerPatch::default())
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // Another organization sees nothing of this one.
    let stranger = Tenant::organization(uuid::Uuid::now_v7());
    assert!(matches!(
        t.store.customer(&stranger, mine.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn update_changes_only_given_fields(t: &TestStore) {
    let org = org(t).await;
    let created = t
        .store
        .create_customer(&org, customer("Before", "ext-1"))
        .await
        .unwrap();
    let patch = CustomerPatch {
        description: Some("new text".into()),
        labels: Some(vec!["A".into()]),
        ..Default::default()
    };
    let updated = t
        .store
        .update_customer(&org, created.id, patch)
        .await
        .unwrap();
    assert_eq!(updated.name, "Before");
    assert_eq!(updated.external_id.as_deref(), Some("ext-1"));
    assert_eq!(updated.description, "new text");
    assert_eq!(updated.labels, ["a"]);
    let reread = t.store.customer(&org, created.id).await.unwrap();
    assert_eq!(reread, updated);
    let clear = CustomerPatch {
        external_id: Some(None),
        ..Default::default()
    };
    assert_eq!(
        t.store
            .update_customer(&org, created.id, clear)
            .await
            .unwrap()
            .external_id,
        None
    );
    t.store
        .create_customer(&org, customer("Taken", "ext-2"))
        .await
        .unwrap();
    let rename = CustomerPatch {
        name: Some("Taken".into()),
        ..Default::default()
    };
    let err = t
        .store
        .update_customer(&org, created.id, rename)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err}"
    );
    let empty = CustomerPatch {
        name: Some(" ".into()),
        ..Default::default()
    };
    assert!(matches!(
        t.store.update_customer(&org, created.id, empty).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn delete_removes_the_customer_and_its_users(t: &TestStore) {
    use ferry_core::entity::NewUser;
    use ferry_core::role::Role;
    let org = org(t).await;
    let gone = store_create(t, &org, "Gone").await;
    let user = NewUser {
        email: "u@gone.test".into(),
        name: "U".into(),
        role: Role::CustomerAdmin,
        customer_id: Some(gone.id),
    };
    let user = t.store.create_user(&org, user).await.unwrap();
    let token = t
        .store
        .create_token(&org, user.id, "cli", None)
        .await
        .unwrap();
    assert!(t.store.authenticate(&token.secret).await.unwrap().is_some());
    t.store.delete_customer(&org, gone.id).await.unwrap();
    assert!(matches!(
        t.store.customer(&org, gone.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.store.user(&org, user.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(t.store.authenticate(&token.secret).await.unwrap().is_none());
}

async fn cursors_are_checked_against_their_query(t: &TestStore) {
    let org = org(t).await;
    store_create(t, &org, "One").await;
    store_create(t, &org, "Two").await;
    let first = PageRequest::new(Some(1), None).unwrap();
    let page = t
        .store
        .customers(&org, &CustomerFilter::default(), Sort::default(), &first)
        .await
        .unwrap();
    let cursor = page.end_cursor().unwrap().to_string();
    let by_name = Sort {
        field: CustomerSortField::Name,
        direction: Direction::Asc,
    };
    let next = PageRequest::new(Some(1), Some(cursor.clone())).unwrap();
    let err = t
        .store
        .customers(&org, &CustomerFilter::default(), by_name, &next)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sort order"), "{err}");
    let err = t
        .store
        .users(&org, &Default::default(), Sort::default(), &next)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("belongs to the customers query"),
        "{err}"
    );
    let garbage = PageRequest::new(None, Some("not-a-cursor!".into())).unwrap();
    let err = t
        .store
        .customers(&org, &CustomerFilter::default(), Sort::default(), &garbage)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor(_)));
    assert!(PageRequest::new(Some(501), None).is_err());
    assert!(PageRequest::new(Some(0), None).is_err());
}
