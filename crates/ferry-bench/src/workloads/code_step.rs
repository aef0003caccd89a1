//! `code-step`: what the flow's transform step costs. One client calls the flow synchronously
//! for a few seconds (no contention), then the suite reads the transform step's own duration
//! (`endedAt - startedAt` of its step result) from the newest executions.

use std::time::Duration;

use serde::Serialize;

use super::Session;
use crate::flows::{Transform, TRANSFORM_STEP};
use crate::load::{self, Percentiles, Target};

/// Executions whose step results are read (the API's largest page).
const SAMPLES: usize = 500;

/// The transform step's duration, and the whole synchronous call's latency around it.
#[derive(Debug, Clone, Serialize)]
pub struct CodeStepRow {
    pub transform: Transform,
    pub samples: usize,
    pub step: Percentiles,
    pub call_latency: Percentiles,
    pub calls: u64,
    pub errors: u64,
}

pub async fn run(session: &Session, duration: Duration) -> anyhow::Result<CodeStepRow> {
    let deployed = session.fresh_instance("code-step").await?;
    let target = Target {
        urls: vec![deployed.webhook_url.clone()],
        body: session.body.clone(),
        synchronous: true,
    };
    let outcome = load::drive(&target, 1, duration.min(Duration::from_secs(5))).await?;
    let durations = session
        .api
        .step_durations(&deployed.instance, TRANSFORM_STEP, SAMPLES)
        .await?;
    anyhow::ensure!(
        !durations.is_empty(),
        "no `{TRANSFORM_STEP}` step results found"
    );
    let mut histogram = load::histogram();
    for micros in &durations {
        histogram.saturating_record((*micros).max(1));
    }
    Ok(CodeStepRow {
        transform: session.prepared.transform,
        samples: durations.len(),
        step: load::percentiles(&histogram),
        call_latency: outcome.percentiles(),
        calls: outcome.acknowledged,
        errors: outcome.errors,
    })
}
