//! Ferry's built-in components (`DESIGN.md` 3.4).
//!
//! For now this crate holds their catalogue: every built-in action's key, shape (plain, branch
//! or loop), what it does, and its inputs. Integration definitions are checked against it on
//! import. The actions' implementations join it with the flow engine.
#![deny(missing_docs)]

mod catalog;

pub use catalog::{builtin_actions, BuiltinAction, BuiltinInput, Builtins};
