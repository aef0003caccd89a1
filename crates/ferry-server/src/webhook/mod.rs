//! Webhook ingress (`/trigger/{id}`, `DESIGN.md` 3.2). So far: turning an HTTP request into the
//! trigger's result ([`payload`]); the routes that accept requests and queue executions join it.

pub mod payload;
mod xml;
