//! The earlier steps' results as a code step gets them: written out as JSON by the caller,
//! from where it keeps them (a run's results are read in place, not copied to cross to the
//! sandbox's thread), and read in the sandbox by QuickJS's own `JSON.parse`.

use serde::Serialize;
use serde_json::Value;

/// Step results on their way to a code step ([`crate::CodeCall::step_results`]).
#[derive(Debug, Clone)]
pub struct StepResults {
    json: String,
    binary: bool,
}

impl StepResults {
    /// `results` (step reference name → `{ results }`), written out now.
    pub fn of(results: &Value) -> Self {
        Self::written(results, has_binary(results))
    }

    /// `results` written out now (any value that writes as a JSON object of step reference
    /// name → `{ results }`, such as one splicing in results kept as text), with `binary`
    /// saying whether they hold a binary value anywhere ([`has_binary`]).
    pub fn written(results: &impl Serialize, binary: bool) -> Self {
        StepResults {
            // Writing JSON values, maps with string keys and JSON text cannot fail.
            json: serde_json::to_string(results).unwrap_or_else(|_| "null".into()),
            binary,
        }
    }

    /// The results as JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Whether they hold a binary value anywhere, which the sandbox turns into bytes.
    pub fn has_binary(&self) -> bool {
        self.binary
    }
}

/// Whether `value` holds a binary value `{ contentType, base64 }` anywhere.
pub fn has_binary(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_binary),
        Value::Object(map) => {
            let binary = map.len() == 2
                && map.get("contentType").is_some_and(Value::is_string)
                && map.get("base64").is_some_and(Value::is_string);
            binary || map.values().any(has_binary)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binary_values_are_found_at_any_depth() {
        let nested = json!({ "a": { "results": [1, { "contentType": "x", "base64": "" }] } });
        assert!(StepResults::of(&nested).has_binary());
        let lookalike = json!({ "contentType": "x", "base64": "", "more": 1 });
        assert!(!StepResults::of(&lookalike).has_binary());
        assert_eq!(StepResults::of(&json!({ "a": 1 })).json(), r#"{"a":1}"#);
    }
}
