//! Ferry's domain, with no I/O: the words of `DESIGN.md` section 1 as types.
//!
//! - [`id`]: opaque global ids (`base64("Customer:<uuid>")`) and their parsing.
//! - [`role`]: organization and customer roles and the permission matrix they grant.
//! - [`entity`]: organizations, customers, users and API tokens, and the validation of
//!   what a caller may write into them.
//! - [`integration`]: integrations and their published versions.
//! - [`component`]: custom components and their published versions.
//! - [`instance`]: instances, their config values and flow configs.
//! - [`execution`]: executions and their statuses.
//! - [`json`]: JSON objects built from owned values without copying them.
//! - [`payload`]: a JSON value kept as text until something reads inside it.
//!
//! Nothing here knows SQL, HTTP or GraphQL; the store and the server translate at their edges.
#![deny(missing_docs)]

pub mod component;
pub mod entity;
pub mod execution;
pub mod id;
pub mod instance;
pub mod integration;
pub mod json;
pub mod payload;
pub mod role;

mod error;

pub use error::{Error, FieldError};
