//! `/trigger/{id}[/{pathFragment}]`: find the instance's flow, check it may be called, read the
//! request into the trigger payload, and commit a queued execution before answering
//! `200 {"executionId"}` (with a `ferry-executionid` header).
//!
//! Answers (`DESIGN.md` 3.2): 404 for an unknown id, 410 for a deleted instance's, 409 for a
//! paused instance, 401/403 for a
//! missing or wrong `Api-Key` on a secured endpoint, 413 over the body limit, 400 for a body
//! that does not parse, 503 when the store is unavailable. Synchronous calls are queued like
//! the others, then answered with the execution's result ([`super::respond`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_core::id::{self, Kind};
use ferry_core::instance::FlowConfig;
use ferry_definition::model::{EndpointSecurity, Flow};
use ferry_definition::values::flow_identity;
use ferry_definition::Definition;
use ferry_store::{Enqueued, NewExecution, StoreError, Tenant, WebhookTarget};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::webhook::payload::{trigger_payload, RequestPayload, WebhookRequest};
use crate::AppState;

/// The largest webhook body accepted, in bytes (6 MB, as the reference allows).
pub const MAX_WEBHOOK_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Why a request is refused: a status and a message, answered as `{"error": "…"}`.
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
    /// Seconds to send as `Retry-After`.
    retry_after: Option<u64>,
}

