//! The GraphQL API over real HTTP on loopback, on SQLite and PostgreSQL alike.

mod auth;
mod bad_input;
mod components;
mod custom_components;
mod customers;
mod engine;
mod examples;
mod fake_api;
mod faults;
mod flow_control;
mod harness;
mod http;
mod instances;
mod integrations;
mod limits;
mod polling;
mod records;
mod retries;
mod routing;
mod schema;
mod test_instances;
mod triggers;
mod tutorial;
mod users;
mod warm;
mod webhooks;
