//! Customers through the API: labels, updates, deletes, connections, concurrency.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    labels_are_lower_cased_and_filterable,
    update_changes_only_the_given_fields,
    delete_takes_the_customers_users_along,
    connections_have_edges_page_info_and_total_count,
    concurrent_creates_of_one_name_let_one_win,
    validation_errors_name_their_fields,
);

const CREATE: &str = "mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id name labels externalId } errors { field messages } } }";
const UPDATE: &str = "mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { id name description externalId labels } errors { field messages } } }";

async fn labels_are_lower_cased_and_filterable(store: &TestStore) {
    let server = TestServer::start(store).await;
    let created = server
        .gql(
            CREATE,
            json!({ "input": { "name": "Acme", "labels": ["Gold", "EU", "gold"] } }),
        )
        .await;
    assert_eq!(
        created["createCustomer"]["customer"]["labels"],
        json!(["eu", "gold"])
    );
    server
        .gql(
            CREATE,
            json!({ "input": { "name": "Beta", "labels": ["silver"] } }),
        )
        .await;
    let found = server
        .gql(
            "{ customers(labels: [\"GOLD\"]) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(found["customers"]["nodes"], json!([{ "name": "Acme" }]));
    let found = server
        .gql(
            "{ customers(name_Icontains: \"ET\") { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(found["customers"]["nodes"], json!([{ "name": "Beta" }]));
}

async fn update_changes_only_the_given_fields(store: &TestStore) {
    let server = TestServer::start(store).await;
    let id = server.customer("Before", "ext-1").await;
    let updated = server
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "description": "now described", "labels": ["A"] } }),
        )
        .await;
    let customer = &updated["updateCustomer"]["customer"];
    assert_eq!(customer["name"], "Before");
    assert_eq!(customer["externalId"], "ext-1");
    assert_eq!(customer["description"], "now described");
    assert_eq!(customer["labels"], json!(["a"]));
    let cleared = server
        .gql(UPDATE, json!({ "input": { "id": id, "externalId": null } }))
        .await;
    assert_eq!(
        cleared["updateCustomer"]["customer"]["externalId"],
        Value::Null
    );
    let fetched = server
        .gql(
            "query ($id: ID!) { customer(id: $id) { name description externalId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        fetched["customer"],
        json!({ "name": "Before", "description": "now described", "externalId": null })
    );
}

async fn delete_takes_the_customers_users_along(store: &TestStore) {
    let server = TestServer::start(store).await;
    let id = server.customer("Leaving", "leaving").await;
    let token = server
        .user_token("admin@leaving.test", "Admin", Some(&id))
        .await;
    server
        .ok_as(&token, "{ authenticatedUser { email } }", json!({}))
        .await;
    let deleted = server
        .gql("mutation ($id: ID!) { deleteCustomer(input: { id: $id }) { customer { name } errors { messages } } }", json!({ "id": id }))
        .await;
    assert_eq!(deleted["deleteCustomer"]["customer"]["name"], "Leaving");
    let users = server
        .gql("{ users(userType: CUSTOMER) { totalCount } }", json!({}))
        .await;
    assert_eq!(users["users"]["totalCount"], 0);
    let (status, _) = server
        .gql_as(&token, "{ authenticatedUser { email } }", json!({}))
        .await;
    assert_eq!(
        status, 401,
        "the deleted customer's users can no longer call"
    );
    let again = server
        .gql("mutation ($id: ID!) { deleteCustomer(input: { id: $id }) { customer { name } errors { field messages } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        again["deleteCustomer"]["errors"],
        json!([{ "field": "id", "messages": ["customer not found"] }])
    );
}

async fn connections_have_edges_page_info_and_total_count(store: &TestStore) {
    let server = TestServer::start(store).await;
    for name in ["Charlie", "Alpha", "Bravo"] {
        server.customer(name, &name.to_lowercase()).await;
    }
    let query = "query ($after: String) { customers(first: 2, after: $after, sortBy: [{ field: NAME, direction: ASC }]) { \
                   totalCount edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let first = server.gql(query, json!({ "after": "" })).await;
    let connection = &first["customers"];
    assert_eq!(connection["totalCount"], 3);
    assert_eq!(connection["edges"][0]["node"]["name"], "Alpha");
    assert_eq!(connection["edges"][1]["node"]["name"], "Bravo");
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
    assert_eq!(connection["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(
        connection["pageInfo"]["endCursor"],
        connection["edges"][1]["cursor"]
    );
    let second = server
        .gql(
            query,
            json!({ "after": connection["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(second["customers"]["edges"][0]["node"]["name"], "Charlie");
    assert_eq!(second["customers"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["customers"]["pageInfo"]["hasPreviousPage"], true);
    let desc = server
        .gql(
            "{ customers(sortBy: [{ field: NAME, direction: DESC }]) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(desc["customers"]["nodes"][0]["name"], "Charlie");
}

async fn concurrent_creates_of_one_name_let_one_win(store: &TestStore) {
    let server = std::sync::Arc::new(TestServer::start(store).await);
    let attempts = (0..10).map(|i| {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .gql(
                    CREATE,
                    json!({ "input": { "name": "Same", "externalId": format!("e{i}") } }),
                )
                .await["createCustomer"]
                .clone()
        })
    });
    let results: Vec<Value> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners = results.iter().filter(|r| r["errors"] == json!([])).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(results
        .iter()
        .filter(|r| r["errors"] != json!([]))
        .all(|r| r["errors"][0]["field"] == "name"));
}

async fn validation_errors_name_their_fields(store: &TestStore) {
    let server = TestServer::start(store).await;
    let long = "x".repeat(300);
    let result = server
        .gql(
            CREATE,
            json!({ "input": { "name": " ", "externalId": long, "labels": ["ok", ""] } }),
        )
        .await;
    let errors = &result["createCustomer"]["errors"];
    let fields: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "externalId", "labels[1]"]);
    assert!(errors[1]["messages"][0]
        .as_str()
        .unwrap()
        .contains("at most 255"));
    assert_eq!(result["createCustomer"]["customer"], Value::Null);
    let count = server.gql("{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 0, "nothing stored");
}
