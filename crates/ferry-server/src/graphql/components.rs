//! Components: `components` and `component(key)` serve the built-in catalogue, the same one
//! imports are checked against and `docs/components.md` is generated from. Every user may read
//! it (the reference lets even third-party users view built-in components).

use async_graphql::{Context, Enum, Object};
use ferry_components::{builtin_components, BuiltinAction, BuiltinComponent, BuiltinInput};
use ferry_definition::ActionKind;

use crate::graphql::connection::{connection, known_count, memory_page};

/// A component: a family of actions.
#[derive(Clone)]
pub struct ComponentNode(&'static BuiltinComponent);

#[Object(name = "Component")]
impl ComponentNode {
    /// Its key, the prefix of its actions' keys.
    async fn key(&self) -> &str {
        self.0.key
    }
    /// Its name for people.
    async fn label(&self) -> &str {
        self.0.label
    }
    /// What it is for.
    async fn description(&self) -> &str {
        self.0.description
    }
    /// Built-in components are public to every organization.
    async fn is_public(&self) -> bool {
        true
    }
    /// Its actions.
    async fn actions(&self) -> Vec<ActionNode> {
        self.0.actions().map(ActionNode).collect()
    }
}

/// Plain actions run and give a result; branch and loop actions hold nested steps.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ActionShape {
    /// Runs and gives a result.
    Plain,
    /// Chooses one of its branches.
    Branch,
    /// Runs its nested steps per item.
    Loop,
}

/// An action steps can call.
pub struct ActionNode(&'static BuiltinAction);

#[Object(name = "Action")]
impl ActionNode {
    /// `<component>.<action>`, as steps name it.
    async fn key(&self) -> &str {
        self.0.key
    }
    /// What it does.
    async fn description(&self) -> &str {
        self.0.description
    }
    /// What its result holds.
    async fn output(&self) -> &str {
        self.0.output
    }
    /// Plain, branch or loop.
    async fn shape(&self) -> ActionShape {
        match self.0.kind {
            ActionKind::Plain => ActionShape::Plain,
            ActionKind::Branch => ActionShape::Branch,
            ActionKind::Loop => ActionShape::Loop,
        }
    }
    /// Its inputs.
    async fn inputs(&self) -> Vec<ActionInputNode> {
        self.0.inputs.iter().map(ActionInputNode).collect()
    }
}

/// One input of an action.
pub struct ActionInputNode(&'static BuiltinInput);

#[Object(name = "ActionInput")]
impl ActionInputNode {
    /// The key in a step's `inputs`.
    async fn key(&self) -> &str {
        self.0.key
    }
    /// Whether steps must give it.
    async fn required(&self) -> bool {
        self.0.required
    }
    /// What it is.
    async fn description(&self) -> &str {
        self.0.description
    }
}

connection!(ComponentConnection, ComponentEdge, ComponentNode);

/// Component queries.
#[derive(Default)]
pub struct ComponentQuery;

#[Object]
impl ComponentQuery {
    /// The components steps can use; `after` takes a component key (its cursor).
    async fn components(
        &self,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ComponentConnection> {
        let all: Vec<&'static BuiltinComponent> = builtin_components().iter().collect();
        let total = all.len();
        let (page, after_given) = memory_page(all, |c| c.key.to_string(), after.as_deref(), first)?;
        Ok(ComponentConnection::new(
            page,
            after_given,
            ComponentNode,
            known_count(total),
        ))
    }

    /// One component by key.
    async fn component(
        &self,
        _ctx: &Context<'_>,
        key: String,
    ) -> async_graphql::Result<ComponentNode> {
        builtin_components()
            .iter()
            .find(|c| c.key == key)
            .map(ComponentNode)
            .ok_or_else(|| async_graphql::Error::new(format!("no component {key:?}")))
    }
}
