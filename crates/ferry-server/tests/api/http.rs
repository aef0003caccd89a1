//! The small endpoints: health, metrics, and the trailing-slash API path.

use ferry_store::testing::TestStore;
use serde_json::json;

use crate::harness::TestServer;

ferry_store::store_tests!(health_and_metrics_answer);

async fn health_and_metrics_answer(store: &TestStore) {
    let server = TestServer::start(store).await;
    let health = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], store.store.kind());
    // Both /api and /api/ serve GraphQL.
    let response = server
        .http
        .post(format!("{}/api", server.base))
        .bearer_auth(&server.token)
        .json(&json!({ "query": "{ authenticatedUser { email } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server
        .gql("{ authenticatedUser { email } }", json!({}))
        .await;
    let metrics = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("ferry_http_requests_total{method=\"POST\",route=\"/api\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "ferry_http_requests_total{method=\"POST\",route=\"/api/\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferry_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("ferry_store_errors_total 0"), "{metrics}");
}
