//! Ferry's flow engine. So far: [`expr`], the evaluation of step inputs, whose strings may hold
//! `{{ expressions }}` over the execution's context (`steps`, `configVars`, `customer`,
//! `instance`, `flow`, `execution`). The executor, the durable queue and the scheduler join it
//! here.
#![deny(missing_docs)]

pub mod expr;
