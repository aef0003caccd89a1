//! `http.request` without pagination: what is sent, what comes back, and how it fails.

use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use ferry_components::run::binary_value;
use ferry_components::ActionError;
use serde_json::{json, Value};

use crate::server::{echo, failure, input_named, request, serve, IDEMPOTENCY_KEY};

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 255];

fn router() -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/api/echo", any(echo))
        .route(
            "/text",
            get(|| async {
                (
                    [("content-type", "text/plain"), ("x-custom", "v")],
                    "plain words",
                )
            }),
        )
        .route(
            "/bytes",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], PNG) }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/status/{code}", get(status))
        .route("/hang", get(hang))
        .route("/big", get(|| async { vec![b'a'; 50 * 1024 * 1024 + 1] }))
}

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    let body = format!("{{\"error\":\"nope\",\"detail\":\"{}\"}}", "x".repeat(1000));
    (StatusCode::from_u16(code).unwrap(), body)
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

async fn base() -> String {
    serve(router()).await
}

/// The echo server's view of a request with `inputs` added to `{ url: <base>/echo }`.
async fn echoed(inputs: Value) -> Value {
    let mut all = json!({ "url": format!("{}/echo", base().await) });
    for (key, value) in inputs.as_object().unwrap() {
        all[key] = value.clone();
    }
    request(all).await.unwrap()["data"].clone()
}

#[tokio::test]
async fn get_is_the_default_method_and_others_are_case_insensitive() {
    assert_eq!(echoed(json!({})).await["method"], "GET");
    for method in ["post", "PUT", "Patch", "delete", "OPTIONS"] {
        let seen = echoed(json!({ "method": method })).await;
        assert_eq!(seen["method"], method.to_ascii_uppercase());
    }
}

