//! Webhook ingress (`/trigger/{id}`, `DESIGN.md` 3.2): `ingress` accepts requests and commits
//! queued executions; [`payload`] turns a request into the trigger's result; `routing` picks
//! the flow (and customer) of instance-specific and shared endpoints; `custom_trigger` runs a
//! custom component trigger on the request; `respond` answers synchronous calls with the
//! execution's result.

pub(crate) mod custom_trigger;
pub(crate) mod ingress;
pub(crate) mod limit;
pub mod payload;
pub(crate) mod respond;
mod routing;
mod xml;

pub(crate) use ingress::webhook_urls;
pub use ingress::MAX_WEBHOOK_BODY_BYTES;

use ferry_core::id::{self, Kind};
use ferry_definition::model::EndpointType;
use uuid::Uuid;

/// Whose webhook URL: the flow config, its instance and the instance's integration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UrlOwner {
    pub(crate) flow_config: Uuid,
    pub(crate) instance: Uuid,
    pub(crate) integration: Uuid,
}

/// A flow config's webhook URL as its integration's endpoint type lays URLs out: one per
/// flow config, one per instance, or one per integration.
pub(crate) fn webhook_url(
    public_url: &str,
    endpoint_type: EndpointType,
    owner: UrlOwner,
) -> String {
    let id = match endpoint_type {
        EndpointType::FlowSpecific => id::encode(Kind::InstanceFlowConfig, owner.flow_config),
        EndpointType::InstanceSpecific => id::encode(Kind::Instance, owner.instance),
        EndpointType::SharedInstance => id::encode(Kind::Integration, owner.integration),
    };
    format!("{public_url}/trigger/{id}")
}
