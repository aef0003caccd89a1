//! A custom component's manifest: what its bundle's `component({ … })` declares, as the SDK
//! describes it (`ferry-js`), read and checked before a version is stored. Every problem is
//! reported at once, each with its path (`actions.createContact.inputs.email.type`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::components::builtin_components;

/// The input types the SDK's `input({ type })` takes (the reference's).
pub const INPUT_TYPES: &[&str] = &[
    "string",
    "text",
    "password",
    "boolean",
    "code",
    "conditional",
    "connection",
    "data",
    "template",
    "date",
    "timestamp",
    "credential",
    "objectSelection",
    "objectFieldMap",
    "jsonForm",
    "dynamicObjectSelection",
    "dynamicFieldSelection",
    "flow",
];

/// The data source types (`dataSource({ dataSourceType })`).
pub const DATA_SOURCE_TYPES: &[&str] = &[
    "string",
    "number",
    "boolean",
    "date",
    "timestamp",
    "picklist",
    "schedule",
    "code",
    "credential",
    "connection",
    "objectSelection",
    "objectFieldMap",
    "jsonForm",
];

const SUPPORT: &[&str] = &["valid", "invalid", "required"];

/// A label and description for people.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Display {
    /// The name shown.
    #[serde(default)]
    pub label: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
}

/// One input of an action, trigger, data source or connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputManifest {
    /// Its key in `params` (and in a step's `inputs`).
    pub key: String,
    /// Its name for people.
    #[serde(default)]
    pub label: Option<String>,
    /// One of [`INPUT_TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether a step must give it (unless it has a default).
    #[serde(default)]
    pub required: bool,
    /// The value used when none is given.
    #[serde(default)]
    pub default: Option<Value>,
    /// `valuelist` or `keyvaluelist`.
    #[serde(default)]
    pub collection: Option<Value>,
    /// A dropdown's choices: `[{ label, value }]`.
    #[serde(default)]
    pub model: Option<Value>,
    /// Help text.
    #[serde(default)]
    pub comments: Option<String>,
    /// Placeholder text.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// An example value.
    #[serde(default)]
    pub example: Option<Value>,
    /// A code input's language.
    #[serde(default)]
    pub language: Option<String>,
    /// Whether a `clean` function prepares its value.
    #[serde(default)]
    pub has_clean: bool,
}

/// An action steps can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionManifest {
    /// Its key: steps call `<component>.<key>`.
    pub key: String,
    /// Label and description.
    #[serde(default)]
    pub display: Display,
    /// Its inputs, in declaration order.
    #[serde(default)]
    pub inputs: Vec<InputManifest>,
    /// Whether it has a `perform` function.
    #[serde(default)]
    pub has_perform: bool,
    /// An example of its result.
    #[serde(default)]
    pub example_payload: Option<Value>,
}

/// A trigger flows can start with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerManifest {
    /// Its key: flows name `<component>.<key>` as `trigger.action`.
    pub key: String,
    /// Label and description.
    #[serde(default)]
    pub display: Display,
    /// Its inputs.
    #[serde(default)]
    pub inputs: Vec<InputManifest>,
    /// Whether it has a `perform` function.
    #[serde(default)]
    pub has_perform: bool,
    /// Whether it has an `onInstanceDeploy` hook.
    #[serde(default)]
    pub has_on_instance_deploy: bool,
    /// Whether it has an `onInstanceDelete` hook.
    #[serde(default)]
    pub has_on_instance_delete: bool,
    /// `valid`, `invalid` or `required`.
    #[serde(default)]
    pub synchronous_response_support: String,
    /// `valid`, `invalid` or `required`.
    #[serde(default)]
    pub schedule_support: String,
}

/// A connection the component's actions can use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionManifest {
    /// Its key.
    #[serde(default)]
    pub key: Option<String>,
    /// Label and description.
    #[serde(default)]
    pub display: Display,
    /// Its fields.
    #[serde(default)]
    pub inputs: Vec<InputManifest>,
    /// Whether it is an OAuth 2.0 connection (declared only: the flow is a later issue).
    #[serde(default)]
    pub oauth2: bool,
    /// The OAuth 2.0 grant.
    #[serde(default)]
    pub oauth2_type: Option<String>,
}

