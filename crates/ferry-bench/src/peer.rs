//! The n8n peer (`../shared/peers/n8n`): its own script runs the same webhook flows on n8n with
//! the same concurrencies, and the suite reads its `results.json` for the Ferry/n8n ratio. The
//! suite never installs n8n (that needs the npm registry): when the peer folder has no installed
//! n8n, or a tool its script needs is missing, the peer is reported as not available, with why.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::Options;

/// The peer's figures, or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    pub name: String,
    pub unavailable: Option<String>,
    pub rows: Vec<PeerRow>,
}

/// One of the peer's load steps.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRow {
    /// `async` or `sync`.
    pub workflow: String,
    pub clients: usize,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl PeerReport {
    /// The peer's requests/s for a workflow at a concurrency.
    pub fn rate(&self, workflow: &str, clients: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| row.workflow == workflow && row.clients == clients)
            .map(|row| row.requests_per_s)
    }
}

/// Runs the n8n peer when it can run here.
pub fn run_n8n(options: &Options) -> PeerReport {
    let dir = options.peer_dir.clone();
    let mut report = PeerReport {
        name: "n8n".into(),
        unavailable: None,
        rows: Vec::new(),
    };
    if let Err(reason) = available(&dir) {
        report.unavailable = Some(format!("n8n not available on this machine: {reason}"));
        return report;
    }
    match run_script(&dir, options) {
        Ok(rows) => report.rows = rows,
        Err(err) => report.unavailable = Some(format!("the n8n peer script failed: {err:#}")),
    }
    report
}

/// Why the peer cannot run here, if it cannot.
fn available(dir: &Path) -> Result<(), String> {
    if !dir.join("run-bench.sh").is_file() {
        return Err(format!("no run-bench.sh in {}", dir.display()));
    }
    if !dir.join("node_modules/.bin/n8n").exists() {
        return Err(format!(
            "n8n is not installed in {} (its script would install it from the npm registry; \
             the suite does not)",
            dir.display()
        ));
    }
    for tool in ["node", "wrk", "sqlite3", "curl", "python3"] {
        if !on_path(tool) {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    let probe = dir.join(".ferry-bench-write-probe");
    std::fs::write(&probe, b"").map_err(|err| {
        format!(
            "{} is not writable ({err}); its script writes there",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

fn run_script(dir: &Path, options: &Options) -> anyhow::Result<Vec<PeerRow>> {
    let results = tempfile::Builder::new()
        .prefix("ferry-bench-n8n-")
        .tempdir()?;
    let concurrencies: Vec<String> = options.clients.iter().map(|c| c.to_string()).collect();
    // The script runs in its own folder, so it is named from there: a relative `--peer-dir`
    // (the default) joined again would point nowhere.
    let status = Command::new("bash")
        .arg("run-bench.sh")
        .current_dir(dir)
        .env("DURATION", options.duration.to_string())
        .env("CONCURRENCIES", concurrencies.join(" "))
        .env("COLD_TRIALS", "1")
        .env("RES_DIR", results.path())
        .status()?;
    anyhow::ensure!(status.success(), "run-bench.sh exited with {status}");
    let path: PathBuf = results.path().join("results.json");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    Ok(rows(&summary))
}

/// The rows of the peer script's `results.json` (`runs[]` with `workflow`, `concurrency`,
/// `rps`, `lat_p50_ms`, `lat_p99_ms`).
fn rows(summary: &Value) -> Vec<PeerRow> {
    let runs = summary["runs"].as_array().cloned().unwrap_or_default();
    runs.iter()
        .map(|run| PeerRow {
            workflow: run["workflow"].as_str().unwrap_or("?").to_string(),
            clients: run["concurrency"].as_u64().unwrap_or(0) as usize,
            requests_per_s: run["rps"].as_f64().unwrap_or(0.0),
            p50_ms: run["lat_p50_ms"].as_f64().unwrap_or(0.0),
            p99_ms: run["lat_p99_ms"].as_f64().unwrap_or(0.0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peer_results() {
        let summary = serde_json::json!({ "runs": [
            { "workflow": "async", "concurrency": 8, "rps": 80.5, "lat_p50_ms": 90.0, "lat_p99_ms": 166.0 },
        ]});
        let report = PeerReport {
            name: "n8n".into(),
            unavailable: None,
            rows: rows(&summary),
        };
        assert_eq!(report.rate("async", 8), Some(80.5));
        assert_eq!(report.rate("sync", 8), None);
    }

    #[test]
    fn a_folder_without_n8n_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run-bench.sh"), "").unwrap();
        let reason = available(dir.path()).unwrap_err();
        assert!(reason.contains("not installed"), "{reason}");
    }
}
