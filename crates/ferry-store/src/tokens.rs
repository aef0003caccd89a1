//! API tokens: random secrets shown once, stored as SHA-256 hashes, revocable.
//!
//! A token is `ferry_` followed by 43 base64url characters (256 random bits). Such a secret
//! needs no slow password hash: SHA-256 is enough to make a stolen table useless, and it lets
//! every request find its token with one indexed lookup.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ferry_core::entity::{ApiToken, Problems, User};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::backend::{read, write};
use crate::users::UserRow;
use crate::{new_id, now, Store, StoreError, Tenant};

/// The prefix every Ferry API token starts with.
pub const TOKEN_PREFIX: &str = "ferry_";

/// A token just created: its metadata and the secret, which is never shown again.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The stored metadata.
    pub token: ApiToken,
    /// The secret to send as `Authorization: Bearer …`.
    pub secret: String,
}

/// Who a valid token acts for.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user's organization.
    pub org_id: Uuid,
    /// The user.
    pub user: User,
    /// The token used.
    pub token_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for ApiToken {
    fn from(row: TokenRow) -> Self {
        ApiToken {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    org_id: Uuid,
    token_id: Uuid,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    user: UserRow,
}

pub(crate) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) fn new_token(
    user_id: Uuid,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<NewToken, StoreError> {
    let mut problems = Problems::default();
    problems.name("name", name);
    problems.finish()?;
    Ok(NewToken {
        token: ApiToken {
            id: new_id(),
            user_id,
            name: name.trim().to_string(),
            created_at: now(),
            expires_at,
            revoked_at: None,
        },
        secret: generate_secret(),
    })
}

pub(crate) const INSERT_TOKEN: &str =
    "INSERT INTO api_tokens (org_id, id, user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// Creates a token for a user the tenant can see.
    pub async fn create_token(
        &self,
        tenant: &Tenant,
        user_id: Uuid,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewToken, StoreError> {
        self.user(tenant, user_id).await?;
        let new = new_token(user_id, name, expires_at)?;
        let t = &new.token;
        write!(self, pool => {
            sqlx::query(INSERT_TOKEN)
                .bind(tenant.org_id).bind(t.id).bind(t.user_id).bind(&t.name).bind(hash(&new.secret))
                .bind(t.created_at).bind(t.expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(new)
    }

    /// The tokens of one user (or of every user the tenant can see), oldest first.
    pub async fn tokens(
        &self,
        tenant: &Tenant,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let rows: Vec<TokenRow> = read!(self, pool => {
            sqlx::query_as(
                "SELECT t.id, t.user_id, t.name, t.created_at, t.expires_at, t.revoked_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.org_id = $1 AND ($2 IS NULL OR u.customer_id = $2) AND ($3 IS NULL OR t.user_id = $3) \
                 ORDER BY t.id",
            )
            .bind(tenant.org_id).bind(tenant.customer_id).bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    /// Revokes a token; only `owner`'s tokens when `owner` is given. Revoking twice is fine.
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        id: Uuid,
        owner: Option<Uuid>,
    ) -> Result<ApiToken, StoreError> {
        let token = self
            .tokens(tenant, owner)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(StoreError::NotFound { kind: "API token" })?;
        if token.revoked_at.is_some() {
            return Ok(token);
        }
        let at = now();
        write!(self, pool => {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(at).bind(tenant.org_id).bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(ApiToken {
            revoked_at: Some(at),
            ..token
        })
    }

    /// The user a secret acts for, if it is a live token: known, not revoked, not expired.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Authenticated>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row: Option<AuthRow> = read!(self, pool => {
            sqlx::query_as(
                "SELECT t.org_id, t.id AS token_id, t.expires_at, t.revoked_at, \
                        u.id, u.customer_id, u.email, u.name, u.role, u.phone, u.created_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            )
            .bind(hash(secret))
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else { return Ok(None) };
        let expired = row.expires_at.is_some_and(|at| at <= Utc::now());
        if row.revoked_at.is_some() || expired {
            return Ok(None);
        }
        Ok(Some(Authenticated {
            org_id: row.org_id,
            token_id: row.token_id,
            user: User::try_from(row.user)?,
        }))
    }
}
