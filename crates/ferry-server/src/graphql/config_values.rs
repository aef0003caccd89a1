//! Config values in the API: how an instance shows each variable's value (secrets masked),
//! and the check of values given to `createInstance` and `updateInstanceConfigVariables`.

use async_graphql::SimpleObject;
use ferry_core::instance::ConfigValue;
use ferry_definition::model::ConfigVar;
use ferry_definition::values::{check_value, is_secret, var_identity};
use ferry_definition::Definition;

use crate::graphql::errors::FieldErrors;
use crate::graphql::instances::ConfigVariableInput;

/// A config variable of an instance and its value.
#[derive(SimpleObject, Clone)]
#[graphql(name = "InstanceConfigVariable")]
pub struct ConfigVariableNode {
    /// The variable's key.
    pub(crate) key: String,
    /// Its identity across renames, if declared.
    stable_key: Option<String>,
    /// Its data type.
    data_type: String,
    /// The value set, or the default; secrets are masked.
    value: Option<String>,
    /// Whether a value is set (not only a default).
    has_value: bool,
    /// Whether the value is a secret, written but never read back.
    is_secret: bool,
}

impl ConfigVariableNode {
    pub(crate) fn new(var: &ConfigVar, value: Option<&ConfigValue>) -> Self {
        let default = var.default_value.as_ref().map(|d| {
            d.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| d.to_string())
        });
        let shown = match value {
            Some(v) if v.is_secret => Some(mask(&v.value)),
            Some(v) => Some(v.value.clone()),
            None => default,
        };
        ConfigVariableNode {
            key: var.key.clone(),
            stable_key: var.stable_key.clone(),
            data_type: serde_json::to_value(var.data_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            value: shown,
            has_value: value.is_some(),
            is_secret: is_secret(var),
        }
    }
}

/// A connection's inputs with every value replaced by asterisks.
fn mask(value: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(map)) => {
            let masked: serde_json::Map<String, serde_json::Value> = map
                .into_iter()
                .map(|(k, _)| (k, "********".into()))
                .collect();
            serde_json::Value::Object(masked).to_string()
        }
        _ => "********".into(),
    }
}

/// Checks given values against `definition`, giving them their identities and secrecy.
pub(crate) fn checked_values(
    definition: &Definition,
    inputs: Vec<ConfigVariableInput>,
) -> Result<Vec<ConfigValue>, Vec<FieldErrors>> {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let Some(var) = definition
            .required_config_vars
            .iter()
            .find(|v| v.key == input.key)
        else {
            errors.extend(FieldErrors::one(
                &format!("configVariables[{index}].key"),
                format!("no config variable {:?}", input.key),
            ));
            continue;
        };
        match check_value(var, &input.value) {
            Ok(()) => values.push(ConfigValue {
                key: var_identity(var).to_string(),
                value: input.value,
                is_secret: is_secret(var),
            }),
            Err(message) => errors.extend(FieldErrors::one(
                &format!("configVariables[{index}].value"),
                format!("{}: {message}", var.key),
            )),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}
