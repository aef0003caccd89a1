//! `fetch` against a local HTTP server: methods, headers, bodies, statuses, the body readers,
//! timeouts and size limits; and the failures (refused connections, bad URLs, other schemes)
//! rejecting the promise with a clear TypeError.

mod common;

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use axum::{Json, Router};
use common::{call, Host};
use ferry_js::{JsError, JsOptions, JsRuntime};
use serde_json::{json, Value};

async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let reply = json!({
        "method": method.as_str(),
        "contentType": header("content-type"),
        "token": header("x-token"),
        "body": String::from_utf8_lossy(&body),
    });
    (StatusCode::CREATED, [("x-echo", "yes")], Json(reply))
}

async fn server() -> String {
    let app = Router::new()
        .route(
            "/json",
            get(|| async { ([("x-custom", "1")], Json(json!({ "hello": "world" }))) }),
        )
        .route("/echo", any(echo))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .route(
            "/bytes",
            get(|| async {
                (
                    [("content-type", "application/octet-stream")],
                    vec![0u8, 1, 2, 255],
                )
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/json") }))
        .route("/big", get(|| async { "x".repeat(4096) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn runtime() -> JsRuntime {
    JsRuntime::new(JsOptions {
        max_fetch_bytes: 1024,
        ..JsOptions::default()
    })
}

/// Runs `code` with `context.base` set to `base`.
async fn run(runtime: &JsRuntime, base: &str, code: &str, seconds: f64) -> Result<Value, JsError> {
    let host = Host::default();
    let context = json!({ "base": base });
    runtime
        .run_code(call(code, context, json!({}), seconds), &host)
        .await
        .map(|output| output.data)
}

#[tokio::test]
async fn get_reads_json_status_and_headers() {
    let base = server().await;
    let data = run(&runtime(), &base, r#"module.exports = async ({ base }) => {
        const response = await fetch(`${base}/json`);
        return { data: { status: response.status, ok: response.ok, redirected: response.redirected, custom: response.headers.get('X-Custom'), type: response.headers.get('content-type'), body: await response.json() } };
    }"#, 5.0).await.unwrap();
    assert_eq!(
        data,
        json!({ "status": 200, "ok": true, "redirected": false, "custom": "1", "type": "application/json", "body": { "hello": "world" } })
    );
}

#[tokio::test]
async fn post_sends_its_body_and_headers() {
    let base = server().await;
    let data = run(&runtime(), &base, r#"module.exports = async ({ base }) => {
        const response = await fetch(new URL('/echo', base), { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Token': 's3cret' }, body: JSON.stringify({ id: 1 }) });
        const form = await fetch(`${base}/echo`, { method: 'put', body: new URLSearchParams({ a: '1 2' }) });
        return { data: { status: response.status, echo: response.headers.get('x-echo'), sent: await response.json(), form: await form.json() } };
    }"#, 5.0).await.unwrap();
    assert_eq!(
        data,
        json!({ "status": 201, "echo": "yes",
            "sent": { "method": "POST", "contentType": "application/json", "token": "s3cret", "body": "{\"id\":1}" },
            "form": { "method": "PUT", "contentType": "application/x-www-form-urlencoded;charset=UTF-8", "token": "", "body": "a=1+2" } })
    );
}

#[tokio::test]
async fn error_statuses_are_responses_and_bodies_read_as_text_or_bytes() {
    let base = server().await;
    let data = run(&runtime(), &base, r#"module.exports = async ({ base }) => {
        const missing = await fetch(`${base}/missing`);
        const bytes = await fetch(`${base}/bytes`);
        const moved = await fetch(`${base}/moved`);
        const copy = missing.clone();
        const text = await missing.text();
        const again = await missing.text().catch((e) => e.message);
        return { data: { status: missing.status, ok: missing.ok, statusText: missing.statusText,
            text, copy: await copy.text(), again, bytes: Array.from(new Uint8Array(await bytes.arrayBuffer())),
            moved: [moved.status, moved.redirected, moved.url.endsWith('/json')] } };
    }"#, 5.0).await.unwrap();
    assert_eq!(
        data,
        json!({ "status": 404, "ok": false, "statusText": "Not Found", "text": "no such thing", "copy": "no such thing",
            "again": "the body has already been read", "bytes": [0, 1, 2, 255], "moved": [200, true, true] })
    );
}

#[tokio::test]
async fn a_refused_connection_rejects_with_a_type_error_naming_the_url() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let base = format!("http://{closed}");
    let data = run(
        &runtime(),
        &base,
        r#"module.exports = async ({ base }) => {
        try { await fetch(`${base}/x`); return { data: 'connected?' }; }
        catch (e) { return { data: [e.name, e.message] }; }
    }"#,
        5.0,
    )
    .await
    .unwrap();
    let message = data[1].as_str().unwrap();
    assert_eq!(data[0], json!("TypeError"));
    assert!(
        message.starts_with(&format!("fetch GET {base}/x failed: ")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("connect"), "{message}");

    let uncaught = run(
        &runtime(),
        &base,
        "module.exports = async ({ base }) => ({ data: await fetch(base) })",
        5.0,
    )
    .await;
    let Err(JsError::Thrown { message, .. }) = uncaught else {
        panic!("{uncaught:?}")
    };
    assert!(message.starts_with("TypeError: fetch GET"), "{message}");
}

#[tokio::test]
async fn bad_urls_and_other_schemes_are_refused_before_anything_is_sent() {
    let data = run(
        &runtime(),
        "",
        r#"module.exports = async () => {
        const reasons = [];
        for (const url of ['not a url', 'file:///etc/passwd', 'ftp://example.com/']) {
            try { await fetch(url); } catch (e) { reasons.push(e.message); }
        }
        return { data: reasons };
    }"#,
        5.0,
    )
    .await
    .unwrap();
    assert!(
        data[0]
            .as_str()
            .unwrap()
            .starts_with("fetch: invalid URL \"not a url\""),
        "{data}"
    );
    assert_eq!(
        data[1],
        json!("fetch: only http and https URLs can be fetched, not \"file\"")
    );
    assert_eq!(
        data[2],
        json!("fetch: only http and https URLs can be fetched, not \"ftp\"")
    );
}

#[tokio::test]
async fn timeouts_and_size_limits_reject_clearly() {
    let base = server().await;
    let data = run(&runtime(), &base, r#"module.exports = async ({ base }) => {
        const reasons = [];
        const attempts = [
            () => fetch(`${base}/slow`, { timeout: 100 }),
            () => fetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }),
            () => { const c = new AbortController(); setTimeout(() => c.abort(), 50); return fetch(`${base}/slow`, { signal: c.signal }); },
            () => fetch(`${base}/big`),
            () => fetch(`${base}/echo`, { method: 'POST', body: 'y'.repeat(2048) }),
        ];
        for (const attempt of attempts) {
            try { await attempt(); reasons.push('answered'); } catch (e) { reasons.push(`${e.name}: ${e.message}`); }
        }
        return { data: reasons };
    }"#, 5.0).await.unwrap();
    let reasons: Vec<&str> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons[0].starts_with("TypeError: fetch GET")
            && reasons[0].ends_with("timed out after 100 ms"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].ends_with("timed out after 100 ms"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2], "AbortError: This operation was aborted");
    assert!(
        reasons[3].ends_with("/big: the response body is over the limit of 1 KiB"),
        "{reasons:?}"
    );
    assert_eq!(
        reasons[4],
        "TypeError: fetch: the request body is over the limit of 1 KiB"
    );
}

#[tokio::test]
async fn a_fetch_still_waiting_at_the_deadline_ends_the_step_at_the_time_limit() {
    let base = server().await;
    let started = std::time::Instant::now();
    let problem = run(&runtime(), &base, "module.exports = async ({ base }) => ({ data: await (await fetch(`${base}/slow`)).text() })", 0.3).await;
    assert_eq!(problem, Err(JsError::TimeLimit { seconds: 0 }));
    assert!(started.elapsed() < Duration::from_secs(3));
}
