//! Integrations: `importIntegration`, `publishIntegration`, `updateIntegrationVersionAvailability`,
//! `deleteIntegration`, `integrations`, `integration`, `integrationVersion`.
//!
//! An import is checked in full (`ferry-definition` against the built-in catalogue and the
//! custom component versions its `componentVersions` pin) before
//! anything is stored; every problem comes back as an `errors` value whose `field` is the
//! problem's YAML path and whose message starts with its line.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::id::{self, Kind};
use ferry_core::integration::{Integration, IntegrationVersion};
use ferry_core::role::Permission;
use ferry_store::{
    IntegrationDraft, IntegrationFilter, IntegrationSortField, Sort, StoreError, Tenant,
};
use futures::FutureExt;

use crate::graphql::connection::{connection, page_request, single_sort, SortDirection};
use crate::graphql::env;
use crate::graphql::errors::{
    bad_input, denied, domain_errors, payload_errors, query_error, FieldErrors,
};
use crate::graphql::test_instances::shape_of;

/// An integration: its draft definition and its published versions.
#[derive(Clone)]
pub struct IntegrationNode(pub Integration);

#[Object(name = "Integration")]
impl IntegrationNode {
    /// The integration's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::Integration, self.0.id))
    }
    /// Its name (the definition's `name`).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it does (the definition's `description`).
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The draft definition, as YAML text; importing it gives back the same integration.
    async fn definition(&self) -> &str {
        &self.0.draft
    }
    /// The draft's flows.
    async fn flows(&self) -> async_graphql::Result<Vec<FlowNode>> {
        flows_of(&self.0.draft)
    }
    /// The instance, on the organization's system customer, that runs the draft so that its
    /// flows can be tried before publishing (null until the integration is next imported, for
    /// integrations imported before test instances existed).
    async fn test_instance(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::instances::InstanceNode>> {
        crate::graphql::test_instances::test_instance_of(ctx, self.0.id).await
    }
    /// The latest published version's number; null before the first publish.
    async fn version_number(&self) -> Option<i32> {
        self.0.latest_version
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When its draft last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its published versions, newest first.
    async fn versions(
        &self,
        ctx: &Context<'_>,
        is_available: Option<bool>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<IntegrationVersionConnection> {
        let (api, actor) = env(ctx);
        let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
        let page = page_request(ctx, first, after)?;
        let found = api
            .store
            .integration_versions(&actor.tenant, self.0.id, is_available, &page)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let (store, tenant, integration) = (api.store.clone(), actor.tenant, self.0.id);
        let count = Box::new(move || {
            let store = store.clone();
            async move {
                store
                    .count_integration_versions(&tenant, integration, is_available)
                    .await
            }
            .boxed()
        });
        Ok(IntegrationVersionConnection::new(
            found,
            after_given,
            IntegrationVersionNode,
            count,
        ))
    }
}

/// A published, frozen version of an integration.
#[derive(Clone)]
pub struct IntegrationVersionNode(pub IntegrationVersion);

#[Object(name = "IntegrationVersion")]
impl IntegrationVersionNode {
    /// The version's id (accepted wherever an integration is, meaning this version).
    async fn id(&self) -> ID {
        ID(id::encode(Kind::IntegrationVersion, self.0.id))
    }
    /// 1, 2, 3…; 0 for the draft snapshot a test instance runs.
    async fn version_number(&self) -> i32 {
        self.0.version_number
    }
    /// Whether this is the snapshot of the draft that the integration's test instance runs
    /// (replaced on each import, never among `versions`, not for customers' instances).
    async fn is_draft(&self) -> bool {
        self.0.is_draft
    }
    /// Why it was published.
    async fn comment(&self) -> &str {
        &self.0.comment
    }
    /// Whether new instances may use it.
    async fn is_available(&self) -> bool {
        self.0.is_available
    }
    /// When it was published.
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }
    /// The definition as published.
    async fn definition(&self) -> &str {
        &self.0.definition
    }
    /// The version's flows.
    async fn flows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FlowNode>> {
        let (api, _) = env(ctx);
        let definition = api
            .definitions
            .of(&self.0)
            .map_err(|err| async_graphql::Error::new(err.to_string()))?;
        Ok(definition.flows.iter().map(FlowNode::from_flow).collect())
    }
    /// The integration it belongs to.
    async fn integration(&self, ctx: &Context<'_>) -> async_graphql::Result<IntegrationNode> {
        let (api, actor) = env(ctx);
        let integration = api
            .store
            .integration(&actor.tenant, self.0.integration_id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(IntegrationNode(integration))
    }
}

/// A flow of an integration, as its definition declares it.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Flow")]
pub struct FlowNode {
    /// The flow's name.
    name: String,
    /// Its identity across renames, if declared.
    stable_key: Option<String>,
    /// What it does.
    description: String,
    /// webhook, schedule, management, crossFlow or polling.
    trigger_type: String,
    /// Whether webhook callers wait for its result.
    is_synchronous: bool,
    /// Whether it routes an instance-specific or shared endpoint.
    is_preprocess_flow: bool,
}

impl FlowNode {
    pub(crate) fn from_flow(flow: &ferry_definition::model::Flow) -> Self {
        let trigger_type = serde_json::to_value(flow.trigger.kind).ok();
        FlowNode {
            trigger_type: trigger_type
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            is_synchronous: flow.trigger.is_synchronous,
            is_preprocess_flow: flow.is_preprocess_flow,
            name: flow.name.clone(),
            stable_key: flow.stable_key.clone(),
            description: flow.description.clone(),
        }
    }
}

/// A draft definition (checked when it was imported), read again.
fn stored_definition(text: &str) -> async_graphql::Result<ferry_definition::Definition> {
    ferry_definition::parse(text, &ferry_components::custom::Stored)
        .map_err(|err| async_graphql::Error::new(err.to_string()))
}

/// The flows of a stored definition.
fn flows_of(text: &str) -> async_graphql::Result<Vec<FlowNode>> {
    Ok(stored_definition(text)?
        .flows
        .iter()
        .map(FlowNode::from_flow)
        .collect())
}

connection!(IntegrationConnection, IntegrationEdge, IntegrationNode);
connection!(
    IntegrationVersionConnection,
    IntegrationVersionEdge,
    IntegrationVersionNode
);

/// Fields integrations can be sorted by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum IntegrationOrderField {
    /// Creation order.
    Id,
    /// Name.
    Name,
    /// Last change of the draft.
    UpdatedAt,
}

/// One `sortBy` entry for integrations.
#[derive(InputObject, Copy, Clone, Debug)]
pub struct IntegrationOrder {
    field: IntegrationOrderField,
    #[graphql(default)]
    direction: SortDirection,
}

impl From<IntegrationOrder> for Sort<IntegrationSortField> {
    fn from(order: IntegrationOrder) -> Self {
        let field = match order.field {
            IntegrationOrderField::Id => IntegrationSortField::Id,
            IntegrationOrderField::Name => IntegrationSortField::Name,
            IntegrationOrderField::UpdatedAt => IntegrationSortField::UpdatedAt,
        };
        Sort {
            field,
            direction: order.direction.into(),
        }
    }
}

fn viewer(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ViewIntegrations, "view integrations")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// Integration queries.
#[derive(Default)]
pub struct IntegrationQuery;

#[Object]
impl IntegrationQuery {
    /// The organization's integrations.
    async fn integrations(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
        #[graphql(name = "name_Icontains")] name_icontains: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        sort_by: Option<Vec<IntegrationOrder>>,
    ) -> async_graphql::Result<IntegrationConnection> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let filter = IntegrationFilter {
            name,
            name_contains: name_icontains,
        };
        let sort = single_sort(sort_by)?.map(Sort::from).unwrap_or_default();
        let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
        let page = page_request(ctx, first, after)?;
        let found = api
            .store
            .integrations(&tenant, &filter, sort, &page)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let store = api.store.clone();
        let count = Box::new(move || {
            let (store, filter) = (store.clone(), filter.clone());
            async move { store.count_integrations(&tenant, &filter).await }.boxed()
        });
        Ok(IntegrationConnection::new(
            found,
            after_given,
            IntegrationNode,
            count,
        ))
    }

    /// One integration by id.
    async fn integration(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<IntegrationNode> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let id = id::decode(Kind::Integration, &id).map_err(bad_input)?;
        let integration = api
            .store
            .integration(&tenant, id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(IntegrationNode(integration))
    }

    /// One published version by id.
    async fn integration_version(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<IntegrationVersionNode> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let id = id::decode(Kind::IntegrationVersion, &id).map_err(bad_input)?;
        let version = api
            .store
            .integration_version(&tenant, id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(IntegrationVersionNode(version))
    }
}

/// Input of `importIntegration`.
#[derive(InputObject)]
pub struct ImportIntegrationInput {
    /// The definition, as YAML text.
    definition: String,
    /// Replace this integration's draft; without it, a new integration is created.
    integration_id: Option<ID>,
}

/// Input of `publishIntegration`.
#[derive(InputObject)]
pub struct PublishIntegrationInput {
    /// The integration whose draft to publish.
    id: ID,
    /// Why.
    comment: Option<String>,
}

/// Input of `updateIntegrationVersionAvailability`.
#[derive(InputObject)]
pub struct UpdateIntegrationVersionAvailabilityInput {
    /// The version.
    id: ID,
    /// Whether new instances may use it.
    is_available: bool,
}

/// Input of `deleteIntegration`.
#[derive(InputObject)]
pub struct DeleteIntegrationInput {
    /// The integration.
    id: ID,
}

/// The result of an integration mutation.
#[derive(SimpleObject)]
pub struct IntegrationPayload {
    /// The integration, unless `errors` says why not.
    integration: Option<IntegrationNode>,
    /// What was wrong; for imports, one entry per problem, `field` being its YAML path.
    errors: Vec<FieldErrors>,
}

/// The result of `publishIntegration`.
#[derive(SimpleObject)]
pub struct PublishIntegrationPayload {
    /// The integration, with its new `versionNumber`.
    integration: Option<IntegrationNode>,
    /// The version just published.
    published_version: Option<IntegrationVersionNode>,
    /// What was wrong.
    errors: Vec<FieldErrors>,
}

/// The result of `updateIntegrationVersionAvailability`.
#[derive(SimpleObject)]
pub struct IntegrationVersionPayload {
    /// The version, unless `errors` says why not.
    integration_version: Option<IntegrationVersionNode>,
    /// What was wrong.
    errors: Vec<FieldErrors>,
}

impl IntegrationPayload {
    fn failed(errors: Vec<FieldErrors>) -> Self {
        Self {
            integration: None,
            errors,
        }
    }
    fn from_result(
        ctx: &Context<'_>,
        result: Result<Integration, StoreError>,
    ) -> async_graphql::Result<Self> {
        match result {
            Ok(integration) => Ok(Self {
                integration: Some(IntegrationNode(integration)),
                errors: Vec::new(),
            }),
            Err(err) => Ok(Self::failed(payload_errors(ctx, err)?)),
        }
    }
}

fn manager(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ManageIntegrations, "manage integrations")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// Every problem of a definition as `errors` values.
fn definition_errors(invalid: ferry_definition::Invalid) -> Vec<FieldErrors> {
    invalid
        .problems
        .into_iter()
        .map(|problem| {
            let field = if problem.path.is_empty() {
                "definition".to_string()
            } else {
                problem.path
            };
            let message = match problem.line {
                Some(line) => format!("line {line}: {}", problem.message),
                None => problem.message,
            };
            FieldErrors {
                field,
                messages: vec![message],
            }
        })
        .collect()
}

/// Integration mutations.
#[derive(Default)]
pub struct IntegrationMutation;

#[Object]
impl IntegrationMutation {
    /// Checks a YAML definition and stores it as a new integration, or as the draft of
    /// `integrationId`; either way the integration's test instance now runs it.
    async fn import_integration(
        &self,
        ctx: &Context<'_>,
        input: ImportIntegrationInput,
    ) -> async_graphql::Result<IntegrationPayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let existing = match input
            .integration_id
            .map(|id| id::decode(Kind::Integration, &id))
            .transpose()
        {
            Ok(id) => id,
            Err(err) => {
                return Ok(IntegrationPayload::failed(FieldErrors::one(
                    "integrationId",
                    err.to_string(),
                )))
            }
        };
        let catalog =
            crate::graphql::custom_components::pinned_catalog(api, &tenant, &input.definition)
                .await
                .map_err(|e| query_error(ctx, e))?;
        let definition = match ferry_definition::parse(&input.definition, &catalog) {
            Ok(definition) => definition,
            Err(invalid) => return Ok(IntegrationPayload::failed(definition_errors(invalid))),
        };
        let draft = IntegrationDraft {
            shape: shape_of(&definition),
            name: definition.name,
            description: definition.description,
            definition: input.definition,
        };
        let result = match existing {
            Some(id) => api.store.replace_draft(&tenant, id, draft).await,
            None => api.store.create_integration(&tenant, draft).await,
        };
        if let Err(StoreError::NotFound { .. }) = result {
            return Ok(IntegrationPayload::failed(FieldErrors::one(
                "integrationId",
                "integration not found",
            )));
        }
        IntegrationPayload::from_result(ctx, result)
    }

    /// Freezes the draft as the next version.
    async fn publish_integration(
        &self,
        ctx: &Context<'_>,
        input: PublishIntegrationInput,
    ) -> async_graphql::Result<PublishIntegrationPayload> {
        let tenant = manager(ctx)?;
        let (api, actor) = env(ctx);
        let failed = |errors| PublishIntegrationPayload {
            integration: None,
            published_version: None,
            errors,
        };
        let id = match id::decode(Kind::Integration, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(failed(domain_errors(err))),
        };
        let comment = input.comment.unwrap_or_default();
        let version = match api
            .store
            .publish_integration(&tenant, id, &comment, Some(actor.user.id))
            .await
        {
            Ok(version) => version,
            Err(err) => return Ok(failed(payload_errors(ctx, err)?)),
        };
        let integration = api
            .store
            .integration(&tenant, id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(PublishIntegrationPayload {
            integration: Some(IntegrationNode(integration)),
            published_version: Some(IntegrationVersionNode(version)),
            errors: Vec::new(),
        })
    }

    /// Marks a published version available to new instances, or not.
    async fn update_integration_version_availability(
        &self,
        ctx: &Context<'_>,
        input: UpdateIntegrationVersionAvailabilityInput,
    ) -> async_graphql::Result<IntegrationVersionPayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let failed = |errors| IntegrationVersionPayload {
            integration_version: None,
            errors,
        };
        let id = match id::decode(Kind::IntegrationVersion, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(failed(domain_errors(err))),
        };
        Ok(
            match api
                .store
                .set_version_available(&tenant, id, input.is_available)
                .await
            {
                Ok(version) => IntegrationVersionPayload {
                    integration_version: Some(IntegrationVersionNode(version)),
                    errors: Vec::new(),
                },
                Err(err) => failed(payload_errors(ctx, err)?),
            },
        )
    }

    /// Deletes an integration, its versions and its test instance (refused while customers'
    /// instances of it exist).
    async fn delete_integration(
        &self,
        ctx: &Context<'_>,
        input: DeleteIntegrationInput,
    ) -> async_graphql::Result<IntegrationPayload> {
        let tenant = manager(ctx)?;
        let (api, _) = env(ctx);
        let id = match id::decode(Kind::Integration, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(IntegrationPayload::failed(domain_errors(err))),
        };
        IntegrationPayload::from_result(ctx, api.store.delete_integration(&tenant, id).await)
    }
}