pub(super) fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        retry_after: None,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = crate::http::error(self.status, self.message);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Handles a request to a webhook URL.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
) -> Response {
    match accept(&state, &params, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn accept(
    state: &AppState,
    params: &HashMap<String, String>,
    request: Request,
) -> Result<Response, Refusal> {
    let raw_id = params.get("id").map(String::as_str).unwrap_or_default();
    let not_found = || refuse(StatusCode::NOT_FOUND, format!("no webhook {raw_id:?}"));
    let endpoint = Endpoint::decode(raw_id).ok_or_else(not_found)?;
    let (parts, body) = request.into_parts();
    let announced = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if announced.is_some_and(|length| length > MAX_WEBHOOK_BODY_BYTES) {
        return Err(too_large());
    }
    let fragment = params
        .get("fragment")
        .map(String::as_str)
        .unwrap_or_default();
    let mut body = Some(body);
    // Flow-specific URLs name the flow config: refuse what must be refused before reading
    // the body. Other endpoints read the request first, to route by its content.
    let (flow_config_id, mut payload) = match endpoint {
        Endpoint::FlowConfig(id) => (id, None),
        other => {
            let mut payload = read_payload(&parts, body.take(), fragment).await?;
            let routed = super::routing::route(state, other, payload.value()).await?;
            (routed, Some(payload))
        }
    };
    let target = state
        .store
        .webhook_target(flow_config_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    let Some(target) = target else {
        return Err(missing(state, flow_config_id, raw_id).await);
    };
    if !target.enabled {
        return Err(refuse(
            StatusCode::CONFLICT,
            format!("instance {:?} is paused", target.instance_name),
        ));
    }
    let definition = definition_of(state, &target).await?;
    let flow = definition
        .flows
        .iter()
        .find(|f| flow_identity(f) == target.flow_key)
        .ok_or_else(|| {
            refuse(
                StatusCode::NOT_FOUND,
                "this webhook's flow is not in the instance's version",
            )
        })?;
    check_api_key(flow, &target, &parts.headers)?;
    check_rate(state, flow_config_id)?;
    let mut payload = match payload.take() {
        Some(payload) => payload,
        None => read_payload(&parts, body.take(), fragment).await?,
    };
    let synchronous =
        flow.trigger.is_synchronous || header_is_true(&parts.headers, "ferry-synchronous");
    add_urls(state, &target, &definition, raw_id, &mut payload);
    let handled =
        super::custom_trigger::handle(state, &target, (&definition, flow), payload).await?;
    let payload = handled.payload;
    let tenant = Tenant::organization(target.org_id);
    let cancellation_key = flow
        .retry_config
        .as_ref()
        .and_then(|retry| retry.unique_request_id_field.as_deref())
        .and_then(|path| super::payload::text_at(payload.value(), path));
    let queue = &flow.trigger.queue_config;
    let dedupe_key = queue
        .dedupe_id_field
        .as_deref()
        .and_then(|path| super::payload::text_at(payload.value(), path));
    let new = NewExecution {
        instance_id: target.instance_id,
        customer_id: target.customer_id,
        flow_config_id,
        flow_key: target.flow_key.clone(),
        is_synchronous: synchronous,
        trigger_payload: payload,
        invoked_by: None,
        replay_for: None,
        cancellation_key,
        fifo: queue.uses_fifo_queue,
    };
    let entered = enqueue(state, &tenant, new, dedupe_key.as_deref()).await?;
    let given = handled.response.filter(|_| !synchronous);
    Ok(answer(state, &tenant, entered, (synchronous, given)).await)
}

/// Commits the execution, unless its dedupe key was taken within the window.
async fn enqueue(
    state: &AppState,
    tenant: &Tenant,
    new: NewExecution,
    dedupe_key: Option<&str>,
) -> Result<Entered, Refusal> {
    let entered = match dedupe_key {
        Some(key) => match state.store.enqueue_unless_duplicate(tenant, new, key).await {
            Ok(Enqueued::Queued(execution)) => {
                state.signals.queued();
                Ok(Entered::New(execution.id))
            }
            Ok(Enqueued::Duplicate { execution_id }) => Ok(Entered::Duplicate(execution_id)),
            Err(err) => Err(err),
        },
        None => state.dispatch.enqueue(tenant, new).await.map(Entered::New),
    };
    entered.map_err(|e| unavailable(state, e))
}

/// What a webhook request added: a new execution, or nothing (a repeat within its dedupe
/// window, of this execution).
enum Entered {
    New(Uuid),
    Duplicate(Uuid),
}

/// `200 {"executionId"}` (with `"duplicate": true` for a dropped repeat), or for a synchronous
/// call the execution's result, or the answer a custom trigger gave; always with the
/// `ferry-executionid` header.
async fn answer(
    state: &AppState,
    tenant: &Tenant,
    entered: Entered,
    (synchronous, given): (bool, Option<Response>),
) -> Response {
    let (id, duplicate) = match entered {
        Entered::New(id) => (id, false),
        Entered::Duplicate(id) => (id, true),
    };
    let execution_id = id::encode(Kind::InstanceExecutionResult, id);
    tracing::debug!(execution = %execution_id, duplicate, "webhook answered");
    let mut response = if let Some(given) = given {
        given
    } else if duplicate {
        let body = json!({ "executionId": execution_id, "duplicate": true });
        (StatusCode::OK, Json(body)).into_response()
    } else if synchronous {
        super::respond::synchronous(state, tenant, id, &execution_id).await
    } else {
        (StatusCode::OK, Json(json!({ "executionId": execution_id }))).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&execution_id) {
        response.headers_mut().insert("ferry-executionid", value);
    }
    response
}

/// What a webhook URL's id names.
#[derive(Debug, Clone, Copy)]
pub(super) enum Endpoint {
    /// One flow of one instance (`flow_specific`).
    FlowConfig(Uuid),
    /// Every flow of one instance (`instance_specific`).
    Instance(Uuid),
    /// Every instance of an integration (`shared_instance`).
    Integration(Uuid),
}

impl Endpoint {
    fn decode(raw: &str) -> Option<Endpoint> {
        if let Ok(id) = id::decode(Kind::InstanceFlowConfig, raw) {
            return Some(Endpoint::FlowConfig(id));
        }
        if let Ok(id) = id::decode(Kind::Instance, raw) {
            return Some(Endpoint::Instance(id));
        }
        id::decode(Kind::Integration, raw)
            .ok()
            .map(Endpoint::Integration)
    }
}

/// 410 for a webhook whose instance was deleted, else 404.
pub(super) async fn missing(state: &AppState, id: Uuid, raw_id: &str) -> Refusal {
    match state.store.webhook_deleted(id).await {
        Ok(true) => refuse(
            StatusCode::GONE,
            "the instance behind this webhook was deleted",
        ),
        Ok(false) => refuse(StatusCode::NOT_FOUND, format!("no webhook {raw_id:?}")),
        Err(err) => unavailable(state, err),
    }
}

fn too_large() -> Refusal {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over the {MAX_WEBHOOK_BODY_BYTES}-byte limit"),
    )
}

/// Reads the body (at most [`MAX_WEBHOOK_BODY_BYTES`]) into the trigger's result.
async fn read_payload(
    parts: &axum::http::request::Parts,
    body: Option<axum::body::Body>,
    path_fragment: &str,
) -> Result<RequestPayload, Refusal> {
    let body = body.ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "the body was already read"))?;
    let body = axum::body::to_bytes(body, MAX_WEBHOOK_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    let request = WebhookRequest {
        method: parts.method.as_str(),
        headers: &parts.headers,
        query: parts.uri.query(),
        path_fragment,
        body,
    };
    trigger_payload(request)
        .await
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.0))
}

