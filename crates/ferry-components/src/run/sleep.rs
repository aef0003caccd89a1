//! The `sleep` action.

use serde_json::Value;

use super::{ActionError, StepCall};

/// Runs `sleep`.
pub(super) async fn run(call: &StepCall<'_>) -> Option<Result<Value, ActionError>> {
    let _ = call;
    None
}
