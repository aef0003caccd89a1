//! Ferry's flow engine:
//! - [`expr`]: the evaluation of step inputs, whose strings may hold `{{ expressions }}` over
//!   the execution's context (`steps`, `configVars`, `customer`, `instance`, `flow`,
//!   `execution`);
//! - [`condition`]: branch conditions, with the reference's operators and `and`/`or` groups;
//! - [`run`]: the executor, which runs one execution step by step through a narrow
//!   [`run::Host`] that commits step results, grouped, before the run reaches outside;
//! - [`worker`]: claims queued executions from the store and runs them with the store as host;
//! - [`signals`]: wake-ups and completion notices between a node's ingress and its workers;
//! - [`scheduler`]: cron schedules in time zones, and the loop that fires due schedules;
//! - [`retention`]: the pruner that deletes step results and logs past their retention;
//! - [`definitions`]: published definitions, parsed once per process;
//! - [`bundles`]: custom component bundles, loaded once per process.
#![deny(missing_docs)]

pub mod bundles;
pub mod condition;
pub mod definitions;
pub mod expr;
pub mod retention;
pub mod run;
pub mod scheduler;
pub mod signals;
pub mod worker;
