//! The organization: `organization { id name users }` and `updateOrganization`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::entity::Organization;
use ferry_core::id::{self, Kind};
use ferry_core::role::Permission;
use ferry_store::{UserFilter, UserKind};

use crate::graphql::env;
use crate::graphql::errors::{denied, payload_errors, query_error, FieldErrors};
use crate::graphql::users::{user_connection, UserConnection, UserOrder};

/// The tenant: the SaaS vendor using Ferry.
#[derive(Clone)]
pub struct OrganizationNode(pub Organization);

#[Object(name = "Organization")]
impl OrganizationNode {
    /// The organization's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::Organization, self.0.id))
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Days its step results and logs are kept before they are pruned, when it has its own
    /// retention period; null means the server's (`FERRY_RETENTION_DAYS`, 14 by default).
    async fn retention_days(&self) -> Option<u32> {
        self.0.retention_days
    }
    /// The organization's team members.
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        sort_by: Option<Vec<UserOrder>>,
    ) -> async_graphql::Result<UserConnection> {
        let filter = UserFilter {
            kind: UserKind::Organization,
            ..Default::default()
        };
        user_connection(ctx, filter, after, first, sort_by).await
    }
}

/// Organization queries.
#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// The caller's organization.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationNode> {
        let (api, actor) = env(ctx);
        let organization = api
            .store
            .organization(&actor.tenant)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(OrganizationNode(organization))
    }
}

/// Input of `updateOrganization`.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// A new name.
    name: Option<String>,
    /// Days step results and logs are kept (1 to 3650); null goes back to the server's period.
    retention_days: MaybeUndefined<i64>,
}

/// The result of `updateOrganization`.
#[derive(SimpleObject)]
pub struct OrganizationPayload {
    /// The organization, unless `errors` says why not.
    organization: Option<OrganizationNode>,
    /// What was wrong with the input.
    errors: Vec<FieldErrors>,
}

/// Organization mutations.
#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Renames the organization, or sets its retention period (owners only).
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> async_graphql::Result<OrganizationPayload> {
        let (api, actor) = env(ctx);
        actor
            .require(Permission::ManageOrganization, "change the organization")
            .map_err(denied)?;
        let tenant = &actor.tenant;
        let days = match input.retention_days {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(days) => Some(Some(days)),
        };
        // Nothing is written unless every change is acceptable.
        let mut result = match days.map(ferry_store::check_retention_days) {
            Some(Err(err)) => Err(err),
            _ => api.store.organization(tenant).await,
        };
        if let (Ok(_), Some(name)) = (&result, &input.name) {
            result = api.store.rename_organization(tenant, name).await;
        }
        if let (Ok(_), Some(days)) = (&result, days) {
            result = api.store.set_retention_days(tenant, days).await;
        }
        Ok(match result {
            Ok(org) => OrganizationPayload {
                organization: Some(OrganizationNode(org)),
                errors: Vec::new(),
            },
            Err(err) => OrganizationPayload {
                organization: None,
                errors: payload_errors(ctx, err)?,
            },
        })
    }
}
