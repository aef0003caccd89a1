//! The management commands, one file per topic.

pub mod components;
pub mod customers;
pub mod executions;
pub mod flow_test;
pub mod instances;
pub mod integrations;
pub mod logs;
pub mod me;
pub mod users;
