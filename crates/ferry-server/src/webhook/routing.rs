//! Routing requests to instance-specific and shared endpoints (`DESIGN.md` 3.2): an
//! instance's URL runs the flow the request names; an integration's shared URL runs the flow
//! the request names in the instance of the customer whose external id it carries. The names
//! are read at the dotted paths of `triggerPreprocessFlowConfig` (`headers.x-flow`,
//! `body.data.customer`; a leading `results.` is allowed), or, when the integration has a
//! preprocess flow, from the `data` of that flow's result (at the paths of its
//! `preprocessFlowConfig`): the preprocess flow runs first, synchronously, and its answer
//! routes the request. On an instance's URL it runs as an execution of that instance; on a
//! shared URL, where the customer is not known yet, in the router instance of the version
//! whose endpoint configuration applies (a system instance, see `ferry-store`'s `routing.rs`),
//! so it sees no customer's config values. A preprocess flow that fails answers 400 with its
//! error, one still running after the synchronous wait 503.

use axum::http::StatusCode;
use ferry_core::execution::ExecutionStatus;
use ferry_core::instance::Instance;
use ferry_core::payload::Payload;
use ferry_definition::model::{EndpointType, Flow, RoutingFields, TriggerType};
use ferry_definition::values::flow_identity;
use ferry_definition::Definition;
use ferry_store::{NewExecution, StoreError, Tenant};
use serde_json::Value;
use uuid::Uuid;

use super::ingress::{definition, missing, refuse, unavailable, Endpoint, Refusal};
use super::payload::text_at;
use crate::AppState;

/// The flow config a request to `endpoint` runs.
pub(super) async fn route(
    state: &AppState,
    endpoint: Endpoint,
    payload: &Value,
) -> Result<Uuid, Refusal> {
    match endpoint {
        Endpoint::FlowConfig(id) => Ok(id),
        Endpoint::Instance(id) => instance_specific(state, id, payload).await,
        Endpoint::Integration(id) => shared(state, id, payload).await,
    }
}

fn not_found(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::NOT_FOUND, message)
}

async fn instance_specific(
    state: &AppState,
    instance_id: Uuid,
    payload: &Value,
) -> Result<Uuid, Refusal> {
    let org = state
        .store
        .instance_org(instance_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    let Some(org) = org else {
        return Err(missing(state, instance_id, "").await);
    };
    let instance = load_instance(state, org, instance_id).await?;
    let definition = definition(state, org, instance.version_id).await?;
    if definition.endpoint_type != EndpointType::InstanceSpecific {
        return Err(not_found(
            "this instance's flows have webhook URLs of their own",
        ));
    }
    let (fields, source) = match preprocess_flow(&definition) {
        Some(flow) => preprocessed(state, org, (&instance, flow), payload).await?,
        None => from_request(&definition, payload),
    };
    let flow = named_flow(&definition, &fields, &source)?;
    flow_config(&instance, flow)
}

async fn shared(state: &AppState, integration_id: Uuid, payload: &Value) -> Result<Uuid, Refusal> {
    let store = &state.store;
    let org = store
        .integration_org(integration_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    let org = org.ok_or_else(|| not_found("no such webhook"))?;
    let version = store
        .latest_deployed_version(org, integration_id)
        .await
        .map_err(|e| unavailable(state, e))?;
    let version = version.ok_or_else(|| not_found("no customer has this integration deployed"))?;
    let definition = definition(state, org, version).await?;
    if definition.endpoint_type != EndpointType::SharedInstance {
        return Err(not_found("this integration's webhooks are not shared"));
    }
    let (fields, source) = match preprocess_flow(&definition) {
        Some(flow) => {
            let router = store
                .router_instance(org, version, flow_identity(flow))
                .await
                .map_err(|e| unavailable(state, e))?;
            preprocessed(state, org, (&router, flow), payload).await?
        }
        None => from_request(&definition, payload),
    };
    let path = fields
        .external_customer_id_field
        .as_deref()
        .unwrap_or_default();
    let external_id = text_at(&source, path).ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("{} names no customer at `{path}`", source_name(&definition)),
        )
    })?;
    let instance_id = store
        .instance_for_external_id(org, integration_id, &external_id)
        .await
        .map_err(|e| unavailable(state, e))?
        .ok_or_else(|| {
            not_found(format!(
                "no instance of this integration for customer {external_id:?}"
            ))
        })?;
    let instance = load_instance(state, org, instance_id).await?;
    let flow = named_flow(&definition, &fields, &source)?;
    flow_config(&instance, flow)
}

