//! API tokens: `apiTokens`, `createApiToken`, `revokeApiToken`.
//!
//! Every user manages its own tokens; owners and admins may also list and revoke the
//! tokens of anyone in the organization. The secret is returned once, by `createApiToken`.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::entity::ApiToken;
use ferry_core::id::{self, Kind};
use ferry_core::role::Permission;

use crate::graphql::env;
use crate::graphql::errors::{denied, domain_errors, payload_errors, query_error, FieldErrors};

/// An API token (never its secret).
#[derive(Clone)]
pub struct ApiTokenNode(pub ApiToken);

#[Object(name = "ApiToken")]
impl ApiTokenNode {
    /// The token's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::ApiToken, self.0.id))
    }
    /// What it is for.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The user it acts as.
    async fn user_id(&self) -> ID {
        ID(id::encode(Kind::User, self.0.user_id))
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it stops working, if ever.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When it was revoked, if it was.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// Whether it still works.
    async fn is_active(&self) -> bool {
        self.0.revoked_at.is_none() && self.0.expires_at.is_none_or(|at| at > Utc::now())
    }
}

/// Token queries.
#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The caller's API tokens; with `allUsers`, everyone's (owners and admins).
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        all_users: Option<bool>,
    ) -> async_graphql::Result<Vec<ApiTokenNode>> {
        let (api, actor) = env(ctx);
        let user = if all_users.unwrap_or(false) {
            actor
                .require(
                    Permission::ManageOrganizationUsers,
                    "see other users' tokens",
                )
                .map_err(denied)?;
            None
        } else {
            Some(actor.user.id)
        };
        let tokens = api
            .store
            .tokens(&actor.tenant, user)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(tokens.into_iter().map(ApiTokenNode).collect())
    }
}

/// Input of `createApiToken`.
#[derive(InputObject)]
pub struct CreateApiTokenInput {
    /// What the token is for.
    name: String,
    /// When it stops working; never when left out.
    expires_at: Option<DateTime<Utc>>,
}

/// Input of `revokeApiToken`.
#[derive(InputObject)]
pub struct RevokeApiTokenInput {
    /// The token.
    id: ID,
}

/// The result of `createApiToken`.
#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    /// The token's metadata.
    api_token: Option<ApiTokenNode>,
    /// The secret to send as `Authorization: Bearer …`; shown only this once.
    token: Option<String>,
    /// What was wrong with the input.
    errors: Vec<FieldErrors>,
}

/// The result of `revokeApiToken`.
#[derive(SimpleObject)]
pub struct ApiTokenPayload {
    /// The token, unless `errors` says why not.
    api_token: Option<ApiTokenNode>,
    /// What was wrong with the input.
    errors: Vec<FieldErrors>,
}

/// Token mutations.
#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Creates a token acting as the caller.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> async_graphql::Result<CreateApiTokenPayload> {
        let (api, actor) = env(ctx);
        if input.expires_at.is_some_and(|at| at <= Utc::now()) {
            let errors = FieldErrors::one("expiresAt", "must be in the future");
            return Ok(CreateApiTokenPayload {
                api_token: None,
                token: None,
                errors,
            });
        }
        Ok(
            match api
                .store
                .create_token(&actor.tenant, actor.user.id, &input.name, input.expires_at)
                .await
            {
                Ok(new) => CreateApiTokenPayload {
                    api_token: Some(ApiTokenNode(new.token)),
                    token: Some(new.secret),
                    errors: Vec::new(),
                },
                Err(err) => CreateApiTokenPayload {
                    api_token: None,
                    token: None,
                    errors: payload_errors(ctx, err)?,
                },
            },
        )
    }

    /// Revokes a token: requests with it get 401 from then on.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiTokenInput,
    ) -> async_graphql::Result<ApiTokenPayload> {
        let (api, actor) = env(ctx);
        let id = match id::decode(Kind::ApiToken, &input.id) {
            Ok(id) => id,
            Err(err) => {
                return Ok(ApiTokenPayload {
                    api_token: None,
                    errors: domain_errors(err),
                })
            }
        };
        let owner = (!actor.can(Permission::ManageOrganizationUsers)).then_some(actor.user.id);
        Ok(
            match api.store.revoke_token(&actor.tenant, id, owner).await {
                Ok(token) => ApiTokenPayload {
                    api_token: Some(ApiTokenNode(token)),
                    errors: Vec::new(),
                },
                Err(err) => ApiTokenPayload {
                    api_token: None,
                    errors: payload_errors(ctx, err)?,
                },
            },
        )
    }
}
