//! Answering a synchronous webhook: wait for the execution to end (up to the server's
//! synchronous timeout) and answer with its result — the last step's `data`, with its
//! `statusCode`, `headers` and `contentType` when it set them — or with 400 and the error when
//! it failed, or with 202 naming the execution to poll when it is still running.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_core::execution::ExecutionStatus;
use ferry_store::{Standing, Tenant};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::AppState;

/// The default wait for a synchronous execution's result.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for execution `id` and answers with its result.
pub(crate) async fn synchronous(
    state: &AppState,
    tenant: &Tenant,
    id: Uuid,
    shown_id: &str,
) -> Response {
    let waited = state
        .signals
        .wait_for_end(&state.store, tenant, id, state.sync_timeout)
        .await;
    match waited {
        Err(err) => {
            state.metrics.store_error();
            tracing::warn!(error = %err, "webhook: store unavailable while waiting for a result");
            crate::http::error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store unavailable; poll execution {shown_id}"),
            )
        }
        Ok(None) => {
            let body = json!({
                "executionId": shown_id,
                "status": "RUNNING",
                "message": format!("no result within {} s; poll the execution", state.sync_timeout.as_secs()),
            });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Ok(Some(done)) => ended(&done, shown_id),
    }
}

fn ended(done: &Standing, shown_id: &str) -> Response {
    match done.status {
        ExecutionStatus::Succeeded => result_response(done.result.as_ref().unwrap_or(&Value::Null)),
        ExecutionStatus::Cancelled => {
            let body = json!({ "executionId": shown_id, "error": "the execution was cancelled" });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        _ => {
            let error = done
                .error
                .clone()
                .unwrap_or_else(|| "the execution failed".into());
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "executionId": shown_id, "error": error })),
            )
                .into_response()
        }
    }
}

/// The HTTP response a result `{ data, statusCode?, headers?, contentType? }` describes.
fn result_response(result: &Value) -> Response {
    let data = result.get("data").unwrap_or(&Value::Null);
    let status = result
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|code| StatusCode::from_u16(u16::try_from(code).ok()?).ok())
        .unwrap_or(StatusCode::OK);
    let (bytes, default_type) = body_of(data);
    let content_type = result
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or(default_type);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(axum::http::header::CONTENT_TYPE, value);
    }
    for (name, value) in result
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&text),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

/// The bytes of a result's `data` and the content type they default to: text as is, binary
/// values decoded, nothing for null, anything else as JSON.
fn body_of(data: &Value) -> (Vec<u8>, String) {
    match data {
        Value::Null => (Vec::new(), "application/json".into()),
        Value::String(text) => (
            text.clone().into_bytes(),
            "text/plain; charset=utf-8".into(),
        ),
        Value::Object(map) if map.contains_key("base64") && map.contains_key("contentType") => {
            let content_type = map
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            match ferry_components::run::bytes_of(data) {
                Some(bytes) => (bytes, content_type.to_string()),
                None => (data.to_string().into_bytes(), "application/json".into()),
            }
        }
        other => (other.to_string().into_bytes(), "application/json".into()),
    }
}
