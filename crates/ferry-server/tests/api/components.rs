//! The component catalogue through the API.

use ferry_store::testing::TestStore;
use serde_json::json;

use crate::harness::TestServer;

ferry_store::store_tests!(the_catalogue_is_served_to_every_user);

async fn the_catalogue_is_served_to_every_user(store: &TestStore) {
    let server = TestServer::start(store).await;
    let third = server
        .user_token("third@us.test", "Third-Party", None)
        .await;
    let all = server
        .ok_as(
            &third,
            "{ components { totalCount nodes { key } } }",
            json!({}),
        )
        .await;
    let count = ferry_components::builtin_components().len();
    assert_eq!(all["components"]["totalCount"], count);
    assert_eq!(all["components"]["nodes"][0]["key"], "http");
    let page = server
        .gql(
            "{ components(first: 2) { nodes { key } pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["components"]["pageInfo"],
        json!({ "hasNextPage": true, "endCursor": "branch" })
    );
    let next = server
        .gql(
            "{ components(first: 1, after: \"branch\") { nodes { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(next["components"]["nodes"], json!([{ "key": "loop" }]));
    let http = server
        .gql("{ component(key: \"http\") { label actions { key shape output inputs { key required } } } }", json!({}))
        .await;
    let request = &http["component"]["actions"][0];
    assert_eq!(request["key"], "http.request");
    assert_eq!(request["shape"], "PLAIN");
    assert_eq!(
        request["inputs"][0],
        json!({ "key": "url", "required": true })
    );
    let message = server
        .error_as(
            &server.token,
            "{ components(after: \"nope\") { totalCount } }",
            json!({}),
        )
        .await;
    assert!(message.contains("invalid cursor"), "{message}");
    let message = server
        .error_as(
            &server.token,
            "{ component(key: \"nope\") { key } }",
            json!({}),
        )
        .await;
    assert_eq!(message, "no component \"nope\"");
}
