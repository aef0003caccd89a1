//! The management commands, one file per topic.

pub mod customers;
pub mod me;
pub mod users;
