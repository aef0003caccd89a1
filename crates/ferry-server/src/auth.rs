//! Who is calling: `Authorization: Bearer <API token>` resolved to an [`Actor`].

use axum::http::HeaderMap;
use ferry_core::entity::User;
use ferry_core::role::Permission;
use ferry_store::{Store, StoreError, Tenant};
use uuid::Uuid;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user the token acts for.
    pub user: User,
    /// What the user may see: the organization, narrowed to one customer for customer users.
    pub tenant: Tenant,
    /// The token used.
    pub token_id: Uuid,
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header: send `Authorization: Bearer <API token>`")]
    Missing,
    /// A header that is not `Bearer <token>`.
    #[error("malformed Authorization header: expected `Bearer <API token>`")]
    Malformed,
    /// An unknown, revoked or expired token.
    #[error("invalid API token: it is unknown, revoked or expired")]
    Invalid,
    /// The store could not be asked.
    #[error("cannot check the API token: {0}")]
    Store(#[from] StoreError),
}

/// A permission the caller's role does not grant.
#[derive(Debug, thiserror::Error)]
#[error("permission denied: your role ({role}) may not {what}")]
pub struct Denied {
    role: &'static str,
    what: String,
}

impl Actor {
    /// Whether the caller is a customer user.
    pub fn is_customer_user(&self) -> bool {
        self.user.customer_id.is_some()
    }

    /// Whether the caller's role grants `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.user.role.allows(permission)
    }

    /// Fails unless the caller's role grants `permission`; `what` completes "may not …".
    pub fn require(&self, permission: Permission, what: &str) -> Result<(), Denied> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(self.deny(what))
        }
    }

    /// A refusal for this caller.
    pub fn deny(&self, what: &str) -> Denied {
        Denied {
            role: self.user.role.name(),
            what: what.to_string(),
        }
    }
}

/// Reads the bearer token of `headers` and finds its user.
pub async fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Actor, AuthError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let header = header.to_str().map_err(|_| AuthError::Malformed)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    let found = store
        .authenticate(token.trim())
        .await?
        .ok_or(AuthError::Invalid)?;
    let tenant = match found.user.customer_id {
        Some(customer_id) => Tenant::customer(found.org_id, customer_id),
        None => Tenant::organization(found.org_id),
    };
    Ok(Actor {
        user: found.user,
        tenant,
        token_id: found.token_id,
    })
}
