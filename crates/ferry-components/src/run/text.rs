//! The `text.*` actions.

use serde_json::Value;

use super::{ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `text.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let _ = (action, inputs);
    None
}
