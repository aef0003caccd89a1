//! Running built-in actions that need nothing from the engine: given a step's evaluated inputs,
//! an action gives a result or an [`ActionError`] that names the input or the cause.
//!
//! Control actions (`branch.*`, `loop.*`, `flow.*`, `state.*`, `log.write`, `code.run`) belong
//! to the engine, which holds the execution; [`Runner::run`] answers `None` for them.
//!
//! Binary data travels in results as `{ "contentType": "…", "base64": "…" }` (see
//! [`binary_value`] and [`bytes_of`]), so every result stays JSON.

mod collection;
mod datetime;
mod format;
mod hash;
mod http;
mod inputs;
mod sleep;
mod text;

use std::time::Duration;

use serde_json::Value;

pub use inputs::Inputs;

/// Why an action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// An input is missing or has the wrong shape.
    #[error("input `{input}`: {message}")]
    Input {
        /// The input's key.
        input: String,
        /// What is wrong with it.
        message: String,
    },
    /// The action ran and failed (an HTTP error status, a signature that does not match…).
    #[error("{0}")]
    Failed(String),
    /// The action did not finish in time.
    #[error("timed out after {} s", .0.as_secs_f64())]
    TimedOut(Duration),
}

impl ActionError {
    /// An error about input `input`.
    pub fn input(input: &str, message: impl Into<String>) -> Self {
        ActionError::Input {
            input: input.to_string(),
            message: message.into(),
        }
    }
}

/// What a step knows of itself when its action runs.
#[derive(Debug, Clone)]
pub struct StepCall<'a> {
    /// The action's key, `<component>.<action>`.
    pub action: &'a str,
    /// The step's evaluated inputs.
    pub inputs: Inputs,
    /// `<executionId>:<stepName>:<loop index>`: the same each time this step runs again.
    pub idempotency_key: &'a str,
}

/// Runs the built-in actions; holds what they share (an HTTP client). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Runner {
    http: reqwest::Client,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with its own HTTP client.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
        }
    }

    /// Runs `call`, or answers `None` when its action is not one this runner knows (a control
    /// action or an unknown key).
    pub async fn run(&self, call: &StepCall<'_>) -> Option<Result<Value, ActionError>> {
        let (component, _) = call.action.split_once('.').unwrap_or((call.action, ""));
        match component {
            "http" => http::run(&self.http, call).await,
            "sleep" => sleep::run(call).await,
            "collection" => collection::run(call.action, &call.inputs),
            "text" => text::run(call.action, &call.inputs),
            "format" => format::run(call.action, &call.inputs),
            "datetime" => datetime::run(call.action, &call.inputs),
            "hash" => hash::run(call.action, &call.inputs),
            _ => None,
        }
    }
}

/// The value at dotted `path` in `value` (`data.items`; a number steps into a list).
pub fn value_at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |value, key| match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Bytes as a result value.
pub fn binary_value(bytes: &[u8], content_type: &str) -> Value {
    use base64::Engine as _;
    serde_json::json!({
        "contentType": content_type,
        "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// The bytes a value holds: a binary value's, or a string's UTF-8.
pub fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Object(map) => {
            let encoded = map.get("base64")?.as_str()?;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        }
        _ => None,
    }
}
