//! What validation needs to know of actions: which exist, what inputs they take, and whether
//! they hold nested steps. The components crate provides the real catalogue; validation only
//! sees this trait.

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

/// The actions steps may call, by `<component>.<action>` key.
pub trait Catalog {
    /// The action's spec, or `None` when no such action exists.
    fn action(&self, key: &str) -> Option<ActionSpec>;
}
