//! The management commands, one file per topic.

pub mod customers;
pub mod instances;
pub mod integrations;
pub mod me;
pub mod users;
