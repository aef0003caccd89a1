//! The targets on 2 cores beside what the run measured (on SQLite, except scale-out
//! and the schedule lag, which is given for each store):
//! a table saying which were met. Informative only: the count check, not a target, fails a run.

use std::borrow::Cow;
use std::fmt::Write;

use crate::flows::Transform;
use crate::report::{Report, ScaleReport, StoreReport};
use crate::workloads::schedules::SchedulesRow;

struct Line {
    target: Cow<'static, str>,
    measured: String,
    met: Option<bool>,
}

/// Appends the targets table.
pub fn section(out: &mut String, report: &Report) {
    let mut lines = Vec::new();
    if let Some(store) = report.stores.iter().find(|s| s.store == "sqlite") {
        store_lines(&mut lines, store);
    }
    let postgres = report.stores.iter().find(|s| s.store == "postgres");
    if let Some(row) = postgres.and_then(|s| s.schedules.as_ref()) {
        lines.push(schedule_line(row, "schedule lag p99 ≤ 1 s (PostgreSQL)"));
    }
    for scale in report.scale_reports() {
        scale_line(&mut lines, scale);
    }
    peer_line(&mut lines, report);
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "### targets (2 cores)\n");
    let _ = writeln!(out, "| target | measured | met |");
    let _ = writeln!(out, "|---|---|---|");
    for line in lines {
        let met = match line.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(out, "| {} | {} | {met} |", line.target, line.measured);
    }
    out.push('\n');
}

fn store_lines(lines: &mut Vec<Line>, store: &StoreReport) {
    let best_ack = store
        .webhook_async
        .iter()
        .map(|r| r.acknowledged_per_s)
        .reduce(f64::max);
    if let Some(best) = best_ack {
        lines.push(at_least(
            "webhook-async ≥ 10,000 acknowledged/s (SQLite)",
            best,
            10_000.0,
            "/s",
        ));
    }
    let best_done = store
        .webhook_async
        .iter()
        .map(|r| r.completed_per_s)
        .reduce(f64::max);
    if let Some(best) = best_done {
        lines.push(at_least(
            "webhook-async ≥ 5,000 completed executions/s",
            best,
            5_000.0,
            "/s",
        ));
    }
    if let Some(row) = store.webhook_async.iter().find(|r| r.clients == 32) {
        lines.push(at_most(
            "ack p99 ≤ 10 ms at 32 clients",
            row.ack_latency.p99_ms,
            10.0,
            " ms",
        ));
    }
    if let Some(row) = store.webhook_sync.iter().find(|r| r.clients == 32) {
        lines.push(at_most(
            "webhook-sync p99 ≤ 20 ms (32 clients)",
            row.latency.p99_ms,
            20.0,
            " ms",
        ));
    }
    if let Some(code) = &store.code_step {
        let mut line = at_most("code step p99 ≤ 1 ms", code.step.p99_ms, 1.0, " ms");
        if code.transform != Transform::JavaScript {
            line.measured
                .push_str(" (not JavaScript: no runtime in this build)");
            line.met = None;
        }
        lines.push(line);
    }
    if let Some(idle) = store.idle_rss_mib {
        let mb = idle * 1.048_576;
        lines.push(at_most("idle RSS ≤ 50 MB", mb, 50.0, " MB"));
    }
    match &store.schedules {
        Some(row) => lines.push(schedule_line(row, "schedule lag p99 ≤ 1 s")),
        None => lines.push(Line {
            target: "schedule lag p99 ≤ 1 s".into(),
            measured: "not measured in this run".into(),
            met: None,
        }),
    }
}

fn schedule_line(row: &SchedulesRow, target: &'static str) -> Line {
    let mut line = at_most(target, row.fire_lag.p99_ms / 1000.0, 1.0, " s");
    line.measured = format!(
        "firing {:.2} s, start {:.2} s ({} schedules)",
        row.fire_lag.p99_ms / 1000.0,
        row.start_lag.p99_ms / 1000.0,
        row.instances
    );
    line
}

fn scale_line(lines: &mut Vec<Line>, scale: &ScaleReport) {
    let rate = |n: usize| {
        scale
            .rows
            .iter()
            .find(|r| r.nodes == n)
            .map(|r| r.row.completed_per_s)
    };
    let (Some(one), Some(three)) = (rate(1), rate(3)) else {
        return;
    };
    let factor = three / one.max(1e-9);
    let target = match scale.node_cpu {
        Some(cores) => format!(
            "near-linear scale-out to 3 nodes (PostgreSQL), each node capped at {cores:.2} cores"
        ),
        None => "near-linear scale-out to 3 nodes (PostgreSQL)".to_string(),
    };
    lines.push(Line {
        target: target.into(),
        measured: format!("{factor:.2}× executions/s at 3 nodes vs 1 ({three:.0} vs {one:.0})"),
        met: Some(factor >= 2.5),
    });
}

fn peer_line(lines: &mut Vec<Line>, report: &Report) {
    let Some(peer) = report.peer.as_ref().filter(|p| p.unavailable.is_none()) else {
        lines.push(Line {
            target: "≥ 20× n8n's throughput".into(),
            measured: "no peer figures in this run".into(),
            met: None,
        });
        return;
    };
    let Some(store) = report.stores.iter().find(|s| s.store == "sqlite") else {
        return;
    };
    let ratios: Vec<f64> = store
        .webhook_async
        .iter()
        .filter_map(|r| {
            peer.rate("async", r.clients)
                .map(|n| r.acknowledged_per_s / n)
        })
        .collect();
    if let Some(worst) = ratios.iter().copied().reduce(f64::min) {
        lines.push(at_least(
            "≥ 20× n8n's throughput (webhook-async, worst level)",
            worst,
            20.0,
            "×",
        ));
    }
}

fn at_least(target: &'static str, value: f64, bound: f64, unit: &str) -> Line {
    Line {
        target: target.into(),
        measured: format!("{value:.1}{unit}"),
        met: Some(value >= bound),
    }
}

fn at_most(target: &'static str, value: f64, bound: f64, unit: &str) -> Line {
    Line {
        target: target.into(),
        measured: format!("{value:.2}{unit}"),
        met: Some(value <= bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Percentiles;
    use crate::machine::Machine;
    use crate::workloads::Usage;
    use clap::Parser;

    fn schedules(fire_p99_ms: f64) -> SchedulesRow {
        SchedulesRow {
            instances: 10_000,
            setup_seconds: 30.0,
            ticks: 2,
            fired: 20_000,
            expected: 20_000,
            started: 20_000,
            succeeded: 20_000,
            drain_seconds: 1.0,
            fire_lag: Percentiles {
                p99_ms: fire_p99_ms,
                ..Percentiles::default()
            },
            start_lag: Percentiles::default(),
            passed: true,
            usage: Usage::default(),
        }
    }

    #[test]
    fn the_schedule_lag_is_judged_on_each_store_that_measured_it() {
        let cli = crate::Cli::parse_from(["ferry-bench", "all"]);
        let mut report = Report::new(Machine::for_tests(), &cli);
        for (name, p99) in [("sqlite", 530.0), ("postgres", 1_900.0)] {
            let mut store = StoreReport::new(name);
            store.schedules = Some(schedules(p99));
            report.stores.push(store);
        }
        let mut out = String::new();
        section(&mut out, &report);
        assert!(
            out.contains(
                "| schedule lag p99 ≤ 1 s | firing 0.53 s, start 0.00 s (10000 schedules) | yes |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| schedule lag p99 ≤ 1 s (PostgreSQL) | firing 1.90 s, start 0.00 s (10000 schedules) | **no** |"),
            "{out}"
        );
    }
}
