//! The `format.*` actions: reading and writing JSON, XML, CSV, YAML and MessagePack.
//!
//! Text that does not parse is an input error naming `text`, with the line and column of the
//! problem where the parser knows them.

mod csv;
mod msgpack;
mod xml;
mod yaml;

use serde_json::Value;

use super::{ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `format.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let result = match action {
        "format.jsonParse" => json_parse(inputs),
        "format.jsonStringify" => json_stringify(inputs),
        "format.xmlParse" => xml::parse(inputs),
        "format.xmlStringify" => xml::stringify(inputs),
        "format.csvParse" => csv::parse(inputs),
        "format.csvStringify" => csv::stringify(inputs),
        "format.yamlParse" => yaml::parse(inputs),
        "format.yamlStringify" => yaml::stringify(inputs),
        "format.msgpackEncode" => msgpack::encode(inputs),
        "format.msgpackDecode" => msgpack::decode(inputs),
        _ => return None,
    };
    Some(result)
}

fn json_parse(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    serde_json::from_str(&text)
        .map_err(|error| ActionError::input("text", format!("is not valid JSON: {error}")))
}

fn json_stringify(inputs: &Inputs) -> Result<Value, ActionError> {
    let value = inputs.required("value")?;
    let written = if inputs.flag("pretty", false)? {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    written
        .map(Value::String)
        .map_err(|error| ActionError::Failed(format!("could not write JSON: {error}")))
}

/// A value as the text of a field, an element or an attribute: text as it is, numbers and
/// booleans written out, null as nothing, lists and objects as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(super) fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
        run(action, &Inputs::from(inputs.as_object().unwrap().clone())).unwrap()
    }

    pub(super) fn input_error(result: Result<Value, ActionError>) -> (String, String) {
        match result {
            Err(ActionError::Input { input, message }) => (input, message),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_actions_are_not_format_actions() {
        assert!(run("format.tomlParse", &Inputs::default()).is_none());
        assert!(run("text.trim", &Inputs::default()).is_none());
    }

    #[test]
    fn json_parse_reads_any_json_value() {
        let out = call(
            "format.jsonParse",
            json!({"text": r#"{"a": [1, "x", null]}"#}),
        );
        assert_eq!(out.unwrap(), json!({"a": [1, "x", null]}));
        let out = call("format.jsonParse", json!({"text": "42"}));
        assert_eq!(out.unwrap(), json!(42));
    }

    #[test]
    fn json_parse_errors_name_the_line_and_column() {
        let (input, message) = input_error(call(
            "format.jsonParse",
            json!({"text": "{\n  \"a\": nope\n}"}),
        ));
        assert_eq!(input, "text");
        assert!(message.contains("line 2 column 9"), "{message}");
        let (input, _) = input_error(call("format.jsonParse", json!({})));
        assert_eq!(input, "text");
    }

    #[test]
    fn json_stringify_writes_compact_or_pretty_json() {
        let value = json!({"a": [1, 2], "b": "x"});
        let compact = call("format.jsonStringify", json!({ "value": value }));
        assert_eq!(compact.unwrap(), json!(r#"{"a":[1,2],"b":"x"}"#));
        let pretty = call(
            "format.jsonStringify",
            json!({ "value": value, "pretty": true }),
        );
        assert_eq!(
            pretty.unwrap(),
            json!("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}")
        );
    }

    #[test]
    fn json_stringify_needs_a_value_and_a_boolean_pretty() {
        let (input, _) = input_error(call("format.jsonStringify", json!({})));
        assert_eq!(input, "value");
        let (input, _) = input_error(call(
            "format.jsonStringify",
            json!({"value": 1, "pretty": 2}),
        ));
        assert_eq!(input, "pretty");
    }
}
