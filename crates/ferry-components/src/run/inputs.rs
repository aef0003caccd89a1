//! A step's evaluated inputs, with accessors whose errors name the input.

use serde_json::{Map, Value};

use super::ActionError;

/// The inputs of one step, after their expressions were evaluated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs(Map<String, Value>);

impl From<Map<String, Value>> for Inputs {
    fn from(map: Map<String, Value>) -> Self {
        Inputs(map)
    }
}

impl Inputs {
    /// The input `key`, if given and not null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// The input `key`, or an error saying it is missing.
    pub fn required(&self, key: &str) -> Result<&Value, ActionError> {
        self.get(key)
            .ok_or_else(|| ActionError::input(key, "is required"))
    }

    /// The text input `key` (numbers and booleans are written as text).
    pub fn text(&self, key: &str) -> Result<String, ActionError> {
        match self.required(key)? {
            Value::String(text) => Ok(text.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(ActionError::input(
                key,
                format!("expected text, got {}", kind(other)),
            )),
        }
    }

    /// The text input `key`, if given.
    pub fn opt_text(&self, key: &str) -> Result<Option<String>, ActionError> {
        self.get(key).map(|_| self.text(key)).transpose()
    }

    /// The number input `key` (text holding a number is accepted).
    pub fn number(&self, key: &str) -> Result<f64, ActionError> {
        let value = self.required(key)?;
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        number.ok_or_else(|| {
            ActionError::input(key, format!("expected a number, got {}", kind(value)))
        })
    }

    /// The number input `key`, if given.
    pub fn opt_number(&self, key: &str) -> Result<Option<f64>, ActionError> {
        self.get(key).map(|_| self.number(key)).transpose()
    }

    /// The boolean input `key` (`"true"`/`"false"` text is accepted), or `default`.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, ActionError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(t)) if t == "true" => Ok(true),
            Some(Value::String(t)) if t == "false" => Ok(false),
            Some(other) => Err(ActionError::input(
                key,
                format!("expected true or false, got {}", kind(other)),
            )),
        }
    }

    /// The list input `key`.
    pub fn list(&self, key: &str) -> Result<&Vec<Value>, ActionError> {
        let value = self.required(key)?;
        value
            .as_array()
            .ok_or_else(|| ActionError::input(key, format!("expected a list, got {}", kind(value))))
    }

    /// The object input `key`.
    pub fn object(&self, key: &str) -> Result<&Map<String, Value>, ActionError> {
        let value = self.required(key)?;
        value.as_object().ok_or_else(|| {
            ActionError::input(key, format!("expected an object, got {}", kind(value)))
        })
    }
}

/// A value's kind, for messages: "text", "a number", "a list"…
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
