//! The `http.request` action.

use serde_json::Value;

use super::{ActionError, StepCall};

/// Runs `http.request`.
pub(super) async fn run(
    client: &reqwest::Client,
    call: &StepCall<'_>,
) -> Option<Result<Value, ActionError>> {
    let _ = (client, call);
    None
}
