//! Test instances in the API: `integration { testInstance }`, and what an import tells the
//! store so that the test instance follows the draft (`DraftShape`).
//!
//! A test instance is an ordinary `Instance` otherwise: `updateInstanceConfigVariables` sets
//! its values (the reference's `testConfigVars`), its flow configs' webhook URLs run the draft,
//! and its executions are listed by `executionResults(instance: …)`. The store refuses to delete
//! it or move it to a published version; it goes with its integration.

use async_graphql::Context;
use ferry_core::role::Permission;
use ferry_definition::values::flow_identity;
use ferry_definition::Definition;
use ferry_store::DraftShape;
use uuid::Uuid;

use crate::graphql::env;
use crate::graphql::errors::{denied, query_error};
use crate::graphql::instances::InstanceNode;

/// The flows' identities and the renames of `definition`: what an instance follows when it
/// moves onto it.
pub(crate) fn shape_of(definition: &Definition) -> DraftShape {
    let renames = &definition.rename_attributes;
    DraftShape {
        flow_keys: definition
            .flows
            .iter()
            .map(|f| flow_identity(f).to_string())
            .collect(),
        flow_renames: renames
            .flows
            .iter()
            .map(|r| (r.old_name.clone(), r.new_name.clone()))
            .collect(),
        var_renames: renames
            .required_config_vars
            .iter()
            .map(|r| (r.old_name.clone(), r.new_name.clone()))
            .collect(),
    }
}

/// The test instance of integration `integration_id`, for callers who may view instances.
pub(crate) async fn test_instance_of(
    ctx: &Context<'_>,
    integration_id: Uuid,
) -> async_graphql::Result<Option<InstanceNode>> {
    let (api, actor) = env(ctx);
    actor
        .require(Permission::ViewCustomerInstances, "view instances")
        .map_err(denied)?;
    let found = api
        .store
        .test_instance(&actor.tenant, integration_id)
        .await
        .map_err(|e| query_error(ctx, e))?;
    Ok(found.map(InstanceNode))
}
