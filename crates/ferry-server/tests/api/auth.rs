//! Authentication and the role matrices, enforced on queries and mutations.

use ferry_store::testing::TestStore;
use serde_json::json;

use crate::harness::TestServer;

ferry_store::store_tests!(
    requests_without_a_valid_token_get_401,
    tokens_can_be_created_listed_and_revoked,
    read_only_roles_cannot_write,
    customer_users_see_only_their_own_customer,
    only_admins_and_owners_manage_organization_users,
    only_owners_grant_the_owner_role,
);

const ME: &str = "{ authenticatedUser { email role { name } } }";
const CREATE_CUSTOMER: &str =
    "mutation { createCustomer(input: { name: \"X\" }) { customer { id } errors { messages } } }";

async fn requests_without_a_valid_token_get_401(store: &TestStore) {
    let server = TestServer::start(store).await;
    let url = format!("{}/api", server.base);
    let body = json!({ "query": ME });
    let missing = server.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let text = missing.text().await.unwrap();
    assert!(text.contains("missing Authorization header"), "{text}");
    let malformed = server
        .http
        .post(&url)
        .header("authorization", "Token abc")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 401);
    assert!(malformed
        .text()
        .await
        .unwrap()
        .contains("malformed Authorization header"));
    for wrong in ["ferry_wrong", "something-else", "ferry_"] {
        let (status, body) = server.gql_as(wrong, ME, json!({})).await;
        assert_eq!(status, 401, "{wrong}");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid API token"));
    }
    let me = server.gql(ME, json!({})).await;
    assert_eq!(
        me["authenticatedUser"],
        json!({ "email": "owner@localhost", "role": { "name": "Owner" } })
    );
}