async fn load_instance(state: &AppState, org: Uuid, id: Uuid) -> Result<Instance, Refusal> {
    match state.store.instance(&Tenant::organization(org), id).await {
        Ok(instance) => Ok(instance),
        Err(StoreError::NotFound { .. }) => Err(not_found("no such webhook")),
        Err(err) => Err(unavailable(state, err)),
    }
}

/// What routing reads names from, for error messages.
fn source_name(definition: &Definition) -> &'static str {
    match preprocess_flow(definition) {
        Some(_) => "the preprocess flow's result",
        None => "the request",
    }
}

fn preprocess_flow(definition: &Definition) -> Option<&Flow> {
    definition.flows.iter().find(|f| f.is_preprocess_flow)
}

/// The flow the request (or the preprocess flow's answer) names; an integration with one
/// routable flow needs no name.
fn named_flow<'d>(
    definition: &'d Definition,
    fields: &RoutingFields,
    source: &Value,
) -> Result<&'d Flow, Refusal> {
    let routable: Vec<&Flow> = definition
        .flows
        .iter()
        .filter(|f| !f.is_preprocess_flow && f.trigger.kind == TriggerType::Webhook)
        .collect();
    let path = fields.flow_name_field.as_deref().unwrap_or_default();
    let Some(name) = text_at(source, path) else {
        return match routable.as_slice() {
            [only] => Ok(only),
            _ => Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("{} names no flow at `{path}`", source_name(definition)),
            )),
        };
    };
    routable
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| not_found(format!("no webhook flow named {name:?}")))
}

fn flow_config(instance: &Instance, flow: &Flow) -> Result<Uuid, Refusal> {
    let key = flow_identity(flow);
    instance
        .flow_configs
        .iter()
        .find(|c| c.flow_key == key)
        .map(|c| c.id)
        .ok_or_else(|| not_found(format!("the instance has no flow {:?}", flow.name)))
}

/// Routing by the request itself: the integration's `triggerPreprocessFlowConfig` paths.
fn from_request(definition: &Definition, payload: &Value) -> (RoutingFields, Value) {
    let fields = definition.trigger_preprocess_flow_config.clone();
    (fields.unwrap_or_default(), payload.clone())
}

/// Routing by a preprocess flow run in `instance`: its `preprocessFlowConfig` paths, read in
/// its answer.
async fn preprocessed(
    state: &AppState,
    org: Uuid,
    (instance, flow): (&Instance, &Flow),
    payload: &Value,
) -> Result<(RoutingFields, Value), Refusal> {
    let tenant = Tenant::organization(org);
    let answer = run_preprocess(state, &tenant, (instance, flow), payload).await?;
    let fields = flow.preprocess_flow_config.clone().unwrap_or_default();
    Ok((fields, answer))
}

/// Runs the preprocess flow on the request and gives its result's `data`.
async fn run_preprocess(
    state: &AppState,
    tenant: &Tenant,
    (instance, flow): (&Instance, &Flow),
    payload: &Value,
) -> Result<Value, Refusal> {
    let config = flow_config(instance, flow)?;
    let new = NewExecution {
        instance_id: instance.id,
        customer_id: instance.customer_id,
        flow_config_id: config,
        flow_key: flow_identity(flow).to_string(),
        is_synchronous: true,
        trigger_payload: Payload::from_value(payload.clone()),
        invoked_by: None,
        replay_for: None,
        cancellation_key: None,
        fifo: false,
    };
    let queued = state
        .dispatch
        .enqueue(tenant, new)
        .await
        .map_err(|e| unavailable(state, e))?;
    let ended = state
        .signals
        .wait_for_end(&state.store, tenant, queued, state.sync_timeout)
        .await
        .map_err(|e| unavailable(state, e))?;
    match ended {
        Some(done) if done.status == ExecutionStatus::Succeeded => Ok(done
            .result
            .and_then(|r| r.get("data").cloned())
            .unwrap_or(Value::Null)),
        Some(done) => Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "the preprocess flow failed: {}",
                done.error.unwrap_or_default()
            ),
        )),
        None => Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the preprocess flow gave no answer within {} s",
                state.sync_timeout.as_secs()
            ),
        )),
    }
}
