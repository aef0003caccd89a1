//! Turning store and domain errors into the API's two error shapes: GraphQL errors (for
//! queries, permissions and failures) and `errors { field messages }` values (for mutations).

use async_graphql::{Context, ErrorExtensions, SimpleObject};
use ferry_store::StoreError;

use crate::auth::Denied;
use crate::graphql::{env, mark_store_failed};

/// A problem with one field of a mutation's input.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ErrorType")]
pub struct FieldErrors {
    /// The field's path in the input (`name`, `labels[1]`), or `""` for the whole input.
    pub field: String,
    /// What is wrong with it.
    pub messages: Vec<String>,
}

impl FieldErrors {
    pub(crate) fn one(field: &str, message: impl Into<String>) -> Vec<FieldErrors> {
        vec![FieldErrors {
            field: field.to_string(),
            messages: vec![message.into()],
        }]
    }
}

/// A store error as a GraphQL error with a `code` extension; database failures are logged,
/// counted and turn the response into a 503.
pub(crate) fn query_error(ctx: &Context<'_>, err: StoreError) -> async_graphql::Error {
    let code = match &err {
        StoreError::NotFound { .. } => "NOT_FOUND",
        StoreError::Conflict { .. } => "CONFLICT",
        StoreError::Invalid(_) | StoreError::InvalidCursor(_) | StoreError::InvalidArgument(_) => {
            "BAD_USER_INPUT"
        }
        _ => return store_failure(ctx, err),
    };
    async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", code))
}

fn store_failure(ctx: &Context<'_>, err: StoreError) -> async_graphql::Error {
    let (api, _) = env(ctx);
    api.metrics.store_error();
    mark_store_failed(ctx);
    tracing::error!(error = %err, "store failure");
    async_graphql::Error::new("store unavailable, try again")
        .extend_with(|_, e| e.set("code", "STORE_UNAVAILABLE"))
}

/// A refused permission as a GraphQL error.
pub(crate) fn denied(err: Denied) -> async_graphql::Error {
    async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", "FORBIDDEN"))
}

/// A domain error (bad id, unknown role) as a GraphQL error.
pub(crate) fn bad_input(err: ferry_core::Error) -> async_graphql::Error {
    async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// A store error as a mutation's `errors` value, or a GraphQL error for database failures.
pub(crate) fn payload_errors(
    ctx: &Context<'_>,
    err: StoreError,
) -> async_graphql::Result<Vec<FieldErrors>> {
    match err {
        StoreError::Invalid(err) => Ok(domain_errors(err)),
        StoreError::Conflict { field, message } => Ok(FieldErrors::one(field, message)),
        StoreError::NotFound { kind } => Ok(FieldErrors::one("id", format!("{kind} not found"))),
        StoreError::InvalidArgument(message) | StoreError::InvalidCursor(message) => {
            Ok(FieldErrors::one("", message))
        }
        other => Err(store_failure(ctx, other)),
    }
}

/// A domain error as `errors` values, one per field.
pub(crate) fn domain_errors(err: ferry_core::Error) -> Vec<FieldErrors> {
    match err {
        ferry_core::Error::Invalid(list) => list
            .into_iter()
            .map(|e| FieldErrors {
                field: e.field,
                messages: vec![e.message],
            })
            .collect(),
        ferry_core::Error::InvalidId { .. } => FieldErrors::one("id", err.to_string()),
        ferry_core::Error::UnknownRole { .. } => FieldErrors::one("role", err.to_string()),
    }
}
