//! The one error type of this crate.

/// One problem with one field of a caller's input, named by its path (`name`, `labels[2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The path of the field in the caller's input.
    pub field: String,
    /// What is wrong with it, in a sentence a user can act on.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What can go wrong in the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An id that is not base64 of `Type:uuid`, or names another type.
    #[error("invalid id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was refused.
        reason: String,
    },
    /// A role name or id that names no role of the expected type.
    #[error("unknown role {given:?}; expected one of: {expected}")]
    UnknownRole {
        /// The role as given.
        given: String,
        /// The roles that would do, comma-separated.
        expected: String,
    },
    /// Input that fails validation; every problem found is listed.
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}
