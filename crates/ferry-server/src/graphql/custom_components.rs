//! Publishing custom components (`publishComponent`), and the catalogue an import is checked
//! against when its definition pins custom components (`componentVersions`).
//!
//! A publish loads the bundle in a sandbox (`ferry-js`), reads the manifest its
//! `component({ … })` declares, checks it (`ferry-components`), and stores it with the bundle
//! as the component's next version. A bundle that does not parse, throws while loading, exports
//! no component or declares a bad manifest is refused with `errors` naming the place; nothing
//! is stored.

use std::time::Duration;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use ferry_components::custom::{Manifest, Pinned};
use ferry_core::role::Permission;
use ferry_store::{NewComponentVersion, StoreError, Tenant};

use crate::graphql::components::{read_manifest, ComponentNode, ComponentVersionNode};
use crate::graphql::errors::{denied, payload_errors, FieldErrors};
use crate::graphql::{env, Api};

/// How long loading a bundle to read its manifest may take.
pub(crate) const MANIFEST_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Input of `publishComponent`.
#[derive(InputObject)]
pub struct PublishComponentInput {
    /// The component's bundle: JavaScript exporting `component({ … })`.
    bundle: String,
    /// Why it is published.
    comment: Option<String>,
}

/// The result of `publishComponent`.
#[derive(SimpleObject)]
pub struct PublishComponentPayload {
    /// The component, with its new `versionNumber`.
    component: Option<ComponentNode>,
    /// The version just published.
    published_version: Option<ComponentVersionNode>,
    /// What was wrong: `bundle` for a bundle that cannot be loaded, else the manifest's path
    /// (`actions.createContact.inputs.email.type`).
    errors: Vec<FieldErrors>,
}

impl PublishComponentPayload {
    fn failed(errors: Vec<FieldErrors>) -> Self {
        Self {
            component: None,
            published_version: None,
            errors,
        }
    }
}

/// The manifest of `bundle`, checked; `errors` values otherwise.
pub(crate) async fn checked_manifest(
    js: &ferry_js::JsRuntime,
    bundle: &str,
) -> Result<Manifest, Vec<FieldErrors>> {
    let described = js
        .component_manifest(bundle.to_string(), MANIFEST_TIME_LIMIT)
        .await
        .map_err(|error| FieldErrors::one("bundle", error.to_string()))?;
    Manifest::check(described).map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| FieldErrors {
                field: problem.path,
                messages: vec![problem.message],
            })
            .collect()
    })
}

/// Custom component mutations.
#[derive(Default)]
pub struct ComponentMutation;

#[Object]
impl ComponentMutation {
    /// Loads a bundle, checks the manifest it declares, and stores it as the next version of
    /// its component (version 1 on the first publish).
    async fn publish_component(
        &self,
        ctx: &Context<'_>,
        input: PublishComponentInput,
    ) -> async_graphql::Result<PublishComponentPayload> {
        let (api, actor) = env(ctx);
        actor
            .require(Permission::ManageComponents, "manage components")
            .map_err(denied)?;
        let bundle = ferry_js::prepare_bundle(&input.bundle);
        let manifest = match checked_manifest(&api.js, &bundle).await {
            Ok(manifest) => manifest,
            Err(errors) => return Ok(PublishComponentPayload::failed(errors)),
        };
        let new = NewComponentVersion {
            key: manifest.key().to_string(),
            label: manifest.label().to_string(),
            description: manifest.display.description.clone().unwrap_or_default(),
            manifest: serde_json::to_string(&manifest).unwrap_or_default(),
            bundle,
            comment: input.comment.unwrap_or_default(),
        };
        let published = api
            .store
            .publish_component(&actor.tenant, new, Some(actor.user.id))
            .await;
        let version = match published {
            Ok(version) => version,
            Err(err) => return Ok(PublishComponentPayload::failed(payload_errors(ctx, err)?)),
        };
        let component = api
            .store
            .custom_component(&actor.tenant, &version.key)
            .await
            .map_err(|e| crate::graphql::errors::query_error(ctx, e))?;
        Ok(PublishComponentPayload {
            component: Some(ComponentNode::Custom(
                Box::new(component),
                Box::new(manifest),
            )),
            published_version: Some(version.into()),
            errors: Vec::new(),
        })
    }
}

/// The catalogue for importing `definition`: the built-in one plus the manifests of the
/// component versions it pins, each pin that cannot be used noted with why.
pub(crate) async fn pinned_catalog(
    api: &Api,
    tenant: &Tenant,
    definition: &str,
) -> Result<Pinned, StoreError> {
    let mut catalog = Pinned::new();
    for (key, version) in ferry_definition::component_pins(definition) {
        let number = i32::try_from(version).unwrap_or(i32::MAX);
        match api.store.component_version(tenant, &key, number).await {
            Ok(found) => catalog.found(&key, version, read_manifest(&found.manifest)),
            Err(StoreError::NotFound { .. }) => {
                let published = api.store.component_versions(tenant, &key).await?;
                let numbers: Vec<String> = published
                    .iter()
                    .rev()
                    .map(|v| v.version_number.to_string())
                    .collect();
                let why = match numbers.is_empty() {
                    true => format!("no custom component {key:?} has been published"),
                    false => format!(
                        "component {key:?} has no version {version}; its versions are {}",
                        numbers.join(", ")
                    ),
                };
                catalog.missing(&key, why);
            }
            Err(err) => return Err(err),
        }
    }
    Ok(catalog)
}
