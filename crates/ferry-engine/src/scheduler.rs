//! Schedule triggers: the next tick of a cron expression in a time zone, and the
//! [`Scheduler`] loop that fires due schedules through the store.
//!
//! Cron expressions have five fields (minute, hour, day of month, month, day of week) or six
//! (seconds first); the presets `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily` and
//! `@hourly` are accepted. They are read in an IANA time zone (`Europe/Paris`; UTC when none
//! is given), so `0 9 * * *` stays at nine o'clock local time across daylight-saving changes.
//! A local time skipped by a change fires at the first valid time after it; a local time that
//! occurs twice fires once.
//!
//! The [`Scheduler`] keeps nothing in memory: schedules are rows, and each round asks the store
//! to fire the due ones ([`Store::fire_due`]), which advances a row and queues its execution in
//! one transaction, so any number of nodes may run a scheduler on one PostgreSQL database.
//!
//! # Trigger payload
//!
//! The execution a tick queues has this trigger payload (the flow reads it as
//! `steps.trigger.results`):
//!
//! ```json
//! { "scheduledAt": "2025-01-06T09:00:00Z", "cron": "0 9 * * *", "timezone": "Europe/Paris",
//!   "body": { "data": null } }
//! ```
//!
//! `scheduledAt` is the tick that was due, in UTC (after downtime, the oldest missed tick: missed
//! ticks fire once). `webhookUrls` is not included yet.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use ferry_store::{Cadence, Schedule, Store, StoreError, Tick, TickOutcome};
use serde_json::{json, Value};
use tokio::sync::watch;

/// The time zone of a schedule that names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// A schedule that cannot be used: a bad cron expression, an unknown time zone, or an
/// expression with no next time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

/// A cron expression read in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    cron: croner::Cron,
    timezone: Tz,
}

impl CronSchedule {
    /// Parses `cron` (five or six fields, or a preset) in `timezone` (UTC when `None`).
    pub fn parse(cron: &str, timezone: Option<&str>) -> Result<CronSchedule, ScheduleError> {
        let timezone = parse_timezone(timezone)?;
        let parsed = croner::Cron::new(cron)
            .with_seconds_optional()
            .parse()
            .map_err(|err| ScheduleError(format!("invalid cron expression {cron:?}: {err}")))?;
        Ok(CronSchedule {
            text: cron.to_string(),
            cron: parsed,
            timezone,
        })
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
        let local = after.with_timezone(&self.timezone);
        let found = self
            .cron
            .find_next_occurrence(&local, false)
            .map_err(|_| self.never(after))?;
        if found > local {
            return Ok(found.with_timezone(&Utc));
        }
        // `after` lies in a repeated hour (clocks set back) and the search gave the first
        // occurrence of a later local time; its second occurrence is the one after `after`.
        self.timezone
            .from_local_datetime(&found.naive_local())
            .latest()
            .filter(|second| *second > local)
            .map(|second| second.with_timezone(&Utc))
            .ok_or_else(|| self.never(after))
    }

    fn never(&self, after: DateTime<Utc>) -> ScheduleError {
        ScheduleError(format!(
            "cron expression {:?} has no time after {}",
            self.text,
            rfc3339(after)
        ))
    }
}

/// The IANA time zone named `zone` (UTC when `None`).
pub fn parse_timezone(zone: Option<&str>) -> Result<Tz, ScheduleError> {
    let zone = zone.unwrap_or(DEFAULT_TIMEZONE);
    zone.parse()
        .map_err(|_| ScheduleError(format!("unknown time zone {zone:?}")))
}

/// The next tick of `cron` in `timezone` strictly after `after`.
pub fn next_fire_time(
    cron: &str,
    timezone: Option<&str>,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    CronSchedule::parse(cron, timezone)?.next_after(after)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The trigger payload of the execution a schedule's due tick queues (see the module's docs).
pub fn schedule_payload(schedule: &Schedule) -> Value {
    json!({
        "scheduledAt": schedule.next_fire_at.map(rfc3339),
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "body": { "data": null },
    })
}

/// Cron expressions in time zones, as the store fires them.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronCadence;

impl Cadence for CronCadence {
    fn next_fire_at(
        &self,
        schedule: &Schedule,
        after: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        next_fire_time(&schedule.cron, Some(&schedule.timezone), after).map_err(|e| e.0)
    }

    fn payload(&self, schedule: &Schedule) -> Value {
        schedule_payload(schedule)
    }
}

