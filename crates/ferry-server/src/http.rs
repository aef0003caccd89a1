//! The router: routes, body limits, request metrics, and the small endpoints
//! (`/healthz`, `/metrics`, the JSON 404).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::{graphql, webhook, AppState};

/// The routes: `/api` and `/trigger` when the node serves the API, `/healthz` and `/metrics`
/// always.
pub(crate) fn router(state: AppState, serve_api: bool) -> Router {
    let mut router = Router::new();
    if serve_api {
        router = router
            .route("/api", post(graphql::handler).fallback(method_not_allowed))
            .route("/api/", post(graphql::handler).fallback(method_not_allowed))
            .route("/trigger/{id}", any(webhook::ingress::handle))
            .route("/trigger/{id}/{*fragment}", any(webhook::ingress::handle));
    }
    router
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// A JSON error body: `{"error": "…"}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state
        .metrics
        .observe_request(method.as_str(), &route, status, started.elapsed());
    tracing::debug!(%method, %route, status, took_ms = started.elapsed().as_secs_f64() * 1e3, "request");
    response
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "store": state.store.kind() })).into_response(),
        Err(err) => {
            state.metrics.store_error();
            tracing::warn!(error = %err, "health check: store unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store unavailable: {err}"),
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
        .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let message = format!(
        "{} {} is not served; send GraphQL requests with POST",
        request.method(),
        request.uri().path()
    );
    error(StatusCode::METHOD_NOT_ALLOWED, message)
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}