pub(super) fn unavailable(state: &AppState, err: StoreError) -> Refusal {
    state.metrics.store_error();
    tracing::warn!(error = %err, "webhook: store unavailable");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "store unavailable, try again",
    )
}

/// The definition of the target instance's version, parsed once per version.
pub(super) async fn definition_of(
    state: &AppState,
    target: &WebhookTarget,
) -> Result<Arc<Definition>, Refusal> {
    definition(state, target.org_id, target.version_id).await
}

/// The parsed definition of version `version_id`, parsed once per version.
pub(super) async fn definition(
    state: &AppState,
    org_id: Uuid,
    version_id: Uuid,
) -> Result<Arc<Definition>, Refusal> {
    if let Some(found) = state.definitions.cached(version_id) {
        return Ok(found);
    }
    let org = Tenant::organization(org_id);
    let version = state
        .store
        .instance_version(&org, version_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    state.definitions.of(&version).map_err(|err| {
        tracing::error!(error = %err, "a published definition no longer parses");
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the integration's definition cannot be read",
        )
    })
}

/// Enforces the per-endpoint rate limit, if one is set: 429 with `Retry-After` (whole seconds,
/// at least 1) when the endpoint's bucket is empty.
fn check_rate(state: &AppState, endpoint: Uuid) -> Result<(), Refusal> {
    let Some(limiter) = &state.rate_limit else {
        return Ok(());
    };
    limiter.take(endpoint).map_err(|wait| Refusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        message: format!(
            "this endpoint takes at most {} requests per second; retry in {} s",
            limiter.rate(),
            wait.as_secs().max(1)
        ),
        retry_after: Some(wait.as_secs().max(1)),
    })
}

/// Enforces the flow's endpoint security with the `Api-Key` header.
fn check_api_key(flow: &Flow, target: &WebhookTarget, headers: &HeaderMap) -> Result<(), Refusal> {
    let required = match flow.trigger.endpoint_security_type {
        EndpointSecurity::Unsecured => false,
        EndpointSecurity::CustomerOptional => !target.api_keys.is_empty(),
        EndpointSecurity::CustomerRequired | EndpointSecurity::Organization => true,
    };
    if !required {
        return Ok(());
    }
    let given = headers.get("api-key").and_then(|v| v.to_str().ok());
    match given {
        None => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs an Api-Key header",
        )),
        Some(key)
            if target
                .api_keys
                .iter()
                .any(|k| constant_time_eq(k.as_bytes(), key.as_bytes())) =>
        {
            Ok(())
        }
        Some(_) => Err(refuse(
            StatusCode::FORBIDDEN,
            "the Api-Key is not valid for this endpoint",
        )),
    }
}

/// Compares without stopping at the first difference, so timing does not reveal keys.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header_is_true(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Adds `webhookUrls` (every flow of the instance, by flow name) and `invokeUrl`.
fn add_urls(
    state: &AppState,
    target: &WebhookTarget,
    definition: &Definition,
    raw_id: &str,
    payload: &mut RequestPayload,
) {
    let instance = (target.instance_id, target.integration_id);
    let urls = webhook_urls(
        &state.public_url,
        definition,
        instance,
        &target.flow_configs,
    );
    payload.set("webhookUrls", Value::Object(urls));
    let invoke_url = format!("{}/trigger/{raw_id}", state.public_url);
    payload.set("invokeUrl", Value::String(invoke_url));
}

/// The webhook URL of every flow of an instance (given as its id and its integration's id), by
/// flow name (a trigger payload's `webhookUrls`).
pub(crate) fn webhook_urls(
    public_url: &str,
    definition: &Definition,
    instance: (Uuid, Uuid),
    flow_configs: &[FlowConfig],
) -> Map<String, Value> {
    definition
        .flows
        .iter()
        .filter_map(|flow| {
            let config = flow_configs
                .iter()
                .find(|c| c.flow_key == flow_identity(flow))?;
            let owner = super::UrlOwner {
                flow_config: config.id,
                instance: instance.0,
                integration: instance.1,
            };
            let url = super::webhook_url(public_url, definition.endpoint_type, owner);
            Some((flow.name.clone(), Value::String(url)))
        })
        .collect()
}
