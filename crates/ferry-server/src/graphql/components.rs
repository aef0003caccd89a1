//! Components: `components` and `component(key)` serve the built-in catalogue (the same one
//! imports are checked against and `docs/components.md` is generated from) followed by the
//! organization's custom components, each with its versions, actions, triggers, connections,
//! data sources and inputs. Every user may read the built-in ones (the reference lets even
//! third-party users view built-in components); custom ones are the organization's.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_components::custom::{InputManifest, Manifest};
use ferry_components::{builtin_components, BuiltinAction, BuiltinComponent};
use ferry_core::component::{ComponentVersion, CustomComponent};
use ferry_core::id::{self, Kind};
use ferry_definition::ActionKind;

use crate::graphql::connection::{connection, known_count, memory_page};
use crate::graphql::env;
use crate::graphql::errors::query_error;

/// A component: a family of actions (and, for custom ones, triggers and data sources).
#[derive(Clone)]
pub enum ComponentNode {
    /// Built into Ferry.
    Builtin(&'static BuiltinComponent),
    /// Published by the organization: the component and its latest version's manifest.
    Custom(Box<CustomComponent>, Box<Manifest>),
}

#[Object(name = "Component")]
impl ComponentNode {
    /// The component's id (null for built-in components).
    async fn id(&self) -> Option<ID> {
        match self {
            ComponentNode::Builtin(_) => None,
            ComponentNode::Custom(c, _) => Some(ID(id::encode(Kind::Component, c.id))),
        }
    }
    /// Its key, the prefix of its actions' keys.
    async fn key(&self) -> &str {
        match self {
            ComponentNode::Builtin(b) => b.key,
            ComponentNode::Custom(c, _) => &c.key,
        }
    }
    /// Its name for people.
    async fn label(&self) -> &str {
        match self {
            ComponentNode::Builtin(b) => b.label,
            ComponentNode::Custom(c, _) => &c.label,
        }
    }
    /// What it is for.
    async fn description(&self) -> &str {
        match self {
            ComponentNode::Builtin(b) => b.description,
            ComponentNode::Custom(c, _) => &c.description,
        }
    }
    /// Built-in components are public to every organization; custom ones are private.
    async fn is_public(&self) -> bool {
        matches!(self, ComponentNode::Builtin(_))
    }
    /// The latest version's number (null for built-in components).
    async fn version_number(&self) -> Option<i32> {
        match self {
            ComponentNode::Builtin(_) => None,
            ComponentNode::Custom(c, _) => Some(c.latest_version),
        }
    }
    /// Its actions (of the latest version).
    async fn actions(&self) -> Vec<ActionNode> {
        match self {
            ComponentNode::Builtin(b) => b.actions().map(ActionNode::builtin).collect(),
            ComponentNode::Custom(_, manifest) => custom_actions(manifest),
        }
    }
    /// Its triggers (of the latest version).
    async fn triggers(&self) -> Vec<MemberNode> {
        match self {
            ComponentNode::Builtin(_) => Vec::new(),
            ComponentNode::Custom(_, manifest) => triggers_of(manifest),
        }
    }
    /// Its connections (of the latest version); the first is the default.
    async fn connections(&self) -> Vec<MemberNode> {
        match self {
            ComponentNode::Builtin(_) => Vec::new(),
            ComponentNode::Custom(_, manifest) => connections_of(manifest),
        }
    }
    /// Its data sources (of the latest version).
    async fn data_sources(&self) -> Vec<MemberNode> {
        match self {
            ComponentNode::Builtin(_) => Vec::new(),
            ComponentNode::Custom(_, manifest) => data_sources_of(manifest),
        }
    }
    /// Its published versions, newest first (none for built-in components).
    async fn versions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ComponentVersionNode>> {
        let ComponentNode::Custom(component, _) = self else {
            return Ok(Vec::new());
        };
        let (api, actor) = env(ctx);
        let versions = api
            .store
            .component_versions(&actor.tenant, &component.key)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(versions
            .into_iter()
            .map(ComponentVersionNode::from)
            .collect())
    }
}

/// A published, frozen version of a custom component.
pub struct ComponentVersionNode {
    version: ComponentVersion,
    manifest: Manifest,
}

impl From<ComponentVersion> for ComponentVersionNode {
    fn from(version: ComponentVersion) -> Self {
        let manifest = read_manifest(&version.manifest);
        ComponentVersionNode { version, manifest }
    }
}

/// A stored manifest (checked when it was published), read again.
pub(crate) fn read_manifest(text: &str) -> Manifest {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| Manifest::check(value).ok())
        .unwrap_or(Manifest {
            key: None,
            display: Default::default(),
            actions: Vec::new(),
            triggers: Vec::new(),
            connections: Vec::new(),
            data_sources: Vec::new(),
        })
}