async fn tokens_can_be_created_listed_and_revoked(store: &TestStore) {
    let server = TestServer::start(store).await;
    let created = server
        .gql("mutation { createApiToken(input: { name: \"ci\" }) { token apiToken { id name isActive } errors { messages } } }", json!({}))
        .await;
    let secret = created["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = created["createApiToken"]["apiToken"]["id"].clone();
    assert!(secret.starts_with("ferry_"));
    server.ok_as(&secret, ME, json!({})).await;
    let listed = server
        .gql("{ apiTokens { name isActive } }", json!({}))
        .await;
    assert_eq!(
        listed["apiTokens"],
        json!([{ "name": "bootstrap", "isActive": true }, { "name": "ci", "isActive": true }])
    );
    let revoked = server
        .gql("mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { apiToken { isActive revokedAt } errors { messages } } }", json!({ "id": id }))
        .await;
    assert_eq!(revoked["revokeApiToken"]["apiToken"]["isActive"], false);
    let (status, _) = server.gql_as(&secret, ME, json!({})).await;
    assert_eq!(status, 401, "a revoked token is refused");
    let past = server
        .gql("mutation { createApiToken(input: { name: \"old\", expiresAt: \"2000-01-01T00:00:00Z\" }) { token errors { field } } }", json!({}))
        .await;
    assert_eq!(
        past["createApiToken"]["errors"],
        json!([{ "field": "expiresAt" }])
    );
}

async fn read_only_roles_cannot_write(store: &TestStore) {
    let server = TestServer::start(store).await;
    let guest = server.user_token("guest@acme.test", "Guest", None).await;
    server.customer("Visible", "visible").await;
    let seen = server
        .ok_as(&guest, "{ customers { totalCount } }", json!({}))
        .await;
    assert_eq!(seen["customers"]["totalCount"], 1, "guests view customers");
    let message = server.error_as(&guest, CREATE_CUSTOMER, json!({})).await;
    assert_eq!(
        message,
        "permission denied: your role (Guest) may not manage customers"
    );
    let third = server
        .user_token("third@acme.test", "Third-Party", None)
        .await;
    let message = server
        .error_as(&third, "{ customers { totalCount } }", json!({}))
        .await;
    assert!(message.contains("may not view customers"), "{message}");
    let manager = server
        .user_token("cm@acme.test", "customer manager", None)
        .await;
    let made = server.ok_as(&manager, CREATE_CUSTOMER, json!({})).await;
    assert_eq!(
        made["createCustomer"]["errors"],
        json!([]),
        "customer managers manage customers"
    );
}

async fn customer_users_see_only_their_own_customer(store: &TestStore) {
    let server = TestServer::start(store).await;
    let mine = server.customer("Mine", "mine").await;
    let theirs = server.customer("Theirs", "theirs").await;
    let admin = server
        .user_token("admin@mine.test", "Admin", Some(&mine))
        .await;
    server
        .user_token("member@theirs.test", "Member", Some(&theirs))
        .await;
    let seen = server
        .ok_as(&admin, "{ customers { nodes { name } } }", json!({}))
        .await;
    assert_eq!(seen["customers"]["nodes"], json!([{ "name": "Mine" }]));
    let message = server
        .error_as(
            &admin,
            "query ($id: ID!) { customer(id: $id) { name } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(message, "customer not found");
    let users = server
        .ok_as(&admin, "{ users { nodes { email } } }", json!({}))
        .await;
    assert_eq!(
        users["users"]["nodes"],
        json!([{ "email": "admin@mine.test" }]),
        "no org users, no other customer's users"
    );
    // A customer admin manages its own customer's users, and no one else's.
    let create = "mutation ($input: CreateCustomerUserInput!) { createCustomerUser(input: $input) { user { email } errors { field messages } } }";
    let own = server
        .ok_as(
            &admin,
            create,
            json!({ "input": { "email": "new@mine.test", "role": "Member", "customer": mine } }),
        )
        .await;
    assert_eq!(own["createCustomerUser"]["errors"], json!([]));
    let other = server
        .ok_as(
            &admin,
            create,
            json!({ "input": { "email": "x@theirs.test", "role": "Member", "customer": theirs } }),
        )
        .await;
    assert_eq!(
        other["createCustomerUser"]["errors"],
        json!([{ "field": "customer", "messages": ["customer not found"] }])
    );
    let message = server.error_as(&admin, CREATE_CUSTOMER, json!({})).await;
    assert!(message.contains("may not manage customers"), "{message}");
    let member = server
        .user_token("member@mine.test", "Member", Some(&mine))
        .await;
    let message = server
        .error_as(
            &member,
            create,
            json!({ "input": { "email": "y@mine.test", "role": "Member", "customer": mine } }),
        )
        .await;
    assert!(
        message.contains("(Member) may not manage customer users"),
        "{message}"
    );
    let marketplace = server
        .user_token("mp@mine.test", "Marketplace User", Some(&mine))
        .await;
    let message = server
        .error_as(&marketplace, "{ users { totalCount } }", json!({}))
        .await;
    assert!(message.contains("may not view users"), "{message}");
}

async fn only_admins_and_owners_manage_organization_users(store: &TestStore) {
    let server = TestServer::start(store).await;
    let integrator = server.user_token("int@acme.test", "Integrator", None).await;
    let create = "mutation ($input: CreateOrganizationUserInput!) { createOrganizationUser(input: $input) { user { email role { name } } errors { field messages } } }";
    let message = server
        .error_as(
            &integrator,
            create,
            json!({ "input": { "email": "a@acme.test", "role": "Guest" } }),
        )
        .await;
    assert!(
        message.contains("(Integrator) may not manage organization users"),
        "{message}"
    );
    let admin = server.user_token("admin@acme.test", "Admin", None).await;
    let made = server
        .ok_as(
            &admin,
            create,
            json!({ "input": { "email": "g@acme.test", "role": "Guest" } }),
        )
        .await;
    assert_eq!(
        made["createOrganizationUser"]["user"]["role"]["name"],
        "Guest"
    );
    let bad = server
        .ok_as(
            &admin,
            create,
            json!({ "input": { "email": "h@acme.test", "role": "Captain" } }),
        )
        .await;
    let error = &bad["createOrganizationUser"]["errors"][0];
    assert_eq!(error["field"], "role");
    assert!(
        error["messages"][0]
            .as_str()
            .unwrap()
            .contains("Integrator"),
        "lists the roles: {error}"
    );
    let dup = server
        .ok_as(
            &admin,
            create,
            json!({ "input": { "email": "G@acme.test", "role": "Guest" } }),
        )
        .await;
    assert_eq!(dup["createOrganizationUser"]["errors"][0]["field"], "email");
}

async fn only_owners_grant_the_owner_role(store: &TestStore) {
    let server = TestServer::start(store).await;
    let admin = server.user_token("admin@acme.test", "Admin", None).await;
    let create = "mutation ($input: CreateOrganizationUserInput!) { createOrganizationUser(input: $input) { user { id } errors { field messages } } }";
    let message = server
        .error_as(
            &admin,
            create,
            json!({ "input": { "email": "o@acme.test", "role": "Owner" } }),
        )
        .await;
    assert!(
        message.contains("grant or change the Owner role"),
        "{message}"
    );
    let roles = server
        .ok_as(
            &admin,
            "{ authenticatedUser { grantableRoles(roleType: ORGANIZATION) { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = roles["authenticatedUser"]["grantableRoles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Admin",
            "Integrator",
            "Guest",
            "Customer Manager",
            "Third-Party"
        ]
    );
    // The owner may; and the last owner can be neither deleted nor demoted.
    let owner_id = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]
        ["id"]
        .clone();
    let demote = server
        .gql("mutation ($id: ID!) { updateUser(input: { id: $id, role: \"Admin\" }) { user { id } errors { field messages } } }", json!({ "id": owner_id }))
        .await;
    assert_eq!(
        demote["updateUser"]["errors"][0]["messages"][0],
        "cannot demote the organization's last owner"
    );
    let made = server
        .gql(
            create,
            json!({ "input": { "email": "o2@acme.test", "role": "Owner" } }),
        )
        .await;
    assert_eq!(made["createOrganizationUser"]["errors"], json!([]));
    let demote = server
        .gql("mutation ($id: ID!) { updateUser(input: { id: $id, role: \"Admin\" }) { user { role { name } } errors { messages } } }", json!({ "id": owner_id }))
        .await;
    assert_eq!(
        demote["updateUser"]["user"]["role"]["name"], "Admin",
        "with a second owner, the first may step down"
    );
}
