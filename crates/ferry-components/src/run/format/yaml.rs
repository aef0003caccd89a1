//! `format.yamlParse` and `format.yamlStringify`.
//!
//! YAML is richer than JSON: mapping keys that are not text become text (numbers and booleans
//! written out, other keys as JSON), tags are dropped, and `.inf`/`.nan` are refused.

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::{scalar_text, ActionError, Inputs};

pub(super) fn parse(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let yaml: Yaml = serde_yaml::from_str(&text)
        .map_err(|error| ActionError::input("text", format!("is not valid YAML: {error}")))?;
    to_json(yaml)
}

pub(super) fn stringify(inputs: &Inputs) -> Result<Value, ActionError> {
    let value = inputs.required("value")?;
    serde_yaml::to_string(value)
        .map(Value::String)
        .map_err(|error| ActionError::Failed(format!("could not write YAML: {error}")))
}

fn to_json(yaml: Yaml) -> Result<Value, ActionError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n)?,
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(entries) => {
            let mut fields = Map::new();
            for (key, value) in entries {
                let key = scalar_text(&to_json(key)?);
                fields.insert(key, to_json(value)?);
            }
            Value::Object(fields)
        }
        Yaml::Tagged(tagged) => to_json(tagged.value)?,
    })
}

fn number(n: &serde_yaml::Number) -> Result<Value, ActionError> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.into());
    }
    n.as_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| ActionError::input("text", format!("holds {n}, which JSON cannot hold")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{call, input_error};

    #[test]
    fn yaml_parse_reads_mappings_lists_and_scalars() {
        let text = "name: Ferry\ncount: 3\nratio: 0.5\non: true\nnothing: ~\ntags:\n  - a\n  - b\n";
        let out = call("format.yamlParse", json!({ "text": text }));
        assert_eq!(
            out.unwrap(),
            json!({
                "name": "Ferry", "count": 3, "ratio": 0.5, "on": true, "nothing": null,
                "tags": ["a", "b"],
            })
        );
    }

    #[test]
    fn yaml_parse_writes_non_text_keys_as_text_and_drops_tags() {
        let text = "1: one\ntrue: yes\n[a, b]: list\nthing: !custom {x: 1}\n";
        let out = call("format.yamlParse", json!({ "text": text }));
        assert_eq!(
            out.unwrap(),
            json!({"1": "one", "true": "yes", "[\"a\",\"b\"]": "list", "thing": {"x": 1}})
        );
    }

    #[test]
    fn yaml_parse_of_empty_text_is_null() {
        let out = call("format.yamlParse", json!({"text": ""}));
        assert_eq!(out.unwrap(), json!(null));
    }

    #[test]
    fn yaml_parse_errors_name_the_text_and_where() {
        let (input, message) =
            input_error(call("format.yamlParse", json!({"text": "a: [1, 2\nb: 3"})));
        assert_eq!(input, "text");
        assert!(message.contains("line"), "{message}");
        let (input, message) = input_error(call("format.yamlParse", json!({"text": "x: .inf"})));
        assert_eq!(input, "text");
        assert!(message.contains("JSON cannot hold"), "{message}");
        let (input, _) = input_error(call("format.yamlParse", json!({"text": "a\n---\nb"})));
        assert_eq!(input, "text");
    }

    #[test]
    fn yaml_stringify_writes_block_yaml_that_parses_back() {
        let value = json!({"name": "Ferry", "tags": ["a", "b"], "n": 1});
        let text = call("format.yamlStringify", json!({ "value": value })).unwrap();
        assert_eq!(text, json!("name: Ferry\ntags:\n- a\n- b\nn: 1\n"));
        let back = call("format.yamlParse", json!({ "text": text }));
        assert_eq!(back.unwrap(), value);
    }

    #[test]
    fn yaml_stringify_needs_a_value() {
        let (input, _) = input_error(call("format.yamlStringify", json!({})));
        assert_eq!(input, "value");
    }
}
