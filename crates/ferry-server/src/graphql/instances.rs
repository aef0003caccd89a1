//! Instances: `createInstance`, `updateInstanceConfigVariables`, `deployInstance`,
//! `updateInstance` (rename, enable or pause, upgrade or roll back), `deleteInstance`,
//! `instances`, `instance`.
//!
//! Values are checked against the variables of the instance's version; connection values are
//! secrets (sealed by the store, masked here). A deploy is refused while a variable without a
//! default has no value, naming each such variable.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::id::{self, Kind};
use ferry_core::instance::{ConfigValue, Instance};
use ferry_core::integration::IntegrationVersion;
use ferry_core::role::Permission;
use ferry_definition::values::{flow_identity, missing_values, var_identity};
use ferry_definition::Definition;
use ferry_store::{InstanceFilter, NewInstance, StoreError, Tenant, VersionChange};
use futures::FutureExt;

use crate::graphql::config_values::{checked_values, ConfigVariableNode};
use crate::graphql::connection::{connection, known_count, memory_page, page_request};
use crate::graphql::customers::CustomerNode;
use crate::graphql::env;
use crate::graphql::errors::{
    bad_input, denied, domain_errors, payload_errors, query_error, FieldErrors,
};
use crate::graphql::integrations::{FlowNode, IntegrationNode, IntegrationVersionNode};
use crate::graphql::test_instances::shape_of;
use crate::webhook::{webhook_url, UrlOwner};

/// An integration version deployed for one customer.
#[derive(Clone)]
pub struct InstanceNode(pub Instance);

