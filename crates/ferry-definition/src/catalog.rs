//! What validation needs to know of actions: which exist, what inputs they take, and whether
//! they hold nested steps, and what their inputs' values must be (code that must parse). The
//! components crate provides the real catalogue; validation only sees this trait.

use std::collections::BTreeMap;

use serde_json::Value;

/// The shape of a step's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Runs and gives a result.
    Plain,
    /// Chooses one of its `branches`.
    Branch,
    /// Runs its nested `steps` per item.
    Loop,
}

/// One input of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The input's key in `inputs`.
    pub key: String,
    /// Whether a step must give it.
    pub required: bool,
}

/// What an action takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    /// Plain, branch or loop.
    pub kind: ActionKind,
    /// Its inputs.
    pub inputs: Vec<InputSpec>,
    /// Whether its inputs are not known here, so any are accepted and none required (a stored
    /// definition read again, whose custom actions were checked when it was imported).
    pub any_inputs: bool,
}

/// A problem with the value a step gives one of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The input's key.
    pub input: String,
    /// What is wrong with its value.
    pub message: String,
}

/// Whether a custom trigger answers synchronous calls (the reference's
/// `synchronousResponseSupport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncSupport {
    /// Synchronous or not, as the flow says.
    Valid,
    /// Never synchronous.
    Invalid,
    /// Always synchronous.
    Required,
}

/// What a custom trigger (`trigger.action`) takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerSpec {
    /// Its inputs.
    pub inputs: Vec<InputSpec>,
    /// Whether flows may, must or must not be synchronous.
    pub synchronous: SyncSupport,
    /// As for actions: inputs not known here.
    pub any_inputs: bool,
}

/// The actions steps may call, by `<component>.<action>` key, and the custom triggers and
/// pinned component versions a definition may name.
pub trait Catalog {
    /// The action's spec, or `None` when no such action exists.
    fn action(&self, key: &str) -> Option<ActionSpec>;

    /// Checks the values a step gives action `key` beyond which inputs it has: code that must
    /// parse, a value from a fixed list. Nothing by default.
    fn check_inputs(&self, _key: &str, _inputs: &BTreeMap<String, Value>) -> Vec<InputProblem> {
        Vec::new()
    }

    /// The custom trigger `<component>.<trigger>`, or `None` when no such trigger exists.
    fn trigger(&self, _key: &str) -> Option<TriggerSpec> {
        None
    }

    /// Why an unknown action or trigger `key` is unknown, when there is more to say than that.
    fn explain_unknown(&self, _key: &str) -> Option<String> {
        None
    }

    /// Why component `key` cannot be pinned at `version` (`componentVersions`), if it cannot.
    fn pin_problem(&self, _key: &str, _version: u32) -> Option<String> {
        None
    }
}
