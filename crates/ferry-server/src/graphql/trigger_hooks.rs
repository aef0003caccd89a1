//! Custom triggers' `onInstanceDeploy` and `onInstanceDelete` hooks: `deployInstance` runs the
//! deploy hook of every flow whose trigger is a custom component trigger (say, registering the
//! flow's webhook URL with the third party) before anything is deployed, and a hook that throws
//! refuses the deploy with `errors` naming the flow; `deleteInstance` runs the delete hooks
//! first, logging failures and deleting anyway. A hook sees `context.crossFlowState` (the
//! instance's shared state) and the `crossFlowState` it returns is stored.

use std::time::{Duration, Instant};

use ferry_components::custom::custom_member;
use ferry_core::instance::Instance;
use ferry_definition::values::flow_identity;
use ferry_definition::Definition;
use ferry_js::{ComponentCall, Operation};
use ferry_store::{StateWrite, StoreError, Tenant};
use serde_json::{json, Map, Value};

use crate::graphql::errors::FieldErrors;
use crate::graphql::Api;
use crate::webhook::custom_trigger::{Site, TriggerHost};
use crate::webhook::webhook_urls;

/// How long one hook may take.
const HOOK_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Which hook.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    /// `onInstanceDeploy`.
    Deploy,
    /// `onInstanceDelete`.
    Delete,
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Hook::Deploy => "onInstanceDeploy",
            Hook::Delete => "onInstanceDelete",
        }
    }
}

/// Runs `hook` of every custom trigger of `instance`; the problems, one per failed flow.
pub(crate) async fn run_hooks(
    api: &Api,
    tenant: &Tenant,
    (instance, definition): (&Instance, &Definition),
    hook: Hook,
) -> Result<Vec<FieldErrors>, StoreError> {
    let mut problems = Vec::new();
    for (index, flow) in definition.flows.iter().enumerate() {
        let custom = flow.trigger.action.as_deref().and_then(custom_member);
        let Some((component, member)) = custom else {
            continue;
        };
        let Some(config) = instance
            .flow_configs
            .iter()
            .find(|c| c.flow_key == flow_identity(flow))
        else {
            continue;
        };
        let site = Site {
            definition,
            flow,
            instance,
            flow_config_id: config.id,
        };
        let action = format!("{component}.{member}");
        if let Err(error) = run_one(api, tenant, &site, (component, member), hook).await? {
            let message = format!(
                "flow {:?}: {} of {action} failed: {error}",
                flow.name,
                hook.name()
            );
            problems.push(FieldErrors {
                field: format!("flows[{index}].trigger"),
                messages: vec![message],
            });
        }
    }
    Ok(problems)
}

/// Runs one flow's hook: a store failure, or whether the hook succeeded.
async fn run_one(
    api: &Api,
    tenant: &Tenant,
    site: &Site<'_>,
    (component, member): (&str, &str),
    hook: Hook,
) -> Result<Result<(), String>, StoreError> {
    let (instance, definition) = (site.instance, site.definition);
    let version = definition
        .component_versions
        .get(component)
        .copied()
        .unwrap_or(0);
    let number = i32::try_from(version).unwrap_or(i32::MAX);
    let bundle = api
        .store
        .component_version(tenant, component, number)
        .await?
        .bundle;
    let state = api
        .store
        .state(tenant.org_id, "instance", instance.id)
        .await?;
    let state = state.unwrap_or_else(|| json!({}));
    let owner = (instance.id, instance.integration_id);
    let urls = webhook_urls(&api.public_url, definition, owner, &instance.flow_configs);
    let (context, params) = match site.context(Value::Object(urls), state.clone()) {
        Ok(found) => found,
        Err(error) => return Ok(Err(error)),
    };
    let key = member.to_string();
    let operation = match hook {
        Hook::Deploy => Operation::Deploy { key, params },
        Hook::Delete => Operation::Delete { key, params },
    };
    let call = ComponentCall {
        bundle,
        operation,
        context,
        deadline: Instant::now() + HOOK_TIME_LIMIT,
        time_limit: HOOK_TIME_LIMIT,
    };
    let action = format!("{component}.{member}");
    let output = match api
        .js
        .run_component(call, &TriggerHost { action: &action })
        .await
    {
        Ok(output) => output,
        Err(error) => return Ok(Err(error.to_string())),
    };
    let changes = output.state_changes.instance;
    if !changes.is_empty() {
        let mut merged = match state {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        for (key, value) in changes {
            match value {
                Value::Null => merged.remove(&key),
                value => merged.insert(key, value),
            };
        }
        let write = StateWrite {
            scope: "instance",
            owner_id: instance.id,
            value: Value::Object(merged),
        };
        api.store.set_state(tenant.org_id, &write).await?;
    }
    Ok(Ok(()))
}