/// A data source for the config wizard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceManifest {
    /// Its key.
    pub key: String,
    /// Label and description.
    #[serde(default)]
    pub display: Display,
    /// Its inputs.
    #[serde(default)]
    pub inputs: Vec<InputManifest>,
    /// Whether it has a `perform` function.
    #[serde(default)]
    pub has_perform: bool,
    /// One of [`DATA_SOURCE_TYPES`].
    #[serde(default)]
    pub data_source_type: Option<String>,
}

/// What a component declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Its key, the prefix of its actions' keys.
    #[serde(default)]
    pub key: Option<String>,
    /// Label and description.
    #[serde(default)]
    pub display: Display,
    /// Its actions.
    #[serde(default)]
    pub actions: Vec<ActionManifest>,
    /// Its triggers.
    #[serde(default)]
    pub triggers: Vec<TriggerManifest>,
    /// Its connections; the first is the default.
    #[serde(default)]
    pub connections: Vec<ConnectionManifest>,
    /// Its data sources.
    #[serde(default)]
    pub data_sources: Vec<DataSourceManifest>,
}

/// One problem with a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    /// Where: `actions.createContact.inputs.email.type`, or `key`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Manifest {
    /// Reads and checks the manifest the SDK described: every problem at once.
    pub fn check(value: Value) -> Result<Manifest, Vec<ManifestProblem>> {
        let manifest: Manifest = serde_path_to_error::deserialize(value).map_err(|err| {
            vec![ManifestProblem {
                path: err.path().to_string(),
                message: err.into_inner().to_string(),
            }]
        })?;
        let mut problems = Problems::default();
        manifest.check_parts(&mut problems);
        match problems.0.is_empty() {
            true => Ok(manifest),
            false => Err(problems.0),
        }
    }

    /// The component's key (checked to be there).
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    /// Its label, else its key.
    pub fn label(&self) -> &str {
        self.display.label.as_deref().unwrap_or(self.key())
    }

    /// Action `key`.
    pub fn action(&self, key: &str) -> Option<&ActionManifest> {
        self.actions.iter().find(|a| a.key == key)
    }

    /// Trigger `key`.
    pub fn trigger(&self, key: &str) -> Option<&TriggerManifest> {
        self.triggers.iter().find(|t| t.key == key)
    }

    fn check_parts(&self, problems: &mut Problems) {
        match self.key.as_deref() {
            None => problems.add("key", "a component needs a key"),
            Some(key) if !is_component_key(key) => problems.add(
                "key",
                format!("{key:?} must be letters, digits, hyphens and underscores, starting and ending with a letter or digit"),
            ),
            Some(key) if builtin_components().iter().any(|c| c.key == key) => problems.add(
                "key",
                format!("{key:?} is a built-in component's key; choose another"),
            ),
            Some(_) => {}
        }
        if self.actions.is_empty() && self.triggers.is_empty() && self.data_sources.is_empty() {
            problems.add(
                "actions",
                "the component declares no actions, triggers or data sources",
            );
        }
        let mut keys = HashSet::new();
        for action in &self.actions {
            let member = Member::new("actions", "action", &action.key);
            problems.member(&mut keys, &member, action.has_perform, &action.inputs);
        }
        for trigger in &self.triggers {
            let member = Member::new("triggers", "trigger", &trigger.key);
            problems.member(&mut keys, &member, trigger.has_perform, &trigger.inputs);
            let path = member.path;
            for (field, value) in [
                (
                    "synchronousResponseSupport",
                    &trigger.synchronous_response_support,
                ),
                ("scheduleSupport", &trigger.schedule_support),
            ] {
                problems.one_of(value, SUPPORT, &format!("{path}.{field}"), "value");
            }
        }
        for source in &self.data_sources {
            let member = Member::new("dataSources", "data source", &source.key);
            problems.member(&mut keys, &member, source.has_perform, &source.inputs);
            let kind = source.data_source_type.as_deref().unwrap_or_default();
            let field = format!("{}.dataSourceType", member.path);
            problems.one_of(kind, DATA_SOURCE_TYPES, &field, "data source type");
        }
        let mut connection_keys = HashSet::new();
        for (index, connection) in self.connections.iter().enumerate() {
            let path = format!("connections[{index}]");
            match connection.key.as_deref() {
                Some(key) => problems.member_key(&mut connection_keys, key, &path, "connection"),
                None => problems.add(&format!("{path}.key"), "a connection needs a key"),
            }
            problems.inputs(&connection.inputs, &path);
        }
    }
}

