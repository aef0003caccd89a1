//! The run's figures (`Report`, serialized as the `--json` file) and their Markdown tables,
//! ready to paste into `bench/RESULTS.md`; `failures` lists what must fail the run loudly.

use std::fmt::Write;

use serde::Serialize;

use crate::flows::Transform;
use crate::machine::Machine;
use crate::peer::PeerReport;
use crate::workloads::code_step::CodeStepRow;
use crate::workloads::scale_out::ScaleRow;
use crate::workloads::schedules::SchedulesRow;
use crate::workloads::webhook::{AsyncRow, SyncRow};
use crate::workloads::{CountCheck, Usage};
use crate::Cli;

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub step_seconds: u64,
    pub load_generator: String,
    /// Where the data directories were (`None`: the system temp dir, on disk).
    pub data_root: Option<String>,
    /// `FERRY_JS_KEEP_WARM` on every node (0: the server's default, a fresh context per step).
    pub js_keep_warm: u16,
    pub stores: Vec<StoreReport>,
    pub scale_out: Option<ScaleReport>,
    /// Scale-out again, each node capped (`--node-cpu`).
    pub scale_out_capped: Option<ScaleReport>,
    pub peer: Option<PeerReport>,
    pub load_average_at_end: String,
}

/// The workloads on one store.
#[derive(Debug, Serialize)]
pub struct StoreReport {
    pub store: String,
    pub skipped: Option<String>,
    pub error: Option<String>,
    pub transform: Option<Transform>,
    /// PostgreSQL only: the server's `autovacuum` setting (the suite vacuums before each step).
    pub autovacuum: Option<String>,
    pub idle_rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub webhook_async: Vec<AsyncRow>,
    pub webhook_sync: Vec<SyncRow>,
    pub code_step: Option<CodeStepRow>,
    pub schedules: Option<SchedulesRow>,
}

/// Scale-out on PostgreSQL.
#[derive(Debug, Serialize, Default)]
pub struct ScaleReport {
    pub clients: usize,
    pub skipped: Option<String>,
    pub error: Option<String>,
    pub transform: Option<Transform>,
    /// The server's `autovacuum` setting (the suite vacuums before each step).
    pub autovacuum: Option<String>,
    /// The most cores each node could use; `None`: uncapped.
    pub node_cpu: Option<f64>,
    pub rows: Vec<ScaleRow>,
}

impl Report {
    pub fn new(machine: Machine, cli: &Cli) -> Report {
        Report {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            command: format!("{:?}", cli.command),
            machine,
            step_seconds: cli.options.step().as_secs(),
            load_generator: format!(
                "closed loop, reqwest keep-alive, {} thread(s), same machine",
                cli.options.load_threads.max(1)
            ),
            data_root: cli
                .options
                .data_root
                .as_ref()
                .map(|p| p.display().to_string()),
            js_keep_warm: cli.options.js_keep_warm,
            stores: Vec::new(),
            scale_out: None,
            scale_out_capped: None,
            peer: None,
            load_average_at_end: String::new(),
        }
    }

    /// Failed count checks, request errors and workloads that stopped with an error.
    pub fn failures(&self) -> Vec<String> {
        let mut found = Vec::new();
        for store in &self.stores {
            let name = &store.store;
            if let Some(error) = &store.error {
                found.push(format!("{name}: {error}"));
            }
            for row in &store.webhook_async {
                row_failures(
                    &mut found,
                    &format!("{name} webhook-async c={}", row.clients),
                    &row.check,
                    row.errors,
                    &row.first_error,
                );
            }
            if let Some(row) = store.schedules.as_ref().filter(|r| !r.passed) {
                found.push(format!(
                    "{name} schedules: {} executions fired and {} succeeded, for {} expected ({} instances × {} ticks)",
                    row.fired, row.succeeded, row.expected, row.instances, row.ticks
                ));
            }
            for row in &store.webhook_sync {
                row_failures(
                    &mut found,
                    &format!("{name} webhook-sync c={}", row.clients),
                    &row.check,
                    row.errors,
                    &row.first_error,
                );
            }
        }
        for scale in self.scale_reports() {
            let name = scale.name();
            if let Some(error) = &scale.error {
                found.push(format!("{name}: {error}"));
            }
            for row in &scale.rows {
                let r = &row.row;
                row_failures(
                    &mut found,
                    &format!("{name} {} node(s)", row.nodes),
                    &r.check,
                    r.errors,
                    &r.first_error,
                );
            }
        }
        found
    }
}

