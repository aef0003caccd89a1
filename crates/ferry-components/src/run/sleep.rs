//! The `sleep` action: waits `seconds` (at most 15 minutes), then gives null.

use std::time::Duration;

use serde_json::Value;

use super::{ActionError, Inputs, StepCall};

/// The longest wait, in seconds.
const MAX_SECONDS: f64 = 900.0;

/// Runs `sleep`.
pub(super) async fn run(call: &StepCall<'_>) -> Option<Result<Value, ActionError>> {
    if call.action != "sleep" {
        return None;
    }
    Some(sleep(&call.inputs).await)
}

async fn sleep(inputs: &Inputs) -> Result<Value, ActionError> {
    let seconds = inputs.number("seconds")?;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(ActionError::input(
            "seconds",
            format!("must be from 0 to {MAX_SECONDS}"),
        ));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    Ok(Value::Null)
}