#[tokio::test]
async fn head_gives_the_status_and_headers_with_null_data() {
    let url = format!("{}/echo", base().await);
    let result = request(json!({ "url": url, "method": "HEAD" }))
        .await
        .unwrap();
    assert_eq!(result["statusCode"], 200);
    assert_eq!(result["data"], Value::Null);
    assert_eq!(result["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn query_params_are_added_to_the_url_and_lists_repeat_the_param() {
    let url = format!("{}/echo?keep=1", base().await);
    let result = request(json!({
        "url": url,
        "queryParams": { "q": "a b", "tag": ["x", "y"], "n": 2, "on": true, "gone": null },
    }))
    .await
    .unwrap();
    assert_eq!(
        result["data"]["query"],
        "keep=1&q=a+b&tag=x&tag=y&n=2&on=true"
    );
}

#[tokio::test]
async fn base_url_and_url_are_joined() {
    let base = format!("{}/api/", base().await);
    let result = request(json!({ "baseUrl": base, "url": "/echo" }))
        .await
        .unwrap();
    assert_eq!(result["data"]["path"], "/api/echo");
}

#[tokio::test]
async fn headers_are_sent() {
    let seen = echoed(json!({ "headers": { "X-Trace": "t1", "X-Count": 3 } })).await;
    assert_eq!(seen["headers"]["x-trace"], "t1");
    assert_eq!(seen["headers"]["x-count"], "3");
}

#[tokio::test]
async fn data_is_sent_as_json_by_default() {
    let seen = echoed(json!({ "method": "POST", "data": { "a": 1, "b": [true] } })).await;
    assert_eq!(seen["headers"]["content-type"], "application/json");
    assert_eq!(seen["body"], r#"{"a":1,"b":[true]}"#);
}

#[tokio::test]
async fn a_content_type_header_wins_over_the_body_type() {
    let seen = echoed(json!({
        "method": "POST",
        "data": { "a": 1 },
        "headers": { "content-type": "application/vnd.api+json" },
    }))
    .await;
    assert_eq!(seen["headers"]["content-type"], "application/vnd.api+json");
}

#[tokio::test]
async fn a_form_body_is_url_encoded() {
    let seen = echoed(json!({
        "method": "POST",
        "bodyType": "form",
        "data": { "name": "a b&c", "tag": ["1", "2"], "n": 3 },
    }))
    .await;
    assert_eq!(
        seen["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen["body"], "name=a+b%26c&tag=1&tag=2&n=3");
}

#[tokio::test]
async fn a_multipart_body_has_text_fields_and_file_parts() {
    let mut file = binary_value(b"PNGDATA", "image/png");
    file["fileName"] = json!("logo.png");
    let seen = echoed(json!({
        "method": "POST",
        "bodyType": "multipart",
        "data": { "note": "hello", "logo": file, "raw": binary_value(b"RAW", "text/csv") },
        "headers": { "Content-Type": "text/plain" },
    }))
    .await;
    let content_type = seen["headers"]["content-type"].as_str().unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = seen["body"].as_str().unwrap();
    for expected in [
        "name=\"note\"\r\n\r\nhello\r\n",
        "name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n",
        "name=\"raw\"; filename=\"raw\"\r\nContent-Type: text/csv\r\n\r\nRAW\r\n",
    ] {
        assert!(body.contains(expected), "{expected:?} not in {body:?}");
    }
}

#[tokio::test]
async fn a_raw_body_is_sent_as_is() {
    let text = echoed(json!({
        "method": "PUT",
        "bodyType": "raw",
        "data": "a,b\n1,2",
        "headers": { "Content-Type": "text/csv" },
    }))
    .await;
    assert_eq!(text["body"], "a,b\n1,2");
    assert_eq!(text["headers"]["content-type"], "text/csv");
    let bytes = echoed(json!({
        "method": "PUT",
        "bodyType": "raw",
        "data": binary_value(b"<x/>", "application/xml"),
    }))
    .await;
    assert_eq!(bytes["body"], "<x/>");
    assert_eq!(bytes["headers"]["content-type"], "application/xml");
}

#[tokio::test]
async fn json_responses_are_parsed_with_status_and_lower_cased_headers() {
    let url = format!("{}/echo", base().await);
    let result = request(json!({ "url": url })).await.unwrap();
    assert_eq!(result["statusCode"], 200);
    assert_eq!(result["headers"]["content-type"], "application/json");
    assert_eq!(result["data"]["path"], "/echo");
}

#[tokio::test]
async fn a_body_that_is_not_json_falls_back_to_text_and_an_empty_one_to_null() {
    let base = base().await;
    let text = request(json!({ "url": format!("{base}/text") }))
        .await
        .unwrap();
    assert_eq!(text["data"], "plain words");
    assert_eq!(text["headers"]["x-custom"], "v");
    let empty = request(json!({ "url": format!("{base}/empty") }))
        .await
        .unwrap();
    assert_eq!(empty["statusCode"], 204);
    assert_eq!(empty["data"], Value::Null);
}

#[tokio::test]
async fn response_type_text_keeps_json_as_text() {
    let url = format!("{}/echo", base().await);
    let result = request(json!({ "url": url, "responseType": "text" }))
        .await
        .unwrap();
    assert!(result["data"]
        .as_str()
        .unwrap()
        .starts_with("{\"method\":\"GET\""));
}

#[tokio::test]
async fn response_type_binary_gives_a_binary_value_with_the_content_type() {
    let url = format!("{}/bytes", base().await);
    let result = request(json!({ "url": url, "responseType": "binary" }))
        .await
        .unwrap();
    assert_eq!(result["data"], binary_value(PNG, "image/png"));
}

#[tokio::test]
async fn connection_shapes_authenticate_the_request() {
    for (connection, header, value) in [
        (json!({ "apiKey": "k1" }), "authorization", "Bearer k1"),
        (
            json!({ "apiKey": "k1", "headerName": "X-Api-Key" }),
            "x-api-key",
            "k1",
        ),
        (json!({ "token": "t1" }), "authorization", "Bearer t1"),
        (json!({ "accessToken": "a1" }), "authorization", "Bearer a1"),
        (
            json!({ "username": "u", "password": "p" }),
            "authorization",
            "Basic dTpw",
        ),
    ] {
        let seen = echoed(json!({ "connection": connection })).await;
        assert_eq!(seen["headers"][header], value, "{connection}");
    }
}

#[tokio::test]
async fn an_explicit_header_wins_over_the_connection() {
    let seen = echoed(json!({
        "connection": { "token": "t1" },
        "headers": { "Authorization": "Custom c" },
    }))
    .await;
    assert_eq!(seen["headers"]["authorization"], "Custom c");
}

#[tokio::test]
async fn an_unknown_connection_shape_is_an_input_error_that_hides_values() {
    let error = request(json!({
        "url": "http://127.0.0.1:9/",
        "connection": { "clientSecret": "hunter2" },
    }))
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("apiKey") && text.contains("clientSecret"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(input_named(error), "connection");
}

#[tokio::test]
async fn use_idempotency_key_sends_the_steps_key() {
    let seen = echoed(json!({ "useIdempotencyKey": true })).await;
    assert_eq!(seen["headers"]["idempotency-key"], IDEMPOTENCY_KEY);
    let seen = echoed(json!({})).await;
    assert_eq!(seen["headers"].get("idempotency-key"), None);
}

#[tokio::test]
async fn a_status_outside_2xx_fails_with_method_url_status_and_the_body_start() {
    let url = format!("{}/status/404?api_key=secret", base().await);
    let message = failure(request(json!({ "url": url })).await.unwrap_err());
    assert!(message.starts_with("GET http://127.0.0.1:"), "{message}");
    assert!(
        message.contains("/status/404 answered 404 Not Found: {\"error\":\"nope\""),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    assert!(message.chars().count() < 700, "{message}");
    assert!(message.ends_with('…'), "{message}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_times_out() {
    let url = format!("{}/hang", base().await);
    let started = Instant::now();
    let error = request(json!({ "url": url, "timeoutSeconds": 1 }))
        .await
        .unwrap_err();
    assert_eq!(error, ActionError::TimedOut(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_refused_connection_fails_clearly_without_the_query() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/x?token=secret");
    let message = failure(
        request(json!({ "url": url, "method": "post" }))
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with(&format!(
            "POST http://127.0.0.1:{port}/x: could not connect"
        )),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn https_is_supported_and_a_failed_handshake_fails_clearly() {
    let url = base().await.replace("http://", "https://") + "/echo";
    let message = failure(request(json!({ "url": url })).await.unwrap_err());
    assert!(message.contains("/echo: could not connect"), "{message}");
}

#[tokio::test]
async fn a_response_over_50_mb_fails() {
    let url = format!("{}/big", base().await);
    let message = failure(request(json!({ "url": url })).await.unwrap_err());
    assert!(message.contains("larger than the 50 MB limit"), "{message}");
}

#[tokio::test]
async fn bad_inputs_are_errors_naming_the_input() {
    let url = "http://127.0.0.1:9/x";
    for (inputs, input) in [
        (json!({}), "url"),
        (json!({ "url": "/relative" }), "url"),
        (json!({ "url": "ftp://127.0.0.1/x" }), "url"),
        (json!({ "url": "x", "baseUrl": "not a url" }), "baseUrl"),
        (json!({ "url": url, "method": "FETCH" }), "method"),
        (
            json!({ "url": url, "queryParams": { "a": { "b": 1 } } }),
            "queryParams",
        ),
        (json!({ "url": url, "headers": ["X-A: b"] }), "headers"),
        (
            json!({ "url": url, "headers": { "bad name": "v" } }),
            "headers",
        ),
        (
            json!({ "url": url, "bodyType": "xml", "data": "<a/>" }),
            "bodyType",
        ),
        (
            json!({ "url": url, "bodyType": "form", "data": "a=b" }),
            "data",
        ),
        (json!({ "url": url, "bodyType": "raw", "data": 12 }), "data"),
        (
            json!({ "url": url, "responseType": "yaml" }),
            "responseType",
        ),
        (json!({ "url": url, "timeoutSeconds": 0 }), "timeoutSeconds"),
        (
            json!({ "url": url, "timeoutSeconds": 901 }),
            "timeoutSeconds",
        ),
        (
            json!({ "url": url, "useIdempotencyKey": "yes" }),
            "useIdempotencyKey",
        ),
        (json!({ "url": url, "connection": "key" }), "connection"),
    ] {
        let error = request(inputs.clone()).await.unwrap_err();
        assert_eq!(input_named(error), input, "{inputs}");
    }
}

#[tokio::test]
async fn only_http_request_is_an_http_action() {
    let call = ferry_components::StepCall {
        action: "http.nope",
        inputs: ferry_components::Inputs::default(),
        idempotency_key: IDEMPOTENCY_KEY,
    };
    assert!(ferry_components::Runner::new().run(&call).await.is_none());
}
