//! Ferry's flow engine. So far:
//! - [`expr`]: the evaluation of step inputs, whose strings may hold `{{ expressions }}` over
//!   the execution's context (`steps`, `configVars`, `customer`, `instance`, `flow`,
//!   `execution`);
//! - [`condition`]: branch conditions, with the reference's operators and `and`/`or` groups;
//! - [`scheduler`]: cron schedules in time zones, and the loop that fires due schedules.
//!
//! The workers that run queued executions join them here.
#![deny(missing_docs)]

pub mod condition;
pub mod expr;
pub mod run;
pub mod scheduler;
