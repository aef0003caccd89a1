//! `webhook-async` and `webhook-sync`: closed-loop clients post the 1 KB order to a fresh
//! instance's webhook for a fixed time; then the suite waits for the queue to drain and checks
//! that every acknowledged request produced exactly one succeeded execution.

use std::time::Duration;

use serde::Serialize;

use super::{drain, CountCheck, Meter, Session, Usage};
use crate::load::{self, Percentiles, Target};

/// One concurrency level of `webhook-async`.
#[derive(Debug, Clone, Serialize)]
pub struct AsyncRow {
    pub clients: usize,
    pub load_seconds: f64,
    pub acknowledged_per_s: f64,
    pub ack_latency: Percentiles,
    /// Succeeded executions over the time from the first request to the drained queue.
    pub completed_per_s: f64,
    /// Seconds from the end of the load until nothing was queued or running.
    pub drain_seconds: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub check: CountCheck,
    pub usage: Usage,
}

/// One concurrency level of `webhook-sync`.
#[derive(Debug, Clone, Serialize)]
pub struct SyncRow {
    pub clients: usize,
    pub load_seconds: f64,
    pub requests_per_s: f64,
    pub latency: Percentiles,
    pub errors: u64,
    pub first_error: Option<String>,
    pub check: CountCheck,
    pub usage: Usage,
}

/// How a step is driven.
pub struct Step {
    pub clients: usize,
    pub duration: Duration,
    pub drain_timeout: Duration,
}

/// Runs one `webhook-async` step on a fresh instance, load spread over every node.
pub async fn run_async(session: &Session, step: &Step) -> anyhow::Result<AsyncRow> {
    let deployed = session
        .fresh_instance(&format!("async-c{}", step.clients))
        .await?;
    let target = Target {
        urls: session.urls_on_every_node(&deployed.webhook_url),
        body: session.body.clone(),
        synchronous: false,
    };
    let meter = Meter::start(session);
    let outcome = load::drive(&target, step.clients, step.duration).await?;
    let drained = drain(
        &session.api,
        &deployed.instance,
        outcome.acknowledged,
        step.drain_timeout,
    )
    .await?;
    let usage = meter.finish(session);
    let check = CountCheck::new(outcome.acknowledged, Some(outcome.distinct_ids), &drained);
    let span = outcome.elapsed.as_secs_f64() + drained.seconds;
    Ok(AsyncRow {
        clients: step.clients,
        load_seconds: outcome.elapsed.as_secs_f64(),
        acknowledged_per_s: outcome.per_second(),
        ack_latency: outcome.percentiles(),
        completed_per_s: drained.counts.succeeded as f64 / span.max(1e-9),
        drain_seconds: drained.seconds,
        errors: outcome.errors,
        first_error: outcome.first_error.clone(),
        check,
        usage,
    })
}

/// Runs one `webhook-sync` step on a fresh instance.
pub async fn run_sync(session: &Session, step: &Step) -> anyhow::Result<SyncRow> {
    let deployed = session
        .fresh_instance(&format!("sync-c{}", step.clients))
        .await?;
    let target = Target {
        urls: session.urls_on_every_node(&deployed.webhook_url),
        body: session.body.clone(),
        synchronous: true,
    };
    let meter = Meter::start(session);
    let outcome = load::drive(&target, step.clients, step.duration).await?;
    let usage = meter.finish(session);
    let drained = drain(
        &session.api,
        &deployed.instance,
        outcome.acknowledged,
        step.drain_timeout,
    )
    .await?;
    Ok(SyncRow {
        clients: step.clients,
        load_seconds: outcome.elapsed.as_secs_f64(),
        requests_per_s: outcome.per_second(),
        latency: outcome.percentiles(),
        errors: outcome.errors,
        first_error: outcome.first_error.clone(),
        check: CountCheck::new(outcome.acknowledged, None, &drained),
        usage,
    })
}
