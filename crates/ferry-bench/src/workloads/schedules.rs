//! `schedules`: many deployed instances of a flow with a one-minute schedule
//! (`bench/flows/schedule.yml`). After they are created (over the API, a few at a time), the
//! suite watches whole minutes: every instance must fire exactly once per tick; firing lag is
//! when the tick's execution was queued minus the tick (`scheduledAt`), start lag when it
//! started. CPU and RSS are the server's over the watched minutes. This runs last on a store:
//! the schedules keep firing until the node stops.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DurationRound, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::{Meter, Session, Usage};
use crate::api::{Api, ScheduledRun, Time};
use crate::load::{self, Percentiles};

pub const SCHEDULE_FLOW: &str = include_str!("../../../../bench/flows/schedule.yml");

/// Mutations in flight while creating the instances.
const SETUP_CONCURRENCY: usize = 8;

/// How the workload is sized.
pub struct Plan {
    pub instances: usize,
    pub minutes: u32,
}

/// What the watched minutes showed.
#[derive(Debug, Clone, Serialize)]
pub struct SchedulesRow {
    pub instances: usize,
    pub setup_seconds: f64,
    pub ticks: u32,
    /// Executions whose tick fell in the watched minutes (expected: instances × ticks).
    pub fired: u64,
    pub expected: u64,
    /// Of those, how many had started when the suite looked.
    pub started: u64,
    pub fire_lag: Percentiles,
    pub start_lag: Percentiles,
    pub passed: bool,
    pub usage: Usage,
}

pub async fn run(session: &Session, plan: &Plan) -> anyhow::Result<SchedulesRow> {
    let api = &session.api;
    let integration = api.publish(SCHEDULE_FLOW).await.context("schedule flow")?;
    let customer = api.customer("bench-schedules").await?;
    let setup = Instant::now();
    create_instances(api, &integration, &customer, plan.instances).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    let meter = Meter::start(session);
    let first = next_minute(Utc::now().fixed_offset());
    let end = first + chrono::Duration::minutes(i64::from(plan.minutes));
    eprintln!(
        "schedules: {} instances created in {setup_seconds:.0} s; watching ticks from {first} to {end}",
        plan.instances
    );
    sleep_until(end + chrono::Duration::seconds(2)).await;
    let usage = meter.finish(session);
    let runs = runs_between(api, first, end).await?;
    Ok(summarize(plan, setup_seconds, &runs, usage))
}

async fn create_instances(
    api: &Api,
    integration: &str,
    customer: &str,
    count: usize,
) -> anyhow::Result<()> {
    stream::iter(0..count)
        .map(|i| async move {
            let name = format!("bench-schedule-{i}");
            api.deploy_for(integration, customer, &name).await.map(drop)
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// The next whole minute after `now`.
fn next_minute(now: Time) -> Time {
    let floor = now
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or(now);
    floor + chrono::Duration::minutes(1)
}

async fn sleep_until(at: Time) {
    let wait = (at - Utc::now().fixed_offset())
        .to_std()
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

/// The ticks' executions with `first <= scheduledAt < end`, paging newest first until the
/// pages are older than `first`.
async fn runs_between(api: &Api, first: Time, end: Time) -> anyhow::Result<Vec<ScheduledRun>> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = api.scheduled_page("Tick", after.as_deref()).await?;
        let older = page.iter().all(|run| run.scheduled_at < first);
        found.extend(
            page.into_iter()
                .filter(|run| run.scheduled_at >= first && run.scheduled_at < end),
        );
        match next {
            Some(cursor) if !older => after = Some(cursor),
            _ => return Ok(found),
        }
    }
}

fn summarize(plan: &Plan, setup_seconds: f64, runs: &[ScheduledRun], usage: Usage) -> SchedulesRow {
    let mut fire = load::histogram();
    let mut start = load::histogram();
    let mut started = 0;
    for run in runs {
        record(&mut fire, run.queued_at - run.scheduled_at);
        if let Some(at) = run.started_at {
            record(&mut start, at - run.scheduled_at);
            started += 1;
        }
    }
    let expected = plan.instances as u64 * u64::from(plan.minutes);
    let fired = runs.len() as u64;
    SchedulesRow {
        instances: plan.instances,
        setup_seconds,
        ticks: plan.minutes,
        fired,
        expected,
        started,
        fire_lag: load::percentiles(&fire),
        start_lag: load::percentiles(&start),
        passed: fired == expected,
        usage,
    }
}

fn record(histogram: &mut Histogram<u64>, lag: chrono::Duration) {
    let micros = lag.num_microseconds().unwrap_or(0).max(1) as u64;
    histogram.saturating_record(micros);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_whole_minute() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:41:07.5Z").unwrap();
        let next = next_minute(now);
        assert_eq!(next.to_rfc3339(), "2026-11-24T10:42:00+00:00");
    }
}