/// How often the scheduler looks, and how much it fires at once.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The longest pause between rounds; a round comes sooner when a tick is due sooner.
    pub poll_interval: Duration,
    /// Schedules fired per transaction. 2,000 rather than 500: a minute's 10,000 ticks fired
    /// with a firing lag p99 of 0.71–0.73 s instead of 1.01–1.07 s on PostgreSQL, and 0.24
    /// instead of 0.32 s on SQLite (bench/RESULTS.md, 2026-12-08).
    pub batch_size: i64,
    /// The pause after the store failed.
    pub retry_delay: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            batch_size: 2_000,
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// The shortest pause between rounds, so that a tick due right now cannot make the loop spin.
const MIN_PAUSE: Duration = Duration::from_millis(5);

/// Fires due schedules until stopped.
pub struct Scheduler {
    store: Store,
    options: SchedulerOptions,
}

impl Scheduler {
    /// A scheduler on `store` with the default options.
    pub fn new(store: Store) -> Self {
        Self::with_options(store, SchedulerOptions::default())
    }

    /// A scheduler on `store` with `options`.
    pub fn with_options(store: Store, options: SchedulerOptions) -> Self {
        Self { store, options }
    }

    /// Fires due schedules, round after round, until `stop` turns true (or its sender is
    /// dropped). A round under way when asked to stop is finished first. Store failures are
    /// logged and retried.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!("scheduler started");
        while !*stop.borrow() {
            let pause = self.round().await;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Fires what is due; returns how long to wait before the next round.
    async fn round(&self) -> Duration {
        if let Err(err) = self.fire_all_due().await {
            tracing::warn!(error = %err, "scheduler: the store failed; retrying");
            return self.options.retry_delay;
        }
        match self.store.earliest_fire_at().await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_PAUSE, self.options.poll_interval.max(MIN_PAUSE)),
            Ok(None) => self.options.poll_interval,
            Err(err) => {
                tracing::warn!(error = %err, "scheduler: the store failed; retrying");
                self.options.retry_delay
            }
        }
    }

    /// Fires batches until one is not full: every tick due now is fired (fired rows move into
    /// the future, so this ends).
    async fn fire_all_due(&self) -> Result<(), StoreError> {
        loop {
            let ticks = self
                .store
                .fire_due(Utc::now(), self.options.batch_size, &CronCadence)
                .await?;
            ticks.iter().for_each(log_tick);
            if (ticks.len() as i64) < self.options.batch_size {
                return Ok(());
            }
        }
    }
}

