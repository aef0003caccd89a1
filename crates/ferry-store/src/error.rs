//! The one error type of this crate.

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such entity in the caller's tenancy (it may exist in another one; callers can't tell).
    #[error("{kind} not found")]
    NotFound {
        /// The entity kind, as users name it (`customer`).
        kind: &'static str,
    },
    /// A unique field already taken, or another state conflict.
    #[error("{field}: {message}")]
    Conflict {
        /// The field, as the API names it (`externalId`).
        field: &'static str,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// Input that fails the domain's validation.
    #[error(transparent)]
    Invalid(#[from] ferry_core::Error),
    /// A pagination cursor that is malformed or belongs to another query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A paging or filter argument out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// A database URL Ferry cannot use.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A row that does not decode into the domain (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite failed in a grouped commit, which runs its statements itself ([`crate::batch`]).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Migrations failed to apply.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the error is the database's (unreachable, failing) rather than the caller's.
    pub fn is_database_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Database(_)
                | StoreError::Sqlite(_)
                | StoreError::Migrate(_)
                | StoreError::Corrupt(_)
        )
    }
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Whether a database error is a foreign-key violation. SQLite reports an `ON DELETE RESTRICT`
/// refusal with the extended code of a trigger constraint (1811), which sqlx does not classify,
/// so its message is checked too.
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|e| {
        e.is_foreign_key_violation() || e.message().contains("FOREIGN KEY constraint failed")
    })
}