impl Report {
    /// Scale-out uncapped, then capped, as far as they ran.
    pub fn scale_reports(&self) -> impl Iterator<Item = &ScaleReport> {
        self.scale_out.iter().chain(&self.scale_out_capped)
    }
}

impl ScaleReport {
    /// What its failures and heading call it.
    pub fn name(&self) -> String {
        match self.node_cpu {
            Some(cores) => format!("scale-out, each node capped at {cores:.2} cores"),
            None => "scale-out".into(),
        }
    }
}

fn row_failures(
    found: &mut Vec<String>,
    label: &str,
    check: &CountCheck,
    errors: u64,
    first_error: &Option<String>,
) {
    if !check.passed {
        found.push(format!("{label}: count check: {}", check.describe()));
    }
    if errors > 0 {
        let first = first_error.as_deref().unwrap_or("?");
        found.push(format!(
            "{label}: {errors} request(s) failed; first: {first}"
        ));
    }
}

impl StoreReport {
    pub fn new(store: &str) -> StoreReport {
        StoreReport {
            store: store.into(),
            skipped: None,
            error: None,
            transform: None,
            autovacuum: None,
            idle_rss_mib: None,
            peak_rss_mib: None,
            webhook_async: Vec::new(),
            webhook_sync: Vec::new(),
            code_step: None,
            schedules: None,
        }
    }

    /// The largest peak RSS seen in any step.
    pub fn peak_of_rows(&self) -> Option<f64> {
        let peaks = self.webhook_async.iter().map(|r| r.usage.peak_rss_mib);
        let peaks = peaks.chain(self.webhook_sync.iter().map(|r| r.usage.peak_rss_mib));
        peaks.reduce(f64::max)
    }
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    for store in &report.stores {
        store_section(&mut out, store, report.peer.as_ref());
    }
    for scale in report.scale_reports() {
        scale_section(&mut out, scale);
    }
    if let Some(peer) = &report.peer {
        peer_section(&mut out, peer);
    }
    crate::report_targets::section(&mut out, report);
    out
}

fn header(out: &mut String, report: &Report) {
    let m = &report.machine;
    let _ = writeln!(
        out,
        "## {} — `ferry-bench {}`\n",
        report.date,
        kebab(&report.command)
    );
    let _ = writeln!(
        out,
        "- machine: {} cores ({}), Linux {}",
        m.cores, m.cpu, m.kernel
    );
    let _ = writeln!(
        out,
        "- load average at start {}, at end {}",
        m.load_average_at_start, report.load_average_at_end
    );
    let _ = writeln!(out, "- commit: {}", m.commit);
    if let Some(root) = &report.data_root {
        let _ = writeln!(
            out,
            "- data directories under {root} (if that is a tmpfs, SQLite's commits were NOT durable: a diagnostic run)"
        );
    }
    if report.js_keep_warm > 0 {
        let _ = writeln!(
            out,
            "- FERRY_JS_KEEP_WARM={}: code steps reuse contexts kept warm (not the default)",
            report.js_keep_warm
        );
    }
    let _ = writeln!(
        out,
        "- {} s per step; load generator: {}\n",
        report.step_seconds, report.load_generator
    );
}