/// Letters, digits, `-` and `_`, starting and ending with a letter or digit (the reference's
/// rule for component names).
fn is_component_key(key: &str) -> bool {
    let edges = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edges(key.chars().next())
        && edges(key.chars().last())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Default)]
struct Problems(Vec<ManifestProblem>);

/// An action, trigger or data source, as its checks name it.
struct Member<'m> {
    /// `actions.<key>`, `triggers.<key>` or `dataSources.<key>`.
    path: String,
    /// `action`, `trigger` or `data source`, for messages.
    what: &'static str,
    key: &'m str,
}

impl<'m> Member<'m> {
    fn new(group: &str, what: &'static str, key: &'m str) -> Self {
        Member {
            path: format!("{group}.{key}"),
            what,
            key,
        }
    }
}

impl Problems {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ManifestProblem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// An action, trigger, data source or connection key: well formed and unique.
    fn member_key(&mut self, seen: &mut HashSet<String>, key: &str, path: &str, what: &str) {
        let well_formed = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !well_formed {
            self.add(
                path,
                format!("{what} key {key:?} must be letters, digits, hyphens and underscores"),
            );
        }
        if !seen.insert(key.to_string()) {
            self.add(
                path,
                format!("duplicate key {key:?}: actions, triggers and data sources share one set of keys, connections another"),
            );
        }
    }

    /// What every member must have: a unique, well-formed key, a `perform` function and
    /// well-declared inputs.
    fn member(
        &mut self,
        seen: &mut HashSet<String>,
        member: &Member<'_>,
        has_perform: bool,
        inputs: &[InputManifest],
    ) {
        self.member_key(seen, member.key, &member.path, member.what);
        self.perform(has_perform, &member.path);
        self.inputs(inputs, &member.path);
    }

    fn perform(&mut self, has_perform: bool, path: &str) {
        if !has_perform {
            self.add(&format!("{path}.perform"), "must be a function");
        }
    }

    fn one_of(&mut self, value: &str, allowed: &[&str], path: &str, what: &str) {
        if !allowed.contains(&value) {
            self.add(
                path,
                format!(
                    "unknown {what} {value:?}; use one of: {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    fn inputs(&mut self, inputs: &[InputManifest], owner: &str) {
        for input in inputs {
            let path = format!("{owner}.inputs.{}", input.key);
            if input.label.as_deref().is_none_or(|l| l.trim().is_empty()) {
                self.add(&format!("{path}.label"), "an input needs a label");
            }
            self.one_of(
                &input.kind,
                INPUT_TYPES,
                &format!("{path}.type"),
                "input type",
            );
            if let Some(collection) = &input.collection {
                let name = collection.as_str().unwrap_or_default();
                let field = format!("{path}.collection");
                self.one_of(name, &["valuelist", "keyvaluelist"], &field, "collection");
            }
            if let Some(model) = &input.model {
                let choices = model.as_array().filter(|items| {
                    items
                        .iter()
                        .all(|item| item.get("label").is_some() && item.get("value").is_some())
                });
                if choices.is_none() {
                    self.add(
                        &format!("{path}.model"),
                        "a model is a list of { label, value } choices",
                    );
                }
            }
        }
    }
}