#[Object(name = "Instance")]
impl InstanceNode {
    /// The instance's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::Instance, self.0.id))
    }
    /// Unique per customer.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Free text.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// A paused instance answers its webhooks with 409 and runs nothing.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Whether its executions store no step results and no log lines (for compliance); their
    /// status, payload and final result are still kept.
    async fn disable_logs_and_step_results(&self) -> bool {
        self.0.disable_logs_and_step_results
    }
    /// When it was last deployed.
    async fn last_deployed_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_deployed_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The customer it serves.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerNode> {
        let (api, actor) = env(ctx);
        let customer = api
            .store
            .customer(&actor.tenant, self.0.customer_id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(CustomerNode(customer))
    }
    /// The integration.
    async fn integration(&self, ctx: &Context<'_>) -> async_graphql::Result<IntegrationNode> {
        let (api, actor) = env(ctx);
        let org = Tenant::organization(actor.tenant.org_id);
        let integration = api
            .store
            .integration(&org, self.0.integration_id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(IntegrationNode(integration))
    }
    /// The published version it runs.
    async fn integration_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<IntegrationVersionNode> {
        Ok(IntegrationVersionNode(version_of(ctx, &self.0).await?))
    }
    /// Its config variables with their values (secrets masked).
    async fn config_variables(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<InstanceConfigVariableConnection> {
        let definition = definition_of(ctx, &self.0).await?;
        let values: BTreeMap<&str, &ConfigValue> = self
            .0
            .config_values
            .iter()
            .map(|v| (v.key.as_str(), v))
            .collect();
        let all: Vec<ConfigVariableNode> = definition
            .required_config_vars
            .iter()
            .map(|var| ConfigVariableNode::new(var, values.get(var_identity(var)).copied()))
            .collect();
        let total = all.len();
        let (page, after_given) = memory_page(all, |v| v.key.clone(), after.as_deref(), first)?;
        Ok(InstanceConfigVariableConnection::new(
            page,
            after_given,
            |v| v,
            known_count(total),
        ))
    }
    /// One per flow: its webhook URL and API keys.
    async fn flow_configs(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<InstanceFlowConfigConnection> {
        let (api, _) = env(ctx);
        let definition = definition_of(ctx, &self.0).await?;
        let all: Vec<FlowConfigNode> = self
            .0
            .flow_configs
            .iter()
            .filter_map(|config| {
                let flow = definition
                    .flows
                    .iter()
                    .find(|f| flow_identity(f) == config.flow_key)?;
                let owner = UrlOwner {
                    flow_config: config.id,
                    instance: self.0.id,
                    integration: self.0.integration_id,
                };
                Some(FlowConfigNode {
                    webhook_url: webhook_url(&api.public_url, definition.endpoint_type, owner),
                    id: ID(id::encode(Kind::InstanceFlowConfig, config.id)),
                    flow: FlowNode::from_flow(flow),
                    api_keys: config.api_keys.clone(),
                })
            })
            .collect();
        let total = all.len();
        let (page, after_given) = memory_page(all, |f| f.id.to_string(), after.as_deref(), first)?;
        Ok(InstanceFlowConfigConnection::new(
            page,
            after_given,
            |f| f,
            known_count(total),
        ))
    }
}

/// An instance's copy of one flow.
#[derive(SimpleObject, Clone)]
#[graphql(name = "InstanceFlowConfig")]
pub struct FlowConfigNode {
    /// Its id (the last segment of its webhook URL).
    id: ID,
    /// The flow.
    flow: FlowNode,
    /// Where to send requests that trigger it.
    webhook_url: String,
    /// Keys callers send as `Api-Key` to secured endpoints.
    api_keys: Vec<String>,
}

connection!(InstanceConnection, InstanceEdge, InstanceNode);
connection!(
    InstanceConfigVariableConnection,
    InstanceConfigVariableEdge,
    ConfigVariableNode
);
connection!(
    InstanceFlowConfigConnection,
    InstanceFlowConfigEdge,
    FlowConfigNode
);

async fn version_of(
    ctx: &Context<'_>,
    instance: &Instance,
) -> async_graphql::Result<ferry_core::integration::IntegrationVersion> {
    let (api, actor) = env(ctx);
    let org = Tenant::organization(actor.tenant.org_id);
    api.store
        .instance_version(&org, instance.version_id)
        .await
        .map_err(|e| query_error(ctx, e))
}

async fn definition_of(
    ctx: &Context<'_>,
    instance: &Instance,
) -> async_graphql::Result<Arc<Definition>> {
    published(ctx, &version_of(ctx, instance).await?)
}

/// A published version's definition, parsed once per version.
fn published(
    ctx: &Context<'_>,
    version: &IntegrationVersion,
) -> async_graphql::Result<Arc<Definition>> {
    let (api, _) = env(ctx);
    api.definitions
        .of(version)
        .map_err(|err| async_graphql::Error::new(err.to_string()))
}

fn viewer(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ViewCustomerInstances, "view instances")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// Instance queries.
#[derive(Default)]
pub struct InstanceQuery;

#[Object]
impl InstanceQuery {
    /// The instances the caller may see (customer users: their customer's).
    #[allow(clippy::too_many_arguments)] // One per GraphQL argument, as the API names them.
    async fn instances(
        &self,
        ctx: &Context<'_>,
        customer: Option<ID>,
        integration: Option<ID>,
        is_system: Option<bool>,
        enabled: Option<bool>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<InstanceConnection> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let customer_id = customer
            .map(|c| id::decode(Kind::Customer, &c))
            .transpose()
            .map_err(bad_input)?;
        let integration_id = integration
            .map(|i| id::decode(Kind::Integration, &i))
            .transpose()
            .map_err(bad_input)?;
        let filter = InstanceFilter {
            customer_id,
            integration_id,
            is_system,
            enabled,
        };
        let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
        let page = page_request(ctx, first, after)?;
        let found = api
            .store
            .instances(&tenant, &filter, &page)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let store = api.store.clone();
        let count = Box::new(move || {
            let (store, filter) = (store.clone(), filter.clone());
            async move { store.count_instances(&tenant, &filter).await }.boxed()
        });
        Ok(InstanceConnection::new(
            found,
            after_given,
            InstanceNode,
            count,
        ))
    }

    /// One instance by id.
    async fn instance(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<InstanceNode> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let id = id::decode(Kind::Instance, &id).map_err(bad_input)?;
        Ok(InstanceNode(
            api.store
                .instance(&tenant, id)
                .await
                .map_err(|e| query_error(ctx, e))?,
        ))
    }
}

/// One config variable value in an input.
#[derive(InputObject)]
pub struct ConfigVariableInput {
    /// The variable's key.
    pub(crate) key: String,
    /// The value: a string, JSON for structured types.
    pub(crate) value: String,
}

/// Input of `createInstance`.
#[derive(InputObject)]
pub struct CreateInstanceInput {
    /// The customer's id.
    customer: ID,
    /// An integration id (its latest available version) or an integration version id.
    integration: ID,
    /// Unique per customer.
    name: String,
    /// Free text.
    description: Option<String>,
    /// Values for its config variables.
    config_variables: Option<Vec<ConfigVariableInput>>,
}

/// Input of `updateInstanceConfigVariables`.
#[derive(InputObject)]
pub struct UpdateInstanceConfigVariablesInput {
    /// The instance.
    id: ID,
    /// The values to set.
    config_variables: Vec<ConfigVariableInput>,
}

/// Input of `updateInstance`: fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateInstanceInput {
    /// The instance.
    id: ID,
    /// A new name.
    name: Option<String>,
    /// A new description.
    description: Option<String>,
    /// Enable (true) or pause (false).
    enabled: Option<bool>,
    /// Store no step results or log lines for its executions (true), or store them again (false).
    disable_logs_and_step_results: Option<bool>,
    /// Another published version of the integration (an upgrade or a roll-back).
    version: Option<ID>,
}

/// Input of `updateInstanceFlowConfig`.
#[derive(InputObject)]
pub struct UpdateInstanceFlowConfigInput {
    /// The flow config (from `instance { flowConfigs }`).
    id: ID,
    /// The keys callers must send as `Api-Key`; an empty list removes them.
    api_keys: Vec<String>,
}

/// Input of `deployInstance` and `deleteInstance`.
#[derive(InputObject)]
pub struct InstanceIdInput {
    /// The instance.
    id: ID,
}

/// The result of an instance mutation.
#[derive(SimpleObject)]
pub struct InstancePayload {
    /// The instance, unless `errors` says why not.
    instance: Option<InstanceNode>,
    /// What was wrong.
    errors: Vec<FieldErrors>,
}

impl InstancePayload {
    pub(super) fn failed(errors: Vec<FieldErrors>) -> Self {
        Self {
            instance: None,
            errors,
        }
    }
    pub(super) fn from_result(
        ctx: &Context<'_>,
        result: Result<Instance, StoreError>,
    ) -> async_graphql::Result<Self> {
        match result {
            Ok(instance) => Ok(Self {
                instance: Some(InstanceNode(instance)),
                errors: Vec::new(),
            }),
            Err(err) => Ok(Self::failed(payload_errors(ctx, err)?)),
        }
    }
}

/// Fails unless the caller may create, change or delete instances.
fn manager(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    if actor.can(Permission::ManageInstances)
        || (actor.is_customer_user() && actor.can(Permission::ConfigureInstances))
    {
        return Ok(actor.tenant);
    }
    Err(denied(actor.deny("manage instances")))
}

/// Fails unless the caller may set config values and deploy.
fn configurer(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ConfigureInstances, "configure instances")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// The version an `integration` argument names: a version id, or an integration id meaning
/// its latest available version.
async fn version_for(
    ctx: &Context<'_>,
    tenant: &Tenant,
    integration: &ID,
) -> Result<ferry_core::integration::IntegrationVersion, Vec<FieldErrors>> {
    let (api, _) = env(ctx);
    let org = Tenant::organization(tenant.org_id);
    let version = if let Ok(version_id) = id::decode(Kind::IntegrationVersion, integration) {
        api.store.integration_version(&org, version_id).await
    } else {
        let integration_id = id::decode(Kind::Integration, integration)
            .map_err(|e| FieldErrors::one("integration", e.to_string()))?;
        let page = ferry_store::PageRequest::new(Some(1), None)
            .map_err(|e| FieldErrors::one("integration", e.to_string()))?;
        match api
            .store
            .integration_versions(&org, integration_id, Some(true), &page)
            .await
        {
            Ok(found) => {
                found
                    .items
                    .into_iter()
                    .next()
                    .map(|(v, _)| v)
                    .ok_or(StoreError::Conflict {
                        field: "integration",
                        message:
                            "the integration has no available published version; publish it first"
                                .into(),
                    })
            }
            Err(err) => Err(err),
        }
    };
    match version {
        Ok(version) if version.is_available => Ok(version),
        Ok(version) => Err(FieldErrors::one(
            "integration",
            format!("version {} is not available", version.version_number),
        )),
        Err(StoreError::NotFound { kind }) => {
            Err(FieldErrors::one("integration", format!("{kind} not found")))
        }
        Err(StoreError::Conflict { field, message }) => Err(FieldErrors::one(field, message)),
        Err(err) => Err(FieldErrors::one("integration", err.to_string())),
    }
}

/// Instance mutations.
#[derive(Default)]
pub struct InstanceMutation;

#[Object]
impl InstanceMutation {
    /// Creates an instance of a published version for a customer.
    async fn create_instance(
        &self,
        ctx: &Context<'_>,
        input: CreateInstanceInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let customer_id = match id::decode(Kind::Customer, &input.customer) {
            Ok(id) => id,
            Err(err) => {
                return Ok(InstancePayload::failed(FieldErrors::one(
                    "customer",
                    err.to_string(),
                )))
            }
        };
        let version = match version_for(ctx, &tenant, &input.integration).await {
            Ok(version) => version,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        let definition = published(ctx, &version)?;
        let config_values =
            match checked_values(&definition, input.config_variables.unwrap_or_default()) {
                Ok(values) => values,
                Err(errors) => return Ok(InstancePayload::failed(errors)),
            };
        let new = NewInstance {
            customer_id,
            version_id: version.id,
            name: input.name,
            description: input.description.unwrap_or_default(),
            config_values,
            flow_keys: definition
                .flows
                .iter()
                .map(|f| flow_identity(f).to_string())
                .collect(),
        };
        let result = api.store.create_instance(&tenant, new).await;
        if let Err(StoreError::NotFound { kind: "customer" }) = result {
            return Ok(InstancePayload::failed(FieldErrors::one(
                "customer",
                "customer not found",
            )));
        }
        InstancePayload::from_result(ctx, result)
    }

    /// Sets config values, checked against the instance's version.
    async fn update_instance_config_variables(
        &self,
        ctx: &Context<'_>,
        input: UpdateInstanceConfigVariablesInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = configurer(ctx)?;
        let (api, _) = env(ctx);
        let instance = match find(ctx, &tenant, &input.id).await? {
            Ok(instance) => instance,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        let definition = definition_of(ctx, &instance).await?;
        let values = match checked_values(&definition, input.config_variables) {
            Ok(values) => values,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        InstancePayload::from_result(
            ctx,
            api.store
                .set_config_values(&tenant, instance.id, &values)
                .await,
        )
    }

    /// Deploys an instance; refused, naming them, while variables lack values or a schedule
    /// cannot be computed. Starts its schedules and `instanceDeploy` flows.
    async fn deploy_instance(
        &self,
        ctx: &Context<'_>,
        input: InstanceIdInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = configurer(ctx)?;
        let instance = match find(ctx, &tenant, &input.id).await? {
            Ok(instance) => instance,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        let definition = definition_of(ctx, &instance).await?;
        let values: BTreeMap<String, String> = instance
            .config_values
            .iter()
            .map(|v| (v.key.clone(), v.value.clone()))
            .collect();
        let missing = missing_values(&definition, &values);
        if !missing.is_empty() {
            let messages = missing
                .iter()
                .map(|key| format!("{key:?} needs a value"))
                .collect();
            return Ok(InstancePayload::failed(vec![FieldErrors {
                field: "configVariables".into(),
                messages,
            }]));
        }
        super::lifecycle::deploy(ctx, &tenant, &instance, &definition).await
    }

    /// Renames, describes, enables or pauses an instance, or moves it to another version.
    async fn update_instance(
        &self,
        ctx: &Context<'_>,
        input: UpdateInstanceInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let instance = match find(ctx, &tenant, &input.id).await? {
            Ok(instance) => instance,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        if let Some(version) = &input.version {
            let version = match version_for(ctx, &tenant, version).await {
                Ok(version) => version,
                Err(errors) => {
                    return Ok(InstancePayload::failed(
                        errors
                            .into_iter()
                            .map(|e| FieldErrors {
                                field: "version".into(),
                                ..e
                            })
                            .collect(),
                    ))
                }
            };
            let definition = published(ctx, &version)?;
            let shape = shape_of(&definition);
            let change = VersionChange {
                version_id: version.id,
                flow_keys: shape.flow_keys,
                flow_renames: shape.flow_renames,
                var_renames: shape.var_renames,
            };
            if let Err(err) = api
                .store
                .change_version(&tenant, instance.id, &change)
                .await
            {
                return Ok(InstancePayload::failed(payload_errors(ctx, err)?));
            }
        }
        if let Some(disable) = input.disable_logs_and_step_results {
            if let Err(err) = api
                .store
                .set_disable_logs_and_step_results(&tenant, instance.id, disable)
                .await
            {
                return Ok(InstancePayload::failed(payload_errors(ctx, err)?));
            }
        }
        let result = api
            .store
            .update_instance(
                &tenant,
                instance.id,
                input.name.as_deref(),
                input.description.as_deref(),
                input.enabled,
            )
            .await;
        InstancePayload::from_result(ctx, result)
    }

    /// Sets the API keys of one flow's webhook (for `customer_optional`, `customer_required` and
    /// `organization` endpoints).
    async fn update_instance_flow_config(
        &self,
        ctx: &Context<'_>,
        input: UpdateInstanceFlowConfigInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = configurer(ctx)?;
        let (api, _) = env(ctx);
        let id = match id::decode(Kind::InstanceFlowConfig, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(InstancePayload::failed(domain_errors(err))),
        };
        let mut errors = Vec::new();
        for (index, key) in input.api_keys.iter().enumerate() {
            let length = key.chars().count();
            if !(8..=256).contains(&length) || key.chars().any(char::is_whitespace) {
                errors.extend(FieldErrors::one(
                    &format!("apiKeys[{index}]"),
                    "an API key is 8 to 256 characters without spaces",
                ));
            }
        }
        if !errors.is_empty() {
            return Ok(InstancePayload::failed(errors));
        }
        InstancePayload::from_result(
            ctx,
            api.store
                .set_flow_api_keys(&tenant, id, &input.api_keys)
                .await,
        )
    }

    /// Deletes an instance; its webhook URLs stop answering.
    async fn delete_instance(
        &self,
        ctx: &Context<'_>,
        input: InstanceIdInput,
    ) -> async_graphql::Result<InstancePayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let instance = match find(ctx, &tenant, &input.id).await? {
            Ok(instance) => instance,
            Err(errors) => return Ok(InstancePayload::failed(errors)),
        };
        let definition = definition_of(ctx, &instance).await?;
        let removal = super::lifecycle::before_removal(ctx, &tenant, &instance, &definition).await;
        if let Err(err) = removal {
            return InstancePayload::from_result(ctx, Err(err));
        }
        InstancePayload::from_result(ctx, api.store.delete_instance(&tenant, instance.id).await)
    }
}

/// Decodes and fetches the instance a mutation names; `Err` holds the `errors` to answer with.
async fn find(
    ctx: &Context<'_>,
    tenant: &Tenant,
    id: &ID,
) -> async_graphql::Result<Result<Instance, Vec<FieldErrors>>> {
    let (api, _) = env(ctx);
    let id = match id::decode(Kind::Instance, id) {
        Ok(id) => id,
        Err(err) => return Ok(Err(domain_errors(err))),
    };
    match api.store.instance(tenant, id).await {
        Ok(instance) => Ok(Ok(instance)),
        Err(err) => Ok(Err(payload_errors(ctx, err)?)),
    }
}
