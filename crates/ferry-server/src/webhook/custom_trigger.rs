//! Custom component triggers (`trigger: { type: webhook, action: <component>.<trigger> }`):
//! before the execution is queued, the trigger's `perform` runs in a sandbox with the request
//! as its payload and the trigger's inputs evaluated against the instance's config variables.
//! The payload it returns becomes the trigger's result (what the flow's steps read); the
//! `response` it returns, if any, is the webhook's answer to an asynchronous call (a
//! synchronous call is answered with the flow's result). A trigger that throws refuses the
//! request with 400 and its message; nothing is queued.

use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ferry_components::custom::custom_member;
use ferry_core::id::{self, Kind};
use ferry_core::payload::Payload;
use ferry_definition::model::Flow;
use ferry_definition::Definition;
use ferry_js::{CodeHost, ComponentCall, LogLevel, Operation};
use ferry_store::{Tenant, WebhookTarget};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::ingress::{refuse, unavailable, Refusal};
use super::payload::RequestPayload;
use crate::AppState;

/// How long a trigger's `perform` may take.
const TRIGGER_TIME_LIMIT: Duration = Duration::from_secs(30);

/// What the trigger made of the request.
pub(super) struct Handled {
    /// The trigger's result.
    pub(super) payload: Payload,
    /// The answer it gives the caller, if any.
    pub(super) response: Option<Response>,
}

/// Runs the flow's custom trigger on `payload`, when its trigger is one.
pub(super) async fn handle(
    state: &AppState,
    target: &WebhookTarget,
    (definition, flow): (&Definition, &Flow),
    payload: RequestPayload,
) -> Result<Handled, Refusal> {
    let custom = flow.trigger.action.as_deref().and_then(custom_member);
    let Some((component, member)) = custom else {
        return Ok(Handled {
            payload: payload.into_payload(),
            response: None,
        });
    };
    let payload = payload.into_value();
    let action = format!("{component}.{member}");
    let tenant = Tenant::organization(target.org_id);
    let version = definition.component_versions.get(component).copied();
    let number = version.and_then(|v| i32::try_from(v).ok()).unwrap_or(0);
    let bundle = state
        .store
        .component_version(&tenant, component, number)
        .await
        .map_err(|e| unavailable(state, e))?
        .bundle;
    let instance = state
        .store
        .instance(&tenant, target.instance_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    let site = Site {
        definition,
        flow,
        instance: &instance,
        flow_config_id: target.flow_config_id,
    };
    let (context, params) = site
        .context(payload["webhookUrls"].clone(), json!({}))
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("trigger {action}: {e}")))?;
    let call = ComponentCall {
        bundle,
        operation: Operation::Trigger {
            key: member.to_string(),
            payload,
            params,
        },
        context,
        deadline: Instant::now() + TRIGGER_TIME_LIMIT,
        time_limit: TRIGGER_TIME_LIMIT,
    };
    let host = TriggerHost { action: &action };
    let output = state.js.run_component(call, &host).await.map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("trigger {action} refused the request: {e}"),
        )
    })?;
    let mut data = output.data;
    let response = match data["response"].take() {
        Value::Null => None,
        given => Some(response_of(&given)),
    };
    Ok(Handled {
        payload: Payload::from_value(data["payload"].take()),
        response,
    })
}

/// Where a custom trigger runs: the flow of an instance.
pub(crate) struct Site<'a> {
    pub(crate) definition: &'a Definition,
    pub(crate) flow: &'a Flow,
    pub(crate) instance: &'a ferry_core::instance::Instance,
    pub(crate) flow_config_id: uuid::Uuid,
}

impl Site<'_> {
    /// The `context` a trigger's functions get (`crossFlowState` as given, other state
    /// scopes empty) and its inputs, evaluated against the config variables.
    pub(crate) fn context(
        &self,
        webhook_urls: Value,
        cross_flow_state: Value,
    ) -> Result<(Value, Value), String> {
        let (definition, instance) = (self.definition, self.instance);
        let mut context = Map::new();
        context.insert(
            "configVars".into(),
            ferry_engine::worker::config_vars(definition, instance),
        );
        context.insert(
            "customer".into(),
            json!({ "id": id::encode(Kind::Customer, instance.customer_id) }),
        );
        context.insert(
            "instance".into(),
            json!({ "id": id::encode(Kind::Instance, instance.id), "name": instance.name }),
        );
        context.insert("flow".into(), json!({ "id": id::encode(Kind::InstanceFlowConfig, self.flow_config_id), "name": self.flow.name }));
        context.insert("integration".into(), json!({ "id": id::encode(Kind::Integration, instance.integration_id), "name": definition.name }));
        let params = evaluate_inputs(self.flow, &Value::Object(context.clone()))?;
        context.insert("webhookUrls".into(), webhook_urls);
        for scope in ["executionState", "instanceState", "integrationState"] {
            context.insert(scope.into(), json!({}));
        }
        context.insert("crossFlowState".into(), cross_flow_state);
        Ok((Value::Object(context), params))
    }
}

/// The trigger's inputs, their expressions evaluated against `context`.
fn evaluate_inputs(flow: &Flow, context: &Value) -> Result<Value, String> {
    let evaluator = ferry_engine::expr::Evaluator::new();
    let mut params = Map::new();
    for (key, raw) in &flow.trigger.inputs {
        let value = evaluator
            .evaluate(raw, context)
            .map_err(|e| format!("input `{key}`: {e}"))?;
        params.insert(key.clone(), value);
    }
    Ok(Value::Object(params))
}

/// The HTTP answer a trigger's `{ statusCode, contentType, headers, body }` describes.
fn response_of(given: &Value) -> Response {
    let status = given["statusCode"]
        .as_u64()
        .and_then(|code| StatusCode::from_u16(u16::try_from(code).ok()?).ok())
        .unwrap_or(StatusCode::OK);
    let (body, default_type) = match &given["body"] {
        Value::Null => (Vec::new(), "text/plain; charset=utf-8"),
        Value::String(text) => (text.clone().into_bytes(), "text/plain; charset=utf-8"),
        Value::Object(map) if map.len() == 2 && map.contains_key("base64") => {
            let text = map["base64"].as_str().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default();
            (bytes, "application/octet-stream")
        }
        other => (other.to_string().into_bytes(), "application/json"),
    };
    let content_type = given["contentType"].as_str().unwrap_or(default_type);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(axum::http::header::CONTENT_TYPE, value);
    }
    for (name, value) in given["headers"].as_object().into_iter().flatten() {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&text),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

/// A trigger (or its hooks) runs outside any execution: its log lines go to the server's log.
pub(crate) struct TriggerHost<'a> {
    pub(crate) action: &'a str,
}

impl CodeHost for TriggerHost<'_> {
    fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Error | LogLevel::Warn => {
                tracing::warn!(trigger = self.action, "{message}")
            }
            _ => tracing::info!(trigger = self.action, "{message}"),
        }
    }

    fn invoke_flow(&self, name: String, _data: Value) -> BoxFuture<'_, Result<Value, String>> {
        Box::pin(async move { Err(format!("a trigger cannot invoke flow {name:?}")) })
    }
}