fn kebab(command: &str) -> String {
    let mut out = String::new();
    for (i, c) in command.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// How PostgreSQL was kept between steps: its own setting, and the suite's vacuum.
fn vacuum_line(out: &mut String, autovacuum: Option<&str>) {
    if let Some(setting) = autovacuum {
        let _ = writeln!(
            out,
            "- PostgreSQL autovacuum: {setting}; the suite runs VACUUM (ANALYZE) before each step, outside its time"
        );
    }
}

fn store_section(out: &mut String, store: &StoreReport, peer: Option<&PeerReport>) {
    let _ = writeln!(out, "### {}\n", store.store);
    if let Some(reason) = &store.skipped {
        let _ = writeln!(out, "skipped: {reason}\n");
        return;
    }
    if let Some(transform) = store.transform {
        let _ = writeln!(out, "- transform: {transform}");
    }
    vacuum_line(out, store.autovacuum.as_deref());
    let _ = writeln!(
        out,
        "- idle RSS after start: {}; peak RSS under load: {}\n",
        opt_mib(store.idle_rss_mib),
        opt_mib(store.peak_rss_mib)
    );
    if !store.webhook_async.is_empty() {
        async_table(out, &store.webhook_async, peer, &store.store);
    }
    if !store.webhook_sync.is_empty() {
        sync_table(out, &store.webhook_sync, peer, &store.store);
    }
    if let Some(code) = &store.code_step {
        code_table(out, code);
    }
    if let Some(row) = &store.schedules {
        schedules_table(out, row);
    }
    if let Some(error) = &store.error {
        let _ = writeln!(out, "**stopped with an error:** {error}\n");
    }
}

fn async_table(out: &mut String, rows: &[AsyncRow], peer: Option<&PeerReport>, store: &str) {
    let _ = writeln!(out, "webhook-async:\n");
    let _ = writeln!(out, "| clients | acked/s | ack p50 ms | ack p99 ms | completed/s | drain s | count check | errors | server CPU cores | server CPU µs per execution | database CPU µs per execution | KiB written per execution (SQLite: server; PostgreSQL: WAL) | machine busy cores | probe ms | peak RSS MiB |{}", ratio_head(peer));
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|{}",
        ratio_rule(peer)
    );
    for r in rows {
        let ratio = ratio_cell(peer, "async", r.clients, r.acknowledged_per_s);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {} | {} | {:.2} | {} | {} | {} | {:.2} | {:.1} | {:.0} |{ratio}",
            r.clients, r.acknowledged_per_s, r.ack_latency.p50_ms, r.ack_latency.p99_ms, r.completed_per_s,
            r.drain_seconds, check_cell(&r.check), r.errors, r.usage.server_cpu_cores,
            cpu_per(&r.usage, r.check.executions), database_cpu_per(&r.usage, r.check.executions),
            written_per(&r.usage, r.check.executions, store),
            r.usage.machine_busy_cores, r.usage.probe_ms,
            r.usage.peak_rss_mib
        );
    }
    out.push('\n');
}

fn sync_table(out: &mut String, rows: &[SyncRow], peer: Option<&PeerReport>, store: &str) {
    let _ = writeln!(out, "webhook-sync:\n");
    let _ = writeln!(out, "| clients | requests/s | p50 ms | p99 ms | count check | errors | server CPU cores | server CPU µs per execution | database CPU µs per execution | KiB written per execution (SQLite: server; PostgreSQL: WAL) | machine busy cores | probe ms | peak RSS MiB |{}", ratio_head(peer));
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|{}",
        ratio_rule(peer)
    );
    for r in rows {
        let ratio = ratio_cell(peer, "sync", r.clients, r.requests_per_s);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.2} | {} | {} | {} | {:.2} | {:.1} | {:.0} |{ratio}",
            r.clients,
            r.requests_per_s,
            r.latency.p50_ms,
            r.latency.p99_ms,
            check_cell(&r.check),
            r.errors,
            r.usage.server_cpu_cores,
            cpu_per(&r.usage, r.check.executions),
            database_cpu_per(&r.usage, r.check.executions),
            written_per(&r.usage, r.check.executions, store),
            r.usage.machine_busy_cores,
            r.usage.probe_ms,
            r.usage.peak_rss_mib
        );
    }
    out.push('\n');
}

