//! Test helpers: a local server for a router, and running an action with JSON inputs.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::{Json, Router};
use ferry_components::{ActionError, Inputs, Runner, StepCall};
use serde_json::{json, Map, Value};

/// The idempotency key every test step has.
pub const IDEMPOTENCY_KEY: &str = "exec-1:fetch:0";

/// Serves `router` on a free port of 127.0.0.1 until the test ends; gives its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// Runs `action` with `inputs` (an object).
pub async fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
    let Value::Object(map) = inputs else {
        panic!("inputs must be an object")
    };
    let call = StepCall {
        action,
        inputs: Inputs::from(map),
        idempotency_key: IDEMPOTENCY_KEY,
    };
    Runner::new()
        .run(&call)
        .await
        .unwrap_or_else(|| panic!("{action} is not run by the runner"))
}

/// Runs `http.request` with `inputs`.
pub async fn request(inputs: Value) -> Result<Value, ActionError> {
    call("http.request", inputs).await
}

/// The input an error names; panics on other errors.
pub fn input_named(error: ActionError) -> String {
    match error {
        ActionError::Input { input, .. } => input,
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// The message of a failure; panics on other errors.
pub fn failure(error: ActionError) -> String {
    match error {
        ActionError::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A handler answering with what it received: `{ method, path, query, headers, body }`.
pub async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let mut names = Map::new();
    for (name, value) in &headers {
        names.insert(
            name.to_string(),
            Value::String(value.to_str().unwrap_or("?").to_string()),
        );
    }
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query().unwrap_or(""),
        "headers": names,
        "body": String::from_utf8_lossy(&body),
    }))
}
