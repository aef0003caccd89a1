//! Bad input of every kind gets a clear 4xx or GraphQL error naming the problem; never a 500.

use ferry_store::testing::TestStore;
use serde_json::json;

use crate::harness::TestServer;

ferry_store::store_tests!(
    malformed_requests_get_400_or_413,
    graphql_errors_name_the_problem,
    ids_and_cursors_are_checked
);

async fn malformed_requests_get_400_or_413(store: &TestStore) {
    let server = TestServer::start(store).await;
    let url = format!("{}/api", server.base);
    for body in ["{not json", "", "[1, 2]", "{\"query\": 5}"] {
        let response = server
            .http
            .post(&url)
            .bearer_auth(&server.token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("malformed GraphQL request"),
            "{body:?}: {text}"
        );
    }
    assert!(oversized_request_status(&server)
        .await
        .starts_with("HTTP/1.1 413"));
    let response = server
        .http
        .get(format!("{}/nowhere", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("no such endpoint: GET /nowhere"));
}

async fn graphql_errors_name_the_problem(store: &TestStore) {
    let server = TestServer::start(store).await;
    let t = server.token.clone();
    let cases = [
        ("{ customers { nodes { nope } } }", "Unknown field \"nope\" on type \"Customer\""),
        ("{ customers(first: \"ten\") { totalCount } }", "Invalid value for argument \"first\""),
        ("{ customers(first: 501) { totalCount } }", "first must be between 1 and 500, got 501"),
        ("{ customers(first: 0) { totalCount } }", "first must be between 1 and 500, got 0"),
        ("{ customers(bogus: 1) { totalCount } }", "Unknown argument \"bogus\""),
        ("mutation { createCustomer(input: { name: \"a\", color: \"red\" }) { errors { messages } } }", "color"),
        ("mutation { createCustomer(input: {}) { errors { messages } } }", "name"),
        ("{ customers { ", "expected selection"),
    ];
    for (query, expected) in cases {
        let (status, body) = server.gql_as(&t, query, json!({})).await;
        assert!(status == 200 || status == 400, "{query}: {status}");
        let message = body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(expected),
            "{query}: expected {expected:?} in {message:?}"
        );
    }
    let (_, body) = server
        .gql_as(
            &t,
            "query ($n: String!) { customers(name: $n) { totalCount } }",
            json!({ "n": 5 }),
        )
        .await;
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("n"),
        "{body}"
    );
}

async fn ids_and_cursors_are_checked(store: &TestStore) {
    let server = TestServer::start(store).await;
    let t = server.token.clone();
    let customer = "query ($id: ID!) { customer(id: $id) { name } }";
    let message = server
        .error_as(&t, customer, json!({ "id": "!!notbase64" }))
        .await;
    assert!(message.contains("not a base64 id"), "{message}");
    let user_id = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]
        ["id"]
        .clone();
    let message = server
        .error_as(&t, customer, json!({ "id": user_id }))
        .await;
    assert!(
        message.contains("expected a Customer id, got a User id"),
        "{message}"
    );
    let delete = "mutation ($id: ID!) { deleteCustomer(input: { id: $id }) { customer { id } errors { field messages } } }";
    let result = server.gql(delete, json!({ "id": "bm9wZQ==" })).await;
    assert_eq!(result["deleteCustomer"]["errors"][0]["field"], "id");
    server.customer("One", "one").await;
    server.customer("Two", "two").await;
    let users_cursor = server
        .gql("{ users(first: 1) { pageInfo { endCursor } } }", json!({}))
        .await["users"]["pageInfo"]["endCursor"]
        .clone();
    let message = server
        .error_as(
            &t,
            "query ($a: String) { customers(after: $a) { totalCount } }",
            json!({ "a": users_cursor }),
        )
        .await;
    assert!(message.contains("belongs to the users query"), "{message}");
    let message = server
        .error_as(
            &t,
            "{ customers(after: \"garbage\") { totalCount } }",
            json!({}),
        )
        .await;
    assert!(message.contains("invalid cursor"), "{message}");
    let message = server
        .error_as(
            &t,
            "{ customers(sortBy: [{ field: NAME }, { field: ID }]) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(message.contains("sortBy takes one field"), "{message}");
}

/// Announces a 2 MiB body and reads the answer before sending it: the server refuses by size
/// alone. (Sending the body too races the server closing the connection on its 413.)
async fn oversized_request_status(server: &TestServer) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.token,
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..read]).to_string()
}
