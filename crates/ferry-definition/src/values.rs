//! Config values against their variables: identities that survive renames, the check of a
//! value against its variable's type, and which variables still need a value.
//!
//! Values are strings, as the reference presents them: structured ones (lists, key/value
//! lists, connections, object selections, field maps, JSON forms) are JSON text.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{CollectionType, ConfigVar, DataType, Definition, Flow};

/// A variable's identity: its stable key, else its key.
pub fn var_identity(var: &ConfigVar) -> &str {
    var.stable_key.as_deref().unwrap_or(&var.key)
}

/// A flow's identity: its stable key, else its name.
pub fn flow_identity(flow: &Flow) -> &str {
    flow.stable_key.as_deref().unwrap_or(&flow.name)
}

/// Whether a variable's values are secrets (sealed at rest, masked in answers).
pub fn is_secret(var: &ConfigVar) -> bool {
    var.data_type == DataType::Connection
}

/// Checks `value` against `var`'s type; the error says what was expected.
pub fn check_value(var: &ConfigVar, value: &str) -> Result<(), String> {
    match var.collection_type {
        Some(CollectionType::Valuelist) => {
            let items: Vec<String> = serde_json::from_str(value)
                .map_err(|_| "expected a JSON list of strings".to_string())?;
            return items.iter().try_for_each(|item| check_single(var, item));
        }
        Some(CollectionType::Keyvaluelist) => {
            let pairs: Vec<BTreeMap<String, Value>> = serde_json::from_str(value)
                .map_err(|_| "expected a JSON list of { key, value } objects".to_string())?;
            return match pairs
                .iter()
                .all(|p| p.contains_key("key") && p.contains_key("value"))
            {
                true => Ok(()),
                false => Err("expected a JSON list of { key, value } objects".into()),
            };
        }
        None => {}
    }
    check_single(var, value)
}

fn check_single(var: &ConfigVar, value: &str) -> Result<(), String> {
    match var.data_type {
        DataType::String | DataType::Code => Ok(()),
        DataType::Number => value
            .trim()
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| format!("{value:?} is not a number")),
        DataType::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("{value:?} is not true or false")),
        },
        DataType::Picklist => match var.pick_list.iter().any(|choice| choice == value) {
            true => Ok(()),
            false => Err(format!(
                "{value:?} is not one of: {}",
                var.pick_list.join(", ")
            )),
        },
        DataType::Date => chrono_like_date(value),
        DataType::Timestamp => match value.trim().is_empty() {
            true => Err("expected a timestamp".into()),
            false => Ok(()),
        },
        DataType::Schedule => crate::validate::parse_cron(value).map(|_| ()),
        DataType::Connection => match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(_)) => Ok(()),
            _ => Err("expected a JSON object of the connection's inputs".into()),
        },
        DataType::ObjectSelection | DataType::ObjectFieldMap | DataType::JsonForm => {
            serde_json::from_str::<Value>(value)
                .map(|_| ())
                .map_err(|_| "expected JSON".into())
        }
    }
}

/// `mm/dd/yyyy`, as the reference writes dates, or ISO `yyyy-mm-dd`.
fn chrono_like_date(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.trim().split(['/', '-']).collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    match numeric {
        true => Ok(()),
        false => Err(format!(
            "{value:?} is not a date (mm/dd/yyyy or yyyy-mm-dd)"
        )),
    }
}

/// The keys of the variables that have neither a value in `values` (by identity) nor a
/// default. Lists may be empty and booleans default to false, so they never need one.
pub fn missing_values(definition: &Definition, values: &BTreeMap<String, String>) -> Vec<String> {
    definition
        .required_config_vars
        .iter()
        .filter(|var| var.collection_type.is_none() && var.data_type != DataType::Boolean)
        .filter(|var| var.default_value.is_none() && !values.contains_key(var_identity(var)))
        .map(|var| var.key.clone())
        .collect()
}

