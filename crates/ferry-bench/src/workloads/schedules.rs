//! `schedules`: many deployed instances of a flow with a one-minute schedule
//! (`bench/flows/schedule.yml`). After they are created (over the API, a few at a time), the
//! suite watches whole minutes: every instance must fire exactly once per tick, and every
//! execution those ticks queued must then succeed (the suite waits for the last tick's to end,
//! up to the drain timeout); firing lag is when the tick's execution was queued minus the tick
//! (`scheduledAt`), start lag when it started. CPU and RSS are the server's over the watched
//! minutes. This runs last on a store: the schedules keep firing until the node stops.

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
    /// Longest wait, after the watched minutes, for their executions to end.
    pub drain_timeout: Duration,
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
    /// Of those, how many succeeded (expected: all of them).
    pub succeeded: u64,
    /// How long after the watched minutes (and 2 s) their executions took to end.
    pub drain_seconds: f64,
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
    let drain = Instant::now();
    let runs = ended_runs(api, (first, end), plan.drain_timeout).await?;
    let ended = Ended {
        setup_seconds,
        drain_seconds: drain.elapsed().as_secs_f64(),
        usage,
    };
    Ok(summarize(plan, &runs, ended))
}

/// The runs of the ticks in `window` once they have all ended, or as they are when `timeout`
/// has passed.
async fn ended_runs(
    api: &Api,
    (first, end): (Time, Time),
    timeout: Duration,
) -> anyhow::Result<Vec<ScheduledRun>> {
    let since = Instant::now();
    loop {
        let runs = runs_between(api, first, end).await?;
        if runs.iter().all(ScheduledRun::ended) || since.elapsed() >= timeout {
            return Ok(runs);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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

/// What the workload measured besides the runs.
struct Ended {
    setup_seconds: f64,
    drain_seconds: f64,
    usage: Usage,
}

fn summarize(plan: &Plan, runs: &[ScheduledRun], ended: Ended) -> SchedulesRow {
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
    let succeeded = runs.iter().filter(|r| r.status == "SUCCEEDED").count() as u64;
    SchedulesRow {
        instances: plan.instances,
        setup_seconds: ended.setup_seconds,
        ticks: plan.minutes,
        fired,
        expected,
        started,
        succeeded,
        drain_seconds: ended.drain_seconds,
        fire_lag: load::percentiles(&fire),
        start_lag: load::percentiles(&start),
        passed: fired == expected && succeeded == expected,
        usage: ended.usage,
    }
}

fn record(histogram: &mut Histogram<u64>, lag: chrono::Duration) {
    let micros = lag.num_microseconds().unwrap_or(0).max(1) as u64;
    histogram.saturating_record(micros);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(second: u32, status: &str) -> ScheduledRun {
        let tick = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:42:00Z").unwrap();
        ScheduledRun {
            scheduled_at: tick,
            queued_at: tick + chrono::Duration::seconds(i64::from(second)),
            started_at: Some(tick + chrono::Duration::seconds(i64::from(second) + 1)),
            status: status.into(),
        }
    }

    fn summary(runs: &[ScheduledRun]) -> SchedulesRow {
        let plan = Plan {
            instances: 2,
            minutes: 1,
            drain_timeout: Duration::from_secs(1),
        };
        let ended = Ended {
            setup_seconds: 1.0,
            drain_seconds: 0.5,
            usage: Usage::default(),
        };
        summarize(&plan, runs, ended)
    }

    #[test]
    fn every_tick_fired_and_every_execution_succeeded_passes() {
        let row = summary(&[run(0, "SUCCEEDED"), run(1, "SUCCEEDED")]);
        assert!(row.passed);
        assert_eq!((row.fired, row.succeeded, row.started), (2, 2, 2));
    }

    #[test]
    fn an_execution_fired_but_not_succeeded_fails_the_check() {
        for status in ["RUNNING", "QUEUED", "FAILED"] {
            let row = summary(&[run(0, "SUCCEEDED"), run(1, status)]);
            assert!(!row.passed, "{status}");
            assert_eq!((row.fired, row.succeeded), (2, 1));
        }
        assert!(!summary(&[run(0, "SUCCEEDED")]).passed, "a tick missed");
    }

    #[test]
    fn runs_still_queued_or_running_have_not_ended() {
        assert!(!run(0, "RUNNING").ended());
        assert!(!run(0, "QUEUED").ended());
        assert!(!run(0, "FAILED_RETRY_PENDING").ended());
        assert!(run(0, "SUCCEEDED").ended());
        assert!(run(0, "FAILED").ended());
    }

    #[test]
    fn the_next_whole_minute() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:41:07.5Z").unwrap();
        let next = next_minute(now);
        assert_eq!(next.to_rfc3339(), "2026-11-24T10:42:00+00:00");
    }
}
