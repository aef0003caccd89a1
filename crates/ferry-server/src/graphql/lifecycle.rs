//! What `deployInstance` starts besides marking the instance deployed:
//!
//! - **Schedules.** Each flow with a `schedule` trigger gets a schedule: its `cron`, or the
//!   value of its `configVar` (a variable of type schedule: the instance's value, else the
//!   variable's default), read in the trigger's `timezone` (UTC by default). They replace the
//!   instance's stored schedules; the engine's scheduler fires them. A bad or missing
//!   expression, an unknown time zone, or an expression that never fires refuses the deploy
//!   with `errors` naming the flow or the variable, and nothing changes. Flows with a
//!   `polling` trigger get a schedule from their `cron` the same way; each tick's execution
//!   polls first (`ferry-engine`'s `run/poll.rs`).
//! - **`instanceDeploy` flows.** Each `management` flow with `event: instanceDeploy` gets a
//!   queued execution with the payload
//!   `{ "event": "instanceDeploy", "webhookUrls": { <flow name>: <url> }, "body": { "data": null } }`.
//!
//! - **Custom triggers' deploy hooks** (`trigger_hooks.rs`), before anything else changes: one
//!   that throws refuses the deploy with `errors` naming the flow.
//!
//! And what `deleteInstance` runs first: custom triggers' delete hooks (failures logged), and each `instanceRemove` flow gets a queued execution with
//! the same payload shape (`"event": "instanceRemove"`), and the deletion waits for them (30 s
//! at most each), since it removes their executions with the rest of the instance's data.

use chrono::{DateTime, Utc};
use ferry_core::instance::Instance;
use ferry_core::payload::Payload;
use ferry_definition::model::{ConfigVar, Flow, ManagementEvent, TriggerType};
use ferry_definition::values::{flow_identity, var_identity};
use ferry_definition::Definition;
use ferry_engine::scheduler::{parse_timezone, CronSchedule, DEFAULT_TIMEZONE};
use ferry_store::{NewExecution, NewSchedule, StoreError, Tenant};
use serde_json::{json, Value};

use async_graphql::Context;

use crate::graphql::errors::FieldErrors;
use crate::graphql::instances::InstancePayload;
use crate::graphql::trigger_hooks::{run_hooks, Hook};
use crate::graphql::{env, Api};
use crate::webhook::webhook_urls;

/// Deploys `instance` of `definition`: replaces its schedules, marks it deployed, and queues
/// its `instanceDeploy` flows. Refused, changing nothing, when a schedule cannot be computed.
pub(super) async fn deploy(
    ctx: &Context<'_>,
    tenant: &Tenant,
    instance: &Instance,
    definition: &Definition,
) -> async_graphql::Result<InstancePayload> {
    let (api, _) = env(ctx);
    let schedules = match schedules_of(definition, instance, Utc::now()) {
        Ok(schedules) => schedules,
        Err(errors) => return Ok(InstancePayload::failed(errors)),
    };
    let hooks = run_hooks(api, tenant, (instance, definition), Hook::Deploy).await;
    match hooks {
        Ok(problems) if !problems.is_empty() => return Ok(InstancePayload::failed(problems)),
        Ok(_) => {}
        Err(err) => return InstancePayload::from_result(ctx, Err(err)),
    }
    if let Err(err) = api
        .store
        .replace_schedules(tenant, instance.id, &schedules)
        .await
    {
        return InstancePayload::from_result(ctx, Err(err));
    }
    let deployed = api.store.mark_deployed(tenant, instance.id).await;
    if deployed.is_ok() {
        let deploy_flows = queue_management_flows(
            api,
            tenant,
            (instance, definition),
            ManagementEvent::InstanceDeploy,
        );
        if let Err(err) = deploy_flows.await {
            return InstancePayload::from_result(ctx, Err(err));
        }
    }
    InstancePayload::from_result(ctx, deployed)
}

/// One problem found while computing schedules: the input field and the message.
type Problem = (String, String);