/// What the store wrote per execution of a step, in KiB: on SQLite, the server's whole write
/// volume (the WAL's pages and their checkpoints); on PostgreSQL, the WAL the database
/// generated (its data files are written later, by its checkpoints). "–" when it could not
/// be read, and when there were no executions.
fn written_per(usage: &Usage, executions: u64, store: &str) -> String {
    let bytes = match store {
        "sqlite" => usage.server_written_bytes,
        _ => usage.database_wal_bytes,
    };
    match bytes {
        Some(bytes) if executions > 0 => {
            format!("{:.1}", bytes as f64 / executions as f64 / 1024.0)
        }
        _ => "–".into(),
    }
}

/// The PostgreSQL server's CPU time per execution of a step, in microseconds: the half of the
/// cost the server's own column leaves out on that store. "–" on SQLite (the store is inside
/// the server), when `/proc` could not tell, and when there were no executions.
fn database_cpu_per(usage: &Usage, executions: u64) -> String {
    match usage.database_cpu_seconds {
        Some(seconds) if executions > 0 => format!("{:.0}", seconds / executions as f64 * 1e6),
        _ => "–".into(),
    }
}

/// The servers' CPU time per execution of a step, in microseconds (the cost that sets how
/// many executions a core can run), or "–" when there were none.
fn cpu_per(usage: &Usage, executions: u64) -> String {
    if executions == 0 {
        return "–".into();
    }
    format!("{:.0}", usage.server_cpu_seconds / executions as f64 * 1e6)
}

fn code_table(out: &mut String, code: &CodeStepRow) {
    let _ = writeln!(
        out,
        "code-step ({}; 1 synchronous client):\n",
        code.transform
    );
    let _ = writeln!(out, "| samples | step p50 ms | step p99 ms | step max ms | call p50 ms | call p99 ms | calls | errors |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {} | {} |\n",
        code.samples,
        code.step.p50_ms,
        code.step.p99_ms,
        code.step.max_ms,
        code.call_latency.p50_ms,
        code.call_latency.p99_ms,
        code.calls,
        code.errors
    );
}

fn schedules_table(out: &mut String, row: &SchedulesRow) {
    let _ = writeln!(
        out,
        "schedules ({} instances, one-minute cron, created in {:.0} s; {} whole minutes watched):\n",
        row.instances, row.setup_seconds, row.ticks
    );
    let _ = writeln!(out, "| fired / expected | succeeded | fire lag p50 ms | fire lag p99 ms | fire lag max ms | start lag p50 ms | start lag p99 ms | drain s | server CPU cores | machine busy cores | peak RSS MiB |");
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let check = if row.passed { "" } else { " **FAILED**" };
    let _ =
        writeln!(
        out,
        "| {} / {}{check} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} |\n",
        row.fired, row.expected, row.succeeded, row.fire_lag.p50_ms, row.fire_lag.p99_ms,
        row.fire_lag.max_ms, row.start_lag.p50_ms, row.start_lag.p99_ms, row.drain_seconds,
        row.usage.server_cpu_cores, row.usage.machine_busy_cores, row.usage.peak_rss_mib
    );
}

fn scale_section(out: &mut String, scale: &ScaleReport) {
    let _ = writeln!(
        out,
        "### {} (postgres, {} clients spread over the nodes)\n",
        scale.name(),
        scale.clients
    );
    if let Some(reason) = &scale.skipped {
        let _ = writeln!(out, "skipped: {reason}\n");
        return;
    }
    if let Some(transform) = scale.transform {
        let _ = writeln!(out, "- transform: {transform}");
    }
    vacuum_line(out, scale.autovacuum.as_deref());
    out.push('\n');
    let _ = writeln!(out, "| nodes | acked/s | executions/s | ack p50 ms | ack p99 ms | drain s | count check | errors | server CPU cores (all nodes) | server CPU µs per execution | database CPU µs per execution | machine busy cores | probe ms |");
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    );
    for row in &scale.rows {
        let r = &row.row;
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {:.2} | {} | {} | {:.2} | {:.1} |",
            row.nodes,
            r.acknowledged_per_s,
            r.completed_per_s,
            r.ack_latency.p50_ms,
            r.ack_latency.p99_ms,
            r.drain_seconds,
            check_cell(&r.check),
            r.errors,
            r.usage.server_cpu_cores,
            cpu_per(&r.usage, r.check.executions),
            database_cpu_per(&r.usage, r.check.executions),
            r.usage.machine_busy_cores,
            r.usage.probe_ms
        );
    }
    out.push('\n');
    if let Some(error) = &scale.error {
        let _ = writeln!(out, "**stopped with an error:** {error}\n");
    }
}

