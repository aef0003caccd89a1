//! The GraphQL API (`POST /api`), shaped like the reference platform's: relay connections,
//! base64 `Type:uuid` ids, mutations taking one `input` and returning `{ <entity> errors }`.
//!
//! Each file holds one area: its object types, its queries and its mutations. Queries fail
//! with GraphQL errors; mutations report invalid input as `errors { field messages }` values
//! and fail with GraphQL errors only for permissions and store failures.

mod components;
mod config_values;
mod connection;
mod custom_components;
mod customers;
mod errors;
mod executions;
mod instances;
mod integrations;
mod lifecycle;
mod organization;
mod runs;
mod test_instances;
mod tokens;
mod trigger_hooks;
mod users;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_store::Store;
use serde_json::json;

use crate::auth::{self, Actor, AuthError};
use crate::metrics::Metrics;
use crate::AppState;

/// The root query type.
#[derive(MergedObject, Default)]
pub struct Query(
    customers::CustomerQuery,
    components::ComponentQuery,
    users::UserQuery,
    integrations::IntegrationQuery,
    instances::InstanceQuery,
    executions::ExecutionQuery,
    runs::LogQuery,
    organization::OrganizationQuery,
    tokens::TokenQuery,
);

/// The root mutation type.
#[derive(MergedObject, Default)]
pub struct Mutation(
    customers::CustomerMutation,
    users::UserMutation,
    integrations::IntegrationMutation,
    custom_components::ComponentMutation,
    instances::InstanceMutation,
    runs::RunMutation,
    organization::OrganizationMutation,
    tokens::TokenMutation,
);

/// Ferry's GraphQL schema.
pub type FerrySchema = Schema<Query, Mutation, EmptySubscription>;

/// What resolvers share: the store, the metrics, the server's public URL, and the parsed
/// definitions of published versions.
pub(crate) struct Api {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) public_url: String,
    pub(crate) definitions: Arc<ferry_engine::definitions::Definitions>,
    /// Wakes this node's worker when a mutation queues an execution.
    pub(crate) signals: Arc<ferry_engine::signals::Signals>,
    /// Sandboxes for custom components' manifests and deploy and delete hooks.
    pub(crate) js: Arc<ferry_js::JsRuntime>,
}

/// Set by a resolver whose store call failed, so that the response becomes a 503.
#[derive(Default)]
struct StoreFailed(AtomicBool);

/// Builds the schema around what resolvers share.
pub(crate) fn schema(api: Api) -> FerrySchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(api)
        .limit_depth(16)
        .limit_complexity(20_000)
        .finish()
}

/// The schema in SDL, as exported to `docs/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// The store, the metrics and the caller, for a resolver.
pub(crate) fn env<'a>(ctx: &Context<'a>) -> (&'a Api, &'a Actor) {
    // Both are put into every request by `handler`; a missing one is a bug, caught by every test.
    let api = ctx.data_unchecked::<Api>();
    let actor = ctx.data_unchecked::<Actor>();
    (api, actor)
}

pub(crate) fn mark_store_failed(ctx: &Context<'_>) {
    if let Some(flag) = ctx.data_opt::<Arc<StoreFailed>>() {
        flag.0.store(true, Ordering::Relaxed);
    }
}

/// `POST /api`: authenticate, read the body (refusing an announced oversized one before
/// reading it), parse, execute.
pub(crate) async fn handler(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let limit = state.max_api_body_bytes;
    if content_length(&parts.headers).is_some_and(|length| length > limit) {
        return too_large(limit);
    }
    let actor = match auth::authenticate(&state.store, &parts.headers).await {
        Ok(actor) => actor,
        Err(AuthError::Store(err)) => {
            state.metrics.store_error();
            tracing::warn!(error = %err, "authentication: store unavailable");
            return errors_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable, try again",
            );
        }
        Err(err) => return errors_body(StatusCode::UNAUTHORIZED, &err.to_string()),
    };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => return too_large(limit),
    };
    let batch: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return errors_body(
                StatusCode::BAD_REQUEST,
                &format!("malformed GraphQL request: {err}"),
            )
        }
    };
    let failed = Arc::new(StoreFailed::default());
    let batch = batch.data(actor).data(failed.clone());
    let response = state.schema.execute_batch(batch).await;
    let status = if failed.0.load(Ordering::Relaxed) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(response)).into_response()
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(limit: usize) -> Response {
    let message = format!("request body over the {limit}-byte limit");
    errors_body(StatusCode::PAYLOAD_TOO_LARGE, &message)
}

/// A GraphQL-shaped error body: `{"errors": [{"message": "…"}]}`.
fn errors_body(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "errors": [{ "message": message }] }))).into_response()
}
