//! Config variables and config pages.

use std::collections::HashSet;

use serde_json::Value;

use crate::model::{DataType, Definition, Visibility};
use crate::validate::Report;

/// The longest picklist choice, as the reference allows.
const MAX_PICK_CHARS: usize = 64;

pub(crate) fn check(definition: &Definition, report: &mut Report<'_>) {
    let mut keys = HashSet::new();
    let mut stable_keys = HashSet::new();
    for (index, var) in definition.required_config_vars.iter().enumerate() {
        let path = format!("requiredConfigVars[{index}]");
        check_key(&var.key, &format!("{path}.key"), report);
        report.unique(
            &mut keys,
            &var.key,
            &format!("{path}.key"),
            "config variable",
        );
        if let Some(stable) = &var.stable_key {
            report.unique(
                &mut stable_keys,
                stable,
                &format!("{path}.stableKey"),
                "stable key",
            );
        }
        if var.permission_and_visibility_type == Visibility::Organization
            && var.default_value.is_none()
            && var.data_type != DataType::Connection
        {
            report.add(
                &path,
                format!(
                    "{:?} is visible to the organization only, so it needs a defaultValue",
                    var.key
                ),
            );
        }
        if var.collection_type.is_some() && !list_capable(var.data_type) {
            report.add(
                &format!("{path}.collectionType"),
                format!("{:?} variables cannot be lists", var.data_type),
            );
        }
        check_type_specifics(var, &path, report);
    }
    check_pages(definition, report);
}

/// Letters, digits, spaces, `-` and `_`: a `.` or a quote would break references to it.
fn check_key(key: &str, path: &str, report: &mut Report<'_>) {
    if key.trim().is_empty() {
        report.add(path, "must not be empty");
    } else if !key
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_')
    {
        report.add(
            path,
            format!("{key:?} may hold only letters, digits, spaces, '-' and '_'"),
        );
    }
}

fn list_capable(data_type: DataType) -> bool {
    matches!(
        data_type,
        DataType::String
            | DataType::Date
            | DataType::Timestamp
            | DataType::Picklist
            | DataType::Code
            | DataType::Boolean
    )
}

fn check_type_specifics(var: &crate::model::ConfigVar, path: &str, report: &mut Report<'_>) {
    let default = var
        .default_value
        .as_ref()
        .filter(|_| var.collection_type.is_none());
    match var.data_type {
        DataType::Picklist => {
            if var.pick_list.is_empty() {
                report.add(
                    &format!("{path}.pickList"),
                    "a picklist needs its choices in pickList",
                );
            }
            for (i, choice) in var.pick_list.iter().enumerate() {
                if choice.chars().count() > MAX_PICK_CHARS {
                    report.add(
                        &format!("{path}.pickList[{i}]"),
                        format!("longer than {MAX_PICK_CHARS} characters"),
                    );
                }
            }
            if let Some(Value::String(default)) = default {
                if !var.pick_list.contains(default) {
                    report.add(
                        &format!("{path}.defaultValue"),
                        format!("{default:?} is not one of the pickList choices"),
                    );
                }
            }
        }
        DataType::Number => {
            let numeric = match default {
                None | Some(Value::Number(_)) => true,
                Some(Value::String(s)) => s.trim().parse::<f64>().is_ok(),
                _ => false,
            };
            if !numeric {
                report.add(&format!("{path}.defaultValue"), "is not a number");
            }
        }
        DataType::Boolean => {
            let boolean = matches!(default, None | Some(Value::Bool(_)))
                || matches!(default, Some(Value::String(s)) if s == "true" || s == "false");
            if !boolean {
                report.add(&format!("{path}.defaultValue"), "is not true or false");
            }
        }
        DataType::Schedule => {
            if let Some(Value::String(cron)) = default {
                if let Err(err) = crate::validate::flows::parse_cron(cron) {
                    report.add(&format!("{path}.defaultValue"), err);
                }
            }
        }
        DataType::Connection if var.connection.is_none() => {
            report.add(
                &format!("{path}.connection"),
                "a connection variable needs `connection` (its type and inputs)",
            );
        }
        _ => {}
    }
}

fn check_pages(definition: &Definition, report: &mut Report<'_>) {
    let known: HashSet<&str> = definition
        .required_config_vars
        .iter()
        .map(|v| v.key.as_str())
        .collect();
    let mut names = HashSet::new();
    let mut placed = HashSet::new();
    for (page_index, page) in definition.config_pages.iter().enumerate() {
        let path = format!("configPages[{page_index}]");
        if page.name.trim().is_empty() {
            report.add(&format!("{path}.name"), "must not be empty");
        }
        report.unique(
            &mut names,
            &page.name,
            &format!("{path}.name"),
            "config page",
        );
        for (index, element) in page.elements.iter().enumerate() {
            let path = format!("{path}.elements[{index}]");
            match (&element.config_var, &element.html) {
                (Some(key), None) => {
                    if !known.contains(key.as_str()) {
                        report.add(
                            &format!("{path}.configVar"),
                            format!("no config variable {key:?}"),
                        );
                    } else if !placed.insert(key.clone()) {
                        report.add(
                            &format!("{path}.configVar"),
                            format!("{key:?} is already on a page"),
                        );
                    }
                    let is_connection = definition
                        .required_config_vars
                        .iter()
                        .any(|v| &v.key == key && v.data_type == DataType::Connection);
                    if is_connection && page_index > 0 {
                        report.add(
                            &format!("{path}.configVar"),
                            "connection variables belong on the first config page",
                        );
                    }
                }
                (None, Some(_)) => {}
                _ => report.add(&path, "an element is either `configVar` or `html`"),
            }
        }
    }
}
