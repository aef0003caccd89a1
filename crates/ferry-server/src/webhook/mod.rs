//! Webhook ingress (`/trigger/{id}`, `DESIGN.md` 3.2): `ingress` accepts requests and commits
//! queued executions; [`payload`] turns a request into the trigger's result.

pub(crate) mod ingress;
pub mod payload;
mod xml;

pub(crate) use ingress::webhook_urls;
pub use ingress::MAX_WEBHOOK_BODY_BYTES;