/// The value flows see for a variable: its value (`None` when unset) or its default, typed:
/// numbers and booleans as such, structured types and lists parsed from their JSON text,
/// everything else as text. Lists and booleans without value or default are `[]` and `false`.
pub fn typed_value(var: &ConfigVar, value: Option<&str>) -> Value {
    let text = match (value, &var.default_value) {
        (Some(text), _) => text.to_string(),
        (None, Some(Value::String(text))) => text.clone(),
        (None, Some(typed)) => return typed.clone(),
        (None, None) if var.collection_type.is_some() => return Value::Array(Vec::new()),
        (None, None) if var.data_type == DataType::Boolean => return Value::Bool(false),
        (None, None) => return Value::Null,
    };
    let structured = var.collection_type.is_some()
        || matches!(
            var.data_type,
            DataType::Connection
                | DataType::ObjectSelection
                | DataType::ObjectFieldMap
                | DataType::JsonForm
                | DataType::Number
        );
    match var.data_type {
        DataType::Boolean if var.collection_type.is_none() => Value::Bool(text == "true"),
        _ if structured => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_see_values_typed_and_defaults_when_unset() {
        let number = var("{ key: N, dataType: number, defaultValue: 3 }");
        assert_eq!(typed_value(&number, Some("4.5")), serde_json::json!(4.5));
        assert_eq!(typed_value(&number, None), serde_json::json!(3));
        let flag = var("{ key: F, dataType: boolean }");
        assert_eq!(typed_value(&flag, Some("true")), Value::Bool(true));
        assert_eq!(typed_value(&flag, None), Value::Bool(false));
        let list = var("{ key: L, dataType: string, collectionType: valuelist }");
        assert_eq!(
            typed_value(&list, Some(r#"["a","b"]"#)),
            serde_json::json!(["a", "b"])
        );
        let connection = var("{ key: C, dataType: connection, connection: { type: apiKey } }");
        assert_eq!(
            typed_value(&connection, Some(r#"{"apiKey":"k"}"#))["apiKey"],
            "k"
        );
        let text = var("{ key: T, dataType: string, defaultValue: hi }");
        assert_eq!(typed_value(&text, Some("5")), Value::String("5".into()));
        assert_eq!(typed_value(&text, None), Value::String("hi".into()));
    }

    fn var(yaml: &str) -> ConfigVar {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn values_are_checked_against_their_type() {
        assert!(check_value(&var("{ key: N, dataType: number }"), "4.5").is_ok());
        assert_eq!(
            check_value(&var("{ key: N, dataType: number }"), "four").unwrap_err(),
            "\"four\" is not a number"
        );
        assert!(check_value(&var("{ key: B, dataType: boolean }"), "yes").is_err());
        let pick = var("{ key: P, dataType: picklist, pickList: [a, b] }");
        assert!(check_value(&pick, "a").is_ok());
        assert_eq!(
            check_value(&pick, "c").unwrap_err(),
            "\"c\" is not one of: a, b"
        );
        assert!(check_value(&var("{ key: S, dataType: schedule }"), "*/5 * * * *").is_ok());
        assert!(check_value(&var("{ key: S, dataType: schedule }"), "soon").is_err());
        let list = var("{ key: L, dataType: string, collectionType: valuelist }");
        assert!(check_value(&list, r#"["a","b"]"#).is_ok());
        assert!(check_value(&list, "a,b").is_err());
        let pairs = var("{ key: K, dataType: string, collectionType: keyvaluelist }");
        assert!(check_value(&pairs, r#"[{"key":"a","value":"1"}]"#).is_ok());
        assert!(check_value(&pairs, r#"[{"k":"a"}]"#).is_err());
        let connection = var("{ key: C, dataType: connection, connection: { type: apiKey } }");
        assert!(check_value(&connection, r#"{"apiKey":"x"}"#).is_ok());
        assert!(check_value(&connection, "x").is_err());
        assert!(is_secret(&connection));
        assert!(check_value(&var("{ key: D, dataType: date }"), "03/20/2021").is_ok());
        assert!(check_value(&var("{ key: D, dataType: date }"), "tomorrow").is_err());
    }

    #[test]
    fn identities_prefer_stable_keys() {
        assert_eq!(
            var_identity(&var(
                "{ key: Acme Key, stableKey: acme-key, dataType: string }"
            )),
            "acme-key"
        );
        assert_eq!(
            var_identity(&var("{ key: Acme Key, dataType: string }")),
            "Acme Key"
        );
    }
}
