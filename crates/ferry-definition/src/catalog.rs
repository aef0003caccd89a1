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
}

/// A problem with the value a step gives one of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The input's key.
    pub input: String,
    /// What is wrong with its value.
    pub message: String,
}

/// The actions steps may call, by `<component>.<action>` key.
pub trait Catalog {
    /// The action's spec, or `None` when no such action exists.
    fn action(&self, key: &str) -> Option<ActionSpec>;

    /// Checks the values a step gives action `key` beyond which inputs it has: code that must
    /// parse, a value from a fixed list. Nothing by default.
    fn check_inputs(&self, _key: &str, _inputs: &BTreeMap<String, Value>) -> Vec<InputProblem> {
        Vec::new()
    }
}
