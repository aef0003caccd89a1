//! The reference's "Sync Customers Programmatically" tutorial: its queries and mutations, as
//! written there, run against Ferry and give the shapes the tutorial's code reads.

use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::TestServer;

ferry_store::store_tests!(
    tutorial_runs_unchanged,
    tutorial_pagination_walks_past_the_first_hundred
);

const GET_CUSTOMERS: &str = r#"
query {
customers (isSystem: false) {
nodes {
id
name
description
externalId
}
}
}
"#;

const GET_CUSTOMERS_PAGED: &str = r#"
query ($startCursor: String){
customers(after: $startCursor, isSystem: false) {
nodes {
id
name
description
externalId
}
pageInfo {
hasNextPage
endCursor
}
}
}
"#;

const GET_CUSTOMER_BY_EXTERNAL_ID: &str = r#"
query ($externalId: String!) {
customers (externalId: $externalId) {
nodes {
id
name
description
externalId
}
}
}
"#;

const CREATE_CUSTOMER: &str = r#"
mutation($name: String!, $description: String, $externalId: String) {
createCustomer(
input: { name: $name, description: $description, externalId: $externalId }
) {
customer {
id
name
description
externalId
}
errors {
messages
}
}
}
"#;

const DELETE_CUSTOMER: &str = r#"
mutation ($id: ID!) {
deleteCustomer(
input: {
id: $id
}
) {
customer {
id
name
description
externalId
}
errors {
messages
}
}
}
"#;

/// The tutorial's `getCustomers()` with pagination, as its Python loop does it.
async fn get_customers(server: &TestServer) -> Vec<Value> {
    let mut cursor = json!("");
    let mut customers = Vec::new();
    loop {
        let result = server
            .gql(GET_CUSTOMERS_PAGED, json!({ "startCursor": cursor }))
            .await;
        customers.extend(
            result["customers"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        if !result["customers"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap()
        {
            return customers;
        }
        cursor = result["customers"]["pageInfo"]["endCursor"].clone();
    }
}

async fn create_customer(
    server: &TestServer,
    name: &str,
    description: &str,
    external_id: &str,
) -> Value {
    let params = json!({ "name": name, "description": description, "externalId": external_id });
    server.gql(CREATE_CUSTOMER, params).await["createCustomer"].clone()
}

async fn tutorial_runs_unchanged(store: &TestStore) {
    let server = TestServer::start(store).await;
    let created = create_customer(&server, "Rockets Rockets Rockets", "Rockets^3", "456-xyz").await;
    assert_eq!(created["errors"], json!([]));
    let customer = &created["customer"];
    assert_eq!(customer["name"], "Rockets Rockets Rockets");
    assert_eq!(customer["description"], "Rockets^3");
    assert_eq!(customer["externalId"], "456-xyz");
    let id = customer["id"].as_str().unwrap();
    assert!(
        ferry_core::id::decode(ferry_core::id::Kind::Customer, id).is_ok(),
        "ids are base64 of Customer:uuid"
    );
    create_customer(&server, "Mars Missions", "Mars Missions Corp", "abc-123").await;

    // A duplicate name or external id comes back in `errors`, not as a GraphQL error.
    let duplicate = create_customer(&server, "Mars Missions", "", "other").await;
    assert_eq!(duplicate["customer"], Value::Null);
    assert!(duplicate["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("already exists"));
    let duplicate = create_customer(&server, "Other", "", "abc-123").await;
    assert!(duplicate["errors"][0]["messages"][0]
        .as_str()
        .unwrap()
        .contains("external id"));

    let all = server.gql(GET_CUSTOMERS, json!({})).await;
    let names: Vec<&str> = all["customers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Rockets Rockets Rockets", "Mars Missions"]);

    let found = server
        .gql(
            GET_CUSTOMER_BY_EXTERNAL_ID,
            json!({ "externalId": "abc-123" }),
        )
        .await;
    let nodes = found["customers"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "exactly one customer per external id");
    assert_eq!(nodes[0]["description"], "Mars Missions Corp");

    let deleted = server
        .gql(DELETE_CUSTOMER, json!({ "id": nodes[0]["id"] }))
        .await;
    assert_eq!(
        deleted["deleteCustomer"]["customer"]["externalId"],
        "abc-123"
    );
    assert_eq!(deleted["deleteCustomer"]["errors"], json!([]));
    let gone = server
        .gql(
            GET_CUSTOMER_BY_EXTERNAL_ID,
            json!({ "externalId": "abc-123" }),
        )
        .await;
    assert_eq!(gone["customers"]["nodes"], json!([]));
}

async fn tutorial_pagination_walks_past_the_first_hundred(store: &TestStore) {
    let server = TestServer::start(store).await;
    for i in 0..130 {
        let created = create_customer(
            &server,
            &format!("Customer {i:03}"),
            "",
            &format!("ext-{i}"),
        )
        .await;
        assert_eq!(created["errors"], json!([]));
    }
    let first_page = server.gql(GET_CUSTOMERS, json!({})).await;
    assert_eq!(
        first_page["customers"]["nodes"].as_array().unwrap().len(),
        100,
        "the default page is 100"
    );
    let customers = get_customers(&server).await;
    assert_eq!(customers.len(), 130);
    let mut ids: Vec<&str> = customers
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 130, "no customer twice");
}
