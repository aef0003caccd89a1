//! Catalogues that know custom components: [`Pinned`] checks an import against the manifests
//! of the versions its `componentVersions` pin (the built-in catalogue first), and [`Stored`]
//! reads a stored definition again, trusting the custom actions and triggers it was checked
//! against when it was imported.

use std::collections::BTreeMap;

use ferry_definition::{
    ActionKind, ActionSpec, Catalog, InputProblem, InputSpec, SyncSupport, TriggerSpec,
};
use serde_json::Value;

use super::manifest::{InputManifest, Manifest};
use crate::components::builtin_components;
use crate::Builtins;

/// The built-in catalogue plus the custom components a definition pins.
#[derive(Debug, Clone, Default)]
pub struct Pinned {
    pins: BTreeMap<String, Pin>,
}

#[derive(Debug, Clone)]
enum Pin {
    Found { version: u32, manifest: Manifest },
    Missing(String),
}

impl Pinned {
    /// No custom components yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Component `key` pinned at `version`, whose manifest is `manifest`.
    pub fn found(&mut self, key: &str, version: u32, manifest: Manifest) {
        self.pins
            .insert(key.to_string(), Pin::Found { version, manifest });
    }

    /// Component `key` pinned at a version that cannot be used, and why.
    pub fn missing(&mut self, key: &str, why: impl Into<String>) {
        self.pins.insert(key.to_string(), Pin::Missing(why.into()));
    }

    fn custom<'a>(&'a self, key: &'a str) -> Option<(&'a Manifest, &'a str)> {
        let (component, member) = key.split_once('.')?;
        match self.pins.get(component)? {
            Pin::Found { manifest, .. } => Some((manifest, member)),
            Pin::Missing(_) => None,
        }
    }
}

fn specs(inputs: &[InputManifest]) -> Vec<InputSpec> {
    inputs
        .iter()
        .map(|input| InputSpec {
            key: input.key.clone(),
            required: input.required && input.default.is_none(),
        })
        .collect()
}

fn support(value: &str) -> SyncSupport {
    match value {
        "invalid" => SyncSupport::Invalid,
        "required" => SyncSupport::Required,
        _ => SyncSupport::Valid,
    }
}

fn keys<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let keys: Vec<&str> = keys.collect();
    match keys.is_empty() {
        true => "none".into(),
        false => keys.join(", "),
    }
}

impl Catalog for Pinned {
    fn action(&self, key: &str) -> Option<ActionSpec> {
        if let Some(spec) = Builtins.action(key) {
            return Some(spec);
        }
        let (manifest, member) = self.custom(key)?;
        let action = manifest.action(member)?;
        Some(ActionSpec {
            kind: ActionKind::Plain,
            inputs: specs(&action.inputs),
            any_inputs: false,
        })
    }

    /// The built-ins' own checks (code that must parse, TypeScript included); a stored
    /// definition ([`Stored`]) was checked at import and is not checked again.
    fn check_inputs(&self, key: &str, inputs: &BTreeMap<String, Value>) -> Vec<InputProblem> {
        Builtins.check_inputs(key, inputs)
    }

    fn trigger(&self, key: &str) -> Option<TriggerSpec> {
        let (manifest, member) = self.custom(key)?;
        let trigger = manifest.trigger(member)?;
        Some(TriggerSpec {
            inputs: specs(&trigger.inputs),
            synchronous: support(&trigger.synchronous_response_support),
            any_inputs: false,
        })
    }

    fn explain_unknown(&self, key: &str) -> Option<String> {
        let Some((component, member)) = key.split_once('.') else {
            return Some(format!(
                "unknown action {key:?}: actions are named <component>.<action>"
            ));
        };
        if builtin_components().iter().any(|c| c.key == component) {
            return None;
        }
        Some(match self.pins.get(component) {
            Some(Pin::Found { version, manifest }) => format!(
                "component {component:?} (version {version}) has no action or trigger {member:?}; its actions: {}; its triggers: {}",
                keys(manifest.actions.iter().map(|a| a.key.as_str())),
                keys(manifest.triggers.iter().map(|t| t.key.as_str())),
            ),
            Some(Pin::Missing(_)) => format!(
                "{key:?} belongs to component {component:?}, whose pinned version cannot be used (see componentVersions)"
            ),
            None => format!(
                "unknown action {key:?}: no built-in component {component:?}; a custom component must be pinned in componentVersions"
            ),
        })
    }

    fn pin_problem(&self, key: &str, _version: u32) -> Option<String> {
        match self.pins.get(key)? {
            Pin::Missing(why) => Some(why.clone()),
            Pin::Found { .. } => None,
        }
    }
}

/// For stored definitions, checked when they were imported: built-in actions as the built-in
/// catalogue says, and any `<component>.<member>` of a component that is not built in accepted
/// as a custom action or trigger with the inputs it was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored;

fn is_custom(key: &str) -> bool {
    key.split_once('.')
        .is_some_and(|(component, _)| !builtin_components().iter().any(|c| c.key == component))
}

impl Catalog for Stored {
    fn action(&self, key: &str) -> Option<ActionSpec> {
        Builtins.action(key).or_else(|| {
            is_custom(key).then(|| ActionSpec {
                kind: ActionKind::Plain,
                inputs: Vec::new(),
                any_inputs: true,
            })
        })
    }

    fn trigger(&self, key: &str) -> Option<TriggerSpec> {
        is_custom(key).then(|| TriggerSpec {
            inputs: Vec::new(),
            synchronous: SyncSupport::Valid,
            any_inputs: true,
        })
    }
}

/// Whether `action` (a step's or a trigger's) belongs to a custom component: its component
/// key, and the member's key.
pub fn custom_member(action: &str) -> Option<(&str, &str)> {
    is_custom(action).then(|| action.split_once('.')).flatten()
}