fn peer_section(out: &mut String, peer: &PeerReport) {
    let _ = writeln!(out, "### peer: {}\n", peer.name);
    if let Some(reason) = &peer.unavailable {
        let _ = writeln!(out, "{reason}; no ratio.\n");
        return;
    }
    let _ = writeln!(out, "| workflow | clients | requests/s | p50 ms | p99 ms |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for r in &peer.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            r.workflow, r.clients, r.requests_per_s, r.p50_ms, r.p99_ms
        );
    }
    out.push('\n');
}

fn ratio_head(peer: Option<&PeerReport>) -> String {
    match peer {
        Some(p) if p.unavailable.is_none() => format!(" Ferry/{} |", p.name),
        _ => String::new(),
    }
}

fn ratio_rule(peer: Option<&PeerReport>) -> &'static str {
    match peer {
        Some(p) if p.unavailable.is_none() => "---:|",
        _ => "",
    }
}

fn ratio_cell(peer: Option<&PeerReport>, workflow: &str, clients: usize, ferry: f64) -> String {
    let Some(peer) = peer.filter(|p| p.unavailable.is_none()) else {
        return String::new();
    };
    match peer.rate(workflow, clients) {
        Some(rate) if rate > 0.0 => format!(" {:.1}× |", ferry / rate),
        _ => " n/a |".into(),
    }
}

fn check_cell(check: &CountCheck) -> String {
    if check.passed {
        format!(
            "ok ({} = {} succeeded)",
            check.acknowledged, check.succeeded
        )
    } else {
        format!("**FAILED**: {}", check.describe())
    }
}

fn opt_mib(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.1} MiB"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn bytes_written_come_from_the_store_that_wrote_them() {
        let usage = Usage {
            server_written_bytes: Some(10 * 1024 * 1000),
            database_wal_bytes: Some(2 * 1024 * 1000),
            database_cpu_seconds: Some(0.5),
            ..Usage::default()
        };
        assert_eq!(written_per(&usage, 1000, "sqlite"), "10.0");
        assert_eq!(written_per(&usage, 1000, "postgres"), "2.0");
        assert_eq!(written_per(&usage, 0, "sqlite"), "–");
        assert_eq!(database_cpu_per(&usage, 1000), "500");
        assert_eq!(database_cpu_per(&usage, 0), "–");
        let unread = Usage::default();
        assert_eq!(written_per(&unread, 1000, "postgres"), "–");
        assert_eq!(database_cpu_per(&unread, 1000), "–");
    }

    fn header_of(args: &[&str]) -> String {
        let cli = Cli::parse_from(args);
        let mut out = String::new();
        header(&mut out, &Report::new(Machine::for_tests(), &cli));
        out
    }

    #[test]
    fn a_run_with_contexts_kept_warm_says_so_in_its_header() {
        let warm = header_of(&["ferry-bench", "--js-keep-warm", "8", "code-step"]);
        assert!(warm.contains("FERRY_JS_KEEP_WARM=8"), "{warm}");
        let default = header_of(&["ferry-bench", "code-step"]);
        assert!(!default.contains("KEEP_WARM"), "{default}");
    }

    #[test]
    fn a_postgres_section_says_how_its_database_was_vacuumed() {
        let mut store = StoreReport::new("postgres");
        store.autovacuum = Some("off".into());
        let mut out = String::new();
        store_section(&mut out, &store, None);
        assert!(out.contains("- PostgreSQL autovacuum: off; the suite runs VACUUM (ANALYZE)"));
        let mut out = String::new();
        store_section(&mut out, &StoreReport::new("sqlite"), None);
        assert!(!out.contains("autovacuum"));
    }
}
