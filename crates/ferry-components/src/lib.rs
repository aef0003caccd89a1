//! Ferry's built-in components (`DESIGN.md` 3.4).
//!
//! For now this crate holds their catalogue: every built-in action's key, shape (plain, branch
//! or loop), what it does, its inputs and its result, grouped into components. Integration
//! definitions are checked against it on import, `docs/components.md` is generated from it,
//! and the `components` query serves it. [`run`] runs the actions that need nothing from the
//! engine (HTTP, collections, text, formats, dates, hashes, sleep); the engine runs the rest.
//! [`custom`] checks custom components' manifests and gives the catalogues that know them.
#![deny(missing_docs)]

mod catalog;
mod code;
mod components;
pub mod custom;
pub mod run;

pub use catalog::{builtin_actions, BuiltinAction, BuiltinInput, Builtins};
pub use components::{builtin_components, catalogue_markdown, BuiltinComponent};
pub use run::{ActionError, Inputs, Runner, StepCall};