fn log_tick(tick: &Tick) {
    let s = &tick.schedule;
    let (instance, flow) = (s.instance_id, s.flow_key.as_str());
    match &tick.outcome {
        TickOutcome::Queued(execution) => {
            tracing::debug!(%instance, flow, execution = %execution.id, "schedule queued an execution");
        }
        TickOutcome::SkippedRunning => {
            tracing::info!(%instance, flow, "singleton schedule skipped a tick: its previous execution has not ended");
        }
        TickOutcome::SkippedPaused => {
            tracing::debug!(%instance, flow, "schedule of a paused instance skipped a tick");
        }
        TickOutcome::Stopped(reason) => {
            tracing::error!(%instance, flow, reason, "schedule stopped: no next time; redeploy the instance");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn next(cron: &str, timezone: Option<&str>, after: &str) -> String {
        rfc3339(next_fire_time(cron, timezone, at(after)).unwrap())
    }

    fn error(cron: &str, timezone: Option<&str>) -> String {
        next_fire_time(cron, timezone, at("2025-01-06T09:00:00Z"))
            .unwrap_err()
            .0
    }

    #[test]
    fn five_fields_fire_on_the_minute_in_utc_by_default() {
        assert_eq!(
            next("*/15 * * * *", None, "2025-01-06T09:00:00Z"),
            "2025-01-06T09:15:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", None, "2025-01-06T09:14:59Z"),
            "2025-01-06T09:15:00Z"
        );
        assert_eq!(
            next("0 9 * * MON", None, "2025-01-06T09:00:00Z"),
            "2025-01-13T09:00:00Z",
            "strictly after: a tick at `after` is not the next one"
        );
    }

    #[test]
    fn a_sixth_field_counts_seconds() {
        assert_eq!(
            next("*/15 * * * * *", None, "2025-01-06T09:00:05Z"),
            "2025-01-06T09:00:15Z"
        );
        assert_eq!(
            next("* * * * * *", None, "2025-01-06T09:00:05.300Z"),
            "2025-01-06T09:00:06Z"
        );
    }

    #[test]
    fn presets_are_accepted() {
        assert_eq!(
            next("@hourly", None, "2025-01-06T09:10:00Z"),
            "2025-01-06T10:00:00Z"
        );
        assert_eq!(
            next("@daily", Some("Asia/Tokyo"), "2025-01-06T09:00:00Z"),
            "2025-01-06T15:00:00Z",
            "midnight in Tokyo"
        );
        assert_eq!(
            next("@weekly", None, "2025-01-06T09:00:00Z"),
            "2025-01-12T00:00:00Z",
            "Sunday midnight"
        );
        assert_eq!(
            next("@monthly", None, "2025-01-06T09:00:00Z"),
            "2025-02-01T00:00:00Z"
        );
    }

    #[test]
    fn expressions_are_read_in_their_time_zone() {
        assert_eq!(
            next("0 9 * * *", Some("Europe/Paris"), "2025-01-06T09:00:00Z"),
            "2025-01-07T08:00:00Z",
            "09:00 in Paris in winter is 08:00 UTC"
        );
        assert_eq!(
            next("0 9 * * *", Some("Europe/Paris"), "2025-07-06T09:00:00Z"),
            "2025-07-07T07:00:00Z",
            "and 07:00 UTC in summer"
        );
    }

    #[test]
    fn local_times_hold_across_daylight_saving_changes() {
        // New York moves from EST (UTC-5) to EDT (UTC-4) at 02:00 on 2025-03-09.
        let ny = Some("America/New_York");
        assert_eq!(
            next("0 9 * * *", ny, "2025-03-08T15:00:00Z"),
            "2025-03-09T13:00:00Z",
            "09:00 EDT"
        );
        assert_eq!(
            next("0 9 * * *", ny, "2025-03-07T15:00:00Z"),
            "2025-03-08T14:00:00Z",
            "09:00 EST"
        );
        assert_eq!(
            next("30 2 * * *", ny, "2025-03-09T05:00:00Z"),
            "2025-03-09T07:00:00Z",
            "02:30 does not exist that night: the first valid time after it, 03:00 EDT"
        );
        assert_eq!(
            next("30 2 * * *", ny, "2025-03-09T07:00:00Z"),
            "2025-03-10T06:30:00Z"
        );
    }

    #[test]
    fn a_repeated_local_hour_fires_once_and_never_goes_back() {
        // New York moves from EDT back to EST at 02:00 on 2025-11-02: 01:00-02:00 happens twice.
        let ny = Some("America/New_York");
        assert_eq!(
            next("*/30 * * * *", ny, "2025-11-02T05:10:00Z"),
            "2025-11-02T05:30:00Z",
            "01:30 EDT"
        );
        assert_eq!(
            next("*/30 * * * *", ny, "2025-11-02T05:30:00Z"),
            "2025-11-02T07:00:00Z",
            "then 02:00 EST: the repeated 01:00 and 01:30 do not fire again"
        );
        assert_eq!(
            next("*/30 * * * *", ny, "2025-11-02T06:10:00Z"),
            "2025-11-02T06:30:00Z",
            "woken inside the repeated hour (01:10 EST), the next tick is 01:30 EST, not in the past"
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let bad = error("every day at noon", None);
        assert!(
            bad.starts_with("invalid cron expression \"every day at noon\": "),
            "{bad}"
        );
        assert!(error("61 * * * *", None).starts_with("invalid cron expression \"61 * * * *\""));
        assert!(error("* * * *", None).contains("five or six fields"));
        assert_eq!(
            error("0 9 * * *", Some("Mars/Olympus")),
            "unknown time zone \"Mars/Olympus\""
        );
        assert_eq!(
            error("0 0 30 2 *", None),
            "cron expression \"0 0 30 2 *\" has no time after 2025-01-06T09:00:00Z"
        );
    }

    #[test]
    fn the_payload_names_the_tick_and_the_schedule() {
        let schedule = Schedule {
            org_id: uuid::Uuid::nil(),
            flow_config_id: uuid::Uuid::nil(),
            instance_id: uuid::Uuid::nil(),
            customer_id: uuid::Uuid::nil(),
            flow_key: "nightly".into(),
            cron: "0 9 * * *".into(),
            timezone: "Europe/Paris".into(),
            singleton: false,
            next_fire_at: Some(at("2025-01-06T08:00:00Z")),
            enabled: true,
        };
        assert_eq!(
            schedule_payload(&schedule),
            json!({ "scheduledAt": "2025-01-06T08:00:00Z", "cron": "0 9 * * *",
                    "timezone": "Europe/Paris", "body": { "data": null } })
        );
    }
}