/// The schedules of `instance`'s schedule and polling flows, first ticks after `now`; every
/// problem at once.
fn schedules_of(
    definition: &Definition,
    instance: &Instance,
    now: DateTime<Utc>,
) -> Result<Vec<NewSchedule>, Vec<FieldErrors>> {
    let mut schedules = Vec::new();
    let mut problems = Vec::new();
    for (index, flow) in definition.flows.iter().enumerate() {
        if !matches!(
            flow.trigger.kind,
            TriggerType::Schedule | TriggerType::Polling
        ) {
            continue;
        }
        match schedule_of(definition, instance, index, now) {
            Ok(Some(schedule)) => schedules.push(schedule),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    match problems.is_empty() {
        true => Ok(schedules),
        false => Err(grouped(problems)),
    }
}

/// The schedule of flow `index`, or `None` when the instance has no config for it.
fn schedule_of(
    definition: &Definition,
    instance: &Instance,
    index: usize,
    now: DateTime<Utc>,
) -> Result<Option<NewSchedule>, Problem> {
    let flow = &definition.flows[index];
    let Some(config) = instance
        .flow_configs
        .iter()
        .find(|c| c.flow_key == flow_identity(flow))
    else {
        return Ok(None);
    };
    let timezone = flow.trigger.timezone.as_deref();
    parse_timezone(timezone).map_err(|err| {
        let field = format!("flows[{index}].trigger.timezone");
        (field, format!("flow {:?}: {err}", flow.name))
    })?;
    let (cron, blame) = cron_of(definition, instance, index)?;
    let next_fire_at = CronSchedule::parse(&cron, timezone)
        .and_then(|schedule| schedule.next_after(now))
        .map_err(|err| blame.problem(&err.0))?;
    Ok(Some(NewSchedule {
        flow_config_id: config.id,
        cron,
        timezone: timezone.unwrap_or(DEFAULT_TIMEZONE).to_string(),
        singleton: flow.trigger.singleton_executions,
        next_fire_at,
    }))
}

/// Where a flow's cron expression comes from, to name it in a problem.
enum Blame<'a> {
    /// The trigger's `cron`, of flow `index`.
    Trigger { index: usize, flow: &'a Flow },
    /// A config variable's value.
    Variable { var: &'a ConfigVar, flow: &'a Flow },
}

impl Blame<'_> {
    fn problem(&self, message: &str) -> Problem {
        match self {
            Blame::Trigger { index, flow } => (
                format!("flows[{index}].trigger.cron"),
                format!("flow {:?}: {message}", flow.name),
            ),
            Blame::Variable { var, flow } => (
                "configVariables".into(),
                format!(
                    "{:?} (the schedule of flow {:?}): {message}",
                    var.key, flow.name
                ),
            ),
        }
    }
}

/// Flow `index`'s cron expression: the trigger's, else its config variable's value or default.
fn cron_of<'a>(
    definition: &'a Definition,
    instance: &Instance,
    index: usize,
) -> Result<(String, Blame<'a>), Problem> {
    let flow = &definition.flows[index];
    if let Some(cron) = &flow.trigger.cron {
        return Ok((cron.clone(), Blame::Trigger { index, flow }));
    }
    let key = flow.trigger.config_var.as_deref().unwrap_or_default();
    let Some(var) = definition
        .required_config_vars
        .iter()
        .find(|v| v.key == key)
    else {
        let field = format!("flows[{index}].trigger.configVar");
        return Err((
            field,
            format!("flow {:?}: no config variable {key:?}", flow.name),
        ));
    };
    let blame = Blame::Variable { var, flow };
    let value = instance
        .config_values
        .iter()
        .find(|v| v.key == var_identity(var))
        .map(|v| v.value.clone())
        .or_else(|| match &var.default_value {
            Some(Value::String(default)) => Some(default.clone()),
            _ => None,
        });
    match value {
        Some(cron) => Ok((cron, blame)),
        None => Err(blame.problem("needs a cron expression")),
    }
}

/// Problems as `errors` values, one per field, in the order fields first appear.
fn grouped(problems: Vec<Problem>) -> Vec<FieldErrors> {
    let mut errors: Vec<FieldErrors> = Vec::new();
    for (field, message) in problems {
        match errors.iter_mut().find(|e| e.field == field) {
            Some(existing) => existing.messages.push(message),
            None => errors.push(FieldErrors {
                field,
                messages: vec![message],
            }),
        }
    }
    errors
}

/// How long a deletion waits for the instance's `instanceRemove` flows.
const REMOVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `instance`'s `instanceRemove` flows before it is deleted, waiting for them (30 s at
/// most each): the deletion removes their executions with the instance's other data, so they
/// must run first. A paused instance runs none. Their failures are logged; the deletion goes on.
pub(super) async fn before_removal(
    ctx: &Context<'_>,
    tenant: &Tenant,
    instance: &Instance,
    definition: &Definition,
) -> Result<(), StoreError> {
    let (api, _) = env(ctx);
    if !instance.enabled {
        return Ok(());
    }
    let hooks = run_hooks(api, tenant, (instance, definition), Hook::Delete).await?;
    for problem in hooks.iter().flat_map(|p| &p.messages) {
        tracing::warn!(instance = %instance.id, "{problem}; deleting anyway");
    }
    let queued = queue_management_flows(
        api,
        tenant,
        (instance, definition),
        ManagementEvent::InstanceRemove,
    )
    .await?;
    for id in queued {
        match api
            .signals
            .wait_for_end(&api.store, tenant, id, REMOVE_TIMEOUT)
            .await?
        {
            Some(done) => {
                tracing::info!(instance = %instance.id, execution = %id, status = done.status.as_str(), "instanceRemove flow ended")
            }
            None => {
                tracing::warn!(instance = %instance.id, execution = %id, "instanceRemove flow did not end in time; deleting anyway")
            }
        }
    }
    Ok(())
}

/// Queues one execution per `management` flow of `event`; gives their ids.
async fn queue_management_flows(
    api: &Api,
    tenant: &Tenant,
    (instance, definition): (&Instance, &Definition),
    event: ManagementEvent,
) -> Result<Vec<uuid::Uuid>, StoreError> {
    let owner = (instance.id, instance.integration_id);
    let urls = webhook_urls(&api.public_url, definition, owner, &instance.flow_configs);
    let name = match event {
        ManagementEvent::InstanceDeploy => "instanceDeploy",
        ManagementEvent::InstanceRemove => "instanceRemove",
    };
    let payload = json!({ "event": name, "webhookUrls": urls, "body": { "data": null } });
    let flows = definition.flows.iter().filter(|flow| {
        flow.trigger.kind == TriggerType::Management && flow.trigger.event == Some(event)
    });
    let mut queued = Vec::new();
    for flow in flows {
        let Some(config) = instance
            .flow_configs
            .iter()
            .find(|c| c.flow_key == flow_identity(flow))
        else {
            continue;
        };
        let new = NewExecution {
            instance_id: instance.id,
            customer_id: instance.customer_id,
            flow_config_id: config.id,
            flow_key: config.flow_key.clone(),
            is_synchronous: false,
            trigger_payload: Payload::from_value(payload.clone()),
            invoked_by: None,
            replay_for: None,
            cancellation_key: None,
            fifo: false,
        };
        let execution = api.store.enqueue_execution(tenant, new).await?;
        api.signals.queued();
        tracing::info!(instance = %instance.id, flow = %flow.name, execution = %execution.id, event = name, "queued a management flow");
        queued.push(execution.id);
    }
    Ok(queued)
}
