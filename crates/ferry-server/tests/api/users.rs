//! Users through the API: listing, updating, deleting.

use ferry_store::testing::TestStore;
use serde_json::json;

use crate::harness::TestServer;

ferry_store::store_tests!(
    users_are_listed_by_kind_and_customer,
    users_update_themselves_and_are_deleted
);

async fn users_are_listed_by_kind_and_customer(store: &TestStore) {
    let server = TestServer::start(store).await;
    let acme = server.customer("Acme", "acme").await;
    server.user_token("guest@us.test", "Guest", None).await;
    server
        .user_token("a@acme.test", "Marketplace Admin", Some(&acme))
        .await;
    let org = server
        .gql(
            "{ organization { name users { nodes { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(org["organization"]["name"], "My Organization");
    assert_eq!(
        org["organization"]["users"]["nodes"],
        json!([{ "email": "owner@localhost" }, { "email": "guest@us.test" }])
    );
    let of_acme = server
        .gql("query ($id: ID!) { customer(id: $id) { users { nodes { email role { name roleType } customer { name } } } } }", json!({ "id": acme }))
        .await;
    assert_eq!(
        of_acme["customer"]["users"]["nodes"],
        json!([{ "email": "a@acme.test", "role": { "name": "Marketplace Admin", "roleType": "CUSTOMER" }, "customer": { "name": "Acme" } }])
    );
    let all = server.gql("{ users(sortBy: [{ field: EMAIL }]) { totalCount nodes { email isOrganizationUser } } }", json!({})).await;
    assert_eq!(all["users"]["totalCount"], 3);
    assert_eq!(
        all["users"]["nodes"][0],
        json!({ "email": "a@acme.test", "isOrganizationUser": false })
    );
    let by_email = server
        .gql(
            "{ users(email: \"GUEST@us.test\") { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_email["users"]["nodes"],
        json!([{ "email": "guest@us.test" }])
    );
}

async fn users_update_themselves_and_are_deleted(store: &TestStore) {
    let server = TestServer::start(store).await;
    let guest = server.user_token("guest@us.test", "Guest", None).await;
    let me = server
        .ok_as(&guest, "{ authenticatedUser { id } }", json!({}))
        .await["authenticatedUser"]["id"]
        .clone();
    let update = "mutation ($input: UpdateUserInput!) { updateUser(input: $input) { user { name phone role { name } } errors { field messages } } }";
    let renamed = server
        .ok_as(
            &guest,
            update,
            json!({ "input": { "id": me, "name": "Gus", "phone": "555" } }),
        )
        .await;
    assert_eq!(
        renamed["updateUser"]["user"],
        json!({ "name": "Gus", "phone": "555", "role": { "name": "Guest" } })
    );
    let message = server
        .error_as(
            &guest,
            update,
            json!({ "input": { "id": me, "role": "Admin" } }),
        )
        .await;
    assert!(
        message.contains("may not manage organization users"),
        "guests cannot promote themselves: {message}"
    );
    let wrong_type = server
        .gql(
            update,
            json!({ "input": { "id": me, "role": "Marketplace User" } }),
        )
        .await;
    assert_eq!(wrong_type["updateUser"]["errors"][0]["field"], "role");
    let deleted = server
        .gql("mutation ($id: ID!) { deleteUser(input: { id: $id }) { user { email } errors { messages } } }", json!({ "id": me }))
        .await;
    assert_eq!(deleted["deleteUser"]["user"]["email"], "guest@us.test");
    let (status, _) = server
        .gql_as(&guest, "{ authenticatedUser { id } }", json!({}))
        .await;
    assert_eq!(status, 401, "a deleted user's tokens stop working");
    let fetched = server
        .error_as(
            &server.token,
            "query ($id: ID!) { user(id: $id) { email } }",
            json!({ "id": me }),
        )
        .await;
    assert_eq!(fetched, "user not found");
}
