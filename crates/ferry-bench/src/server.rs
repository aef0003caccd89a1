//! One `ferry serve` child process on a free loopback port, with its own data directory, its
//! log in that directory, and readings of its memory and CPU from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::cpu_cap::CpuCap;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub binary: PathBuf,
    /// `None` for SQLite in the data directory.
    pub database_url: Option<String>,
    /// Shared by every node of one PostgreSQL database.
    pub master_key: Option<String>,
    pub worker_concurrency: usize,
    /// `FERRY_JS_KEEP_WARM`.
    pub js_keep_warm: u16,
    /// Parent of the data directory; the system temp dir when `None`.
    pub data_root: Option<PathBuf>,
    /// The most cores the node may use ([`CpuCap`]); uncapped when `None`.
    pub cpu_cap: Option<f64>,
}

/// A running `ferry serve`; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Node {
    child: Child,
    pub base: String,
    data_dir: tempfile::TempDir,
    /// Dropped after the process is stopped, when its group is empty.
    _cap: Option<CpuCap>,
}

impl Node {
    /// Starts a node and waits until `/healthz` answers 200.
    pub async fn start(spec: &NodeSpec, http: &reqwest::Client) -> anyhow::Result<Node> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("ferry-bench-");
        let data_dir = match &spec.data_root {
            Some(root) => builder.tempdir_in(root)?,
            None => builder.tempdir()?,
        };
        let port = free_port()?;
        let child = spawn(spec, data_dir.path(), port)?;
        let mut node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
            _cap: None,
        };
        if let Some(cores) = spec.cpu_cap {
            let name = format!("ferry-bench-{}-{port}", std::process::id());
            node._cap = Some(CpuCap::apply(node.pid(), &name, cores)?);
        }
        node.wait_healthy(http).await?;
        Ok(node)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bootstrap owner's token (written by the node that bootstrapped the store).
    pub fn owner_token(&self) -> anyhow::Result<String> {
        let path = self.data_dir.path().join("owner.token");
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(token.trim().to_string())
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.path().join("serve.log")
    }

    async fn wait_healthy(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/healthz", self.base);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("ferry serve exited ({status}); see {}", self.tail_log());
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("ferry serve not healthy within 60 s; {}", self.tail_log())
    }

    /// The last lines of the node's log, for error messages.
    pub fn tail_log(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        format!("log {}:\n{tail}", self.log_path().display())
    }

    /// Memory now and at its peak (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()));
        let status = status.unwrap_or_default();
        Memory {
            rss_kib: status_field(&status, "VmRSS:"),
            peak_kib: status_field(&status, "VmHWM:"),
        }
    }

    /// Resets the peak RSS counter, so the next `VmHWM` is the peak since now.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()));
        cpu_ticks(&stat.unwrap_or_default()) as f64 / clock_ticks() as f64
    }

    /// Bytes the process has caused to be written to storage so far (`write_bytes` of
    /// `/proc/<pid>/io`: counted when it dirties the page cache, so SQLite's WAL and its
    /// checkpoints into the database file, and the node's log); `None` where it cannot be
    /// read, so that the table says nothing rather than zero.
    pub fn written_bytes(&self) -> Option<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.pid())).ok()?;
        proc_field(&io, "write_bytes:")
    }

    /// SIGTERM, then SIGKILL after 15 s.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory readings, KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

fn spawn(spec: &NodeSpec, data_dir: &Path, port: u16) -> anyhow::Result<Child> {
    let log = std::fs::File::create(data_dir.join("serve.log"))?;
    let mut command = Command::new(&spec.binary);
    command.arg("serve");
    // The suite's settings only: nothing of the caller's FERRY_* environment leaks in.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FERRY_") {
            command.env_remove(name);
        }
    }
    command
        .env("FERRY_DATA_DIR", data_dir)
        .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERRY_LOG", "warn")
        .env(
            "FERRY_WORKER_CONCURRENCY",
            spec.worker_concurrency.to_string(),
        )
        .env("FERRY_JS_KEEP_WARM", spec.js_keep_warm.to_string());
    if let Some(url) = &spec.database_url {
        command.env("FERRY_DATABASE_URL", url);
    }
    if let Some(key) = &spec.master_key {
        command.env("FERRY_MASTER_KEY", key);
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", spec.binary.display()))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn status_field(status: &str, field: &str) -> u64 {
    proc_field(status, field).unwrap_or(0)
}

/// The number after `field` in a `/proc` file of `name: value` lines.
fn proc_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

/// utime + stime from `/proc/<pid>/stat` (fields 14 and 15, counted after the command name).
fn cpu_ticks(stat: &str) -> u64 {
    stat_fields(stat, &[11, 12]).unwrap_or(0)
}

/// The sum of the fields at `indexes` of a `/proc/<pid>/stat` line, counted from the field
/// after the command name (the state is 0, the parent's pid 1, utime 11, stime 12, cutime 13,
/// cstime 14); `None` if one is missing.
fn stat_fields(stat: &str, indexes: &[usize]) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    indexes
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum()
}

/// CPU time, in seconds, of process `root` and every process it started: its own time, the
/// time of its children it has reaped (cutime, cstime), and that of its children still
/// running. For PostgreSQL's postmaster this is the whole server's: backends, background
/// writers, autovacuum. `None` when `root`'s `/proc` entry cannot be read.
pub fn process_tree_cpu_seconds(root: u32) -> Option<f64> {
    let own = std::fs::read_to_string(format!("/proc/{root}/stat")).ok()?;
    let mut ticks = stat_fields(&own, &[11, 12, 13, 14])?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // gone meanwhile: reaped, so counted in the parent's cutime
        };
        if stat_fields(&stat, &[1]) == Some(u64::from(root)) {
            ticks += stat_fields(&stat, &[11, 12]).unwrap_or(0);
        }
    }
    Some(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let status = "Name:\tferry\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_field(status, "VmRSS:"), 1024);
        assert_eq!(status_field(status, "VmHWM:"), 2048);
        let io = "rchar: 10\nwchar: 20\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(proc_field(io, "write_bytes:"), Some(8192));
        assert_eq!(proc_field("rchar: 10\n", "write_bytes:"), None);
        let stat = "42 (fer ry) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0";
        assert_eq!(cpu_ticks(stat), 10);
        assert_eq!(stat_fields(stat, &[1, 13]), Some(1));
        assert_eq!(stat_fields(stat, &[40]), None);
    }

    #[test]
    fn counts_the_cpu_of_reaped_children() {
        let me = std::process::id();
        let before = process_tree_cpu_seconds(me).unwrap();
        let busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
        let status = Command::new("sh").args(["-c", busy]).status().unwrap();
        assert!(status.success());
        let after = process_tree_cpu_seconds(me).unwrap();
        assert!(after - before >= 0.05, "{before} s, then {after} s");
        assert_eq!(process_tree_cpu_seconds(u32::MAX), None);
    }
}