#[Object(name = "ComponentVersion")]
impl ComponentVersionNode {
    /// The version's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::ComponentVersion, self.version.id))
    }
    /// 1, 2, 3…
    async fn version_number(&self) -> i32 {
        self.version.version_number
    }
    /// Why it was published.
    async fn comment(&self) -> &str {
        &self.version.comment
    }
    /// When it was published.
    async fn published_at(&self) -> DateTime<Utc> {
        self.version.published_at
    }
    /// Its actions.
    async fn actions(&self) -> Vec<ActionNode> {
        custom_actions(&self.manifest)
    }
    /// Its triggers.
    async fn triggers(&self) -> Vec<MemberNode> {
        triggers_of(&self.manifest)
    }
    /// Its connections.
    async fn connections(&self) -> Vec<MemberNode> {
        connections_of(&self.manifest)
    }
    /// Its data sources.
    async fn data_sources(&self) -> Vec<MemberNode> {
        data_sources_of(&self.manifest)
    }
    /// The bundle as published.
    async fn bundle(&self) -> &str {
        &self.version.bundle
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
#[derive(SimpleObject)]
#[graphql(name = "Action")]
pub struct ActionNode {
    /// `<component>.<action>`, as steps name it.
    key: String,
    /// Its name for people.
    label: String,
    /// What it does.
    description: String,
    /// What its result holds (a custom action's example payload, as JSON).
    output: String,
    /// Plain, branch or loop.
    shape: ActionShape,
    /// Its inputs.
    inputs: Vec<ActionInputNode>,
}

impl ActionNode {
    fn builtin(action: &'static BuiltinAction) -> Self {
        ActionNode {
            key: action.key.into(),
            label: action.key.into(),
            description: action.description.into(),
            output: action.output.into(),
            shape: match action.kind {
                ActionKind::Plain => ActionShape::Plain,
                ActionKind::Branch => ActionShape::Branch,
                ActionKind::Loop => ActionShape::Loop,
            },
            inputs: action
                .inputs
                .iter()
                .map(|input| ActionInputNode {
                    key: input.key.into(),
                    label: input.key.into(),
                    description: input.description.into(),
                    required: input.required,
                    ..ActionInputNode::default()
                })
                .collect(),
        }
    }
}

/// A trigger, connection or data source of a custom component.
#[derive(SimpleObject)]
#[graphql(name = "ComponentMember")]
pub struct MemberNode {
    /// `<component>.<key>` for triggers (as flows name them) and data sources; the
    /// connection's key for connections.
    key: String,
    /// Its name for people.
    label: String,
    /// What it does.
    description: String,
    /// Its inputs.
    inputs: Vec<ActionInputNode>,
}

/// One input of an action, trigger, connection or data source.
#[derive(SimpleObject, Default)]
#[graphql(name = "ActionInput")]
pub struct ActionInputNode {
    /// The key in a step's `inputs`.
    key: String,
    /// Its name for people.
    label: String,
    /// Whether steps must give it (custom inputs with a default need not).
    required: bool,
    /// What it is.
    description: String,
    /// Its type (`string`, `password`, `connection`…); `string` for built-in inputs.
    #[graphql(name = "type")]
    kind: String,
    /// Its default, as JSON.
    #[graphql(name = "default")]
    default_value: Option<String>,
    /// `valuelist` or `keyvaluelist`.
    collection: Option<String>,
    /// A dropdown's choices, as JSON `[{ label, value }]`.
    model: Option<String>,
}

fn input_node(input: &InputManifest) -> ActionInputNode {
    let json = |value: &Option<serde_json::Value>| value.as_ref().map(|v| v.to_string());
    ActionInputNode {
        key: input.key.clone(),
        label: input.label.clone().unwrap_or_default(),
        required: input.required && input.default.is_none(),
        description: input.comments.clone().unwrap_or_default(),
        kind: input.kind.clone(),
        default_value: json(&input.default),
        collection: input
            .collection
            .as_ref()
            .and_then(|c| c.as_str().map(str::to_string)),
        model: json(&input.model),
    }
}

fn inputs(inputs: &[InputManifest]) -> Vec<ActionInputNode> {
    inputs.iter().map(input_node).collect()
}

fn member(
    key: String,
    display: &ferry_components::custom::Display,
    given: &[InputManifest],
) -> MemberNode {
    MemberNode {
        label: display.label.clone().unwrap_or_else(|| key.clone()),
        description: display.description.clone().unwrap_or_default(),
        inputs: inputs(given),
        key,
    }
}

fn custom_actions(manifest: &Manifest) -> Vec<ActionNode> {
    manifest
        .actions
        .iter()
        .map(|action| ActionNode {
            key: format!("{}.{}", manifest.key(), action.key),
            label: action.display.label.clone().unwrap_or(action.key.clone()),
            description: action.display.description.clone().unwrap_or_default(),
            output: action
                .example_payload
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            shape: ActionShape::Plain,
            inputs: inputs(&action.inputs),
        })
        .collect()
}

fn triggers_of(manifest: &Manifest) -> Vec<MemberNode> {
    let key = |k: &str| format!("{}.{k}", manifest.key());
    let triggers = manifest.triggers.iter();
    triggers
        .map(|t| member(key(&t.key), &t.display, &t.inputs))
        .collect()
}

fn connections_of(manifest: &Manifest) -> Vec<MemberNode> {
    let connections = manifest.connections.iter();
    connections
        .map(|c| member(c.key.clone().unwrap_or_default(), &c.display, &c.inputs))
        .collect()
}

fn data_sources_of(manifest: &Manifest) -> Vec<MemberNode> {
    let key = |k: &str| format!("{}.{k}", manifest.key());
    let sources = manifest.data_sources.iter();
    sources
        .map(|d| member(key(&d.key), &d.display, &d.inputs))
        .collect()
}

connection!(ComponentConnection, ComponentEdge, ComponentNode);

/// The built-in components, then the organization's custom ones.
async fn all_components(ctx: &Context<'_>) -> async_graphql::Result<Vec<ComponentNode>> {
    let (api, actor) = env(ctx);
    let mut all: Vec<ComponentNode> = builtin_components()
        .iter()
        .map(ComponentNode::Builtin)
        .collect();
    let custom = api
        .store
        .custom_components(&actor.tenant)
        .await
        .map_err(|e| query_error(ctx, e))?;
    for component in custom {
        all.push(custom_node(ctx, component).await?);
    }
    Ok(all)
}

/// A custom component with its latest version's manifest.
async fn custom_node(
    ctx: &Context<'_>,
    component: CustomComponent,
) -> async_graphql::Result<ComponentNode> {
    let (api, actor) = env(ctx);
    let latest = api
        .store
        .component_version(&actor.tenant, &component.key, component.latest_version)
        .await
        .map_err(|e| query_error(ctx, e))?;
    let manifest = read_manifest(&latest.manifest);
    Ok(ComponentNode::Custom(
        Box::new(component),
        Box::new(manifest),
    ))
}

fn key_of(node: &ComponentNode) -> String {
    match node {
        ComponentNode::Builtin(b) => b.key.to_string(),
        ComponentNode::Custom(c, _) => c.key.clone(),
    }
}

/// Component queries.
#[derive(Default)]
pub struct ComponentQuery;

#[Object]
impl ComponentQuery {
    /// The components steps can use, built-in ones first; `after` takes a component key (its
    /// cursor).
    async fn components(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ComponentConnection> {
        let all = all_components(ctx).await?;
        let total = all.len();
        let (page, after_given) = memory_page(all, key_of, after.as_deref(), first)?;
        Ok(ComponentConnection::new(
            page,
            after_given,
            |node| node,
            known_count(total),
        ))
    }

    /// One component by key.
    async fn component(
        &self,
        ctx: &Context<'_>,
        key: String,
    ) -> async_graphql::Result<ComponentNode> {
        if let Some(builtin) = builtin_components().iter().find(|c| c.key == key) {
            return Ok(ComponentNode::Builtin(builtin));
        }
        let (api, actor) = env(ctx);
        match api.store.custom_component(&actor.tenant, &key).await {
            Ok(component) => custom_node(ctx, component).await,
            Err(ferry_store::StoreError::NotFound { .. }) => {
                Err(async_graphql::Error::new(format!("no component {key:?}")))
            }
            Err(err) => Err(query_error(ctx, err)),
        }
    }
}
