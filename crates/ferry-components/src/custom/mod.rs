//! Custom components: their manifests (read from a bundle by `ferry-js`, checked here before a
//! version is stored) and the catalogues that let imports name their actions and triggers.

mod catalog;
mod manifest;

pub use catalog::{custom_member, Pinned, Stored};
pub use manifest::{
    ActionManifest, ConnectionManifest, DataSourceManifest, Display, InputManifest, Manifest,
    ManifestProblem, TriggerManifest, DATA_SOURCE_TYPES, INPUT_TYPES,
};
