//! What the figures were measured on: cores, CPU model, kernel, load average, the commit, how
//! busy the whole machine was during a step (so that other work on it shows), and how fast it
//! was just before the step ([`probe_ms`]).

use std::process::Command;
use std::time::Instant;

use serde::Serialize;

/// The machine and the code under test.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub load_average_at_start: String,
    pub commit: String,
}

impl Machine {
    /// A made-up 2-core machine, for tests of the report.
    #[cfg(test)]
    pub fn for_tests() -> Machine {
        Machine {
            cores: 2,
            cpu: "test".into(),
            kernel: "test".into(),
            load_average_at_start: String::new(),
            commit: "test".into(),
        }
    }

    pub fn read() -> Machine {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cores,
            cpu,
            kernel: first_line("/proc/sys/kernel/osrelease"),
            load_average_at_start: load_average(),
            commit: commit(),
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    let text = first_line("/proc/loadavg");
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// `git rev-parse --short HEAD`, with `-dirty` when the work tree has changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|changes| !changes.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

/// Rounds of the probe's work.
const PROBE_ROUNDS: usize = 2_000;

/// How fast the machine is now: fixed single-threaded work like the server's own (the
/// benchmark's 1 KB order parsed into a tree and written back out, [`PROBE_ROUNDS`] times),
/// timed three times, the best in milliseconds; lower is faster. Machines of one kind differ,
/// and a virtual machine's speed moves with its neighbours' load (seen: the same binary's CPU
/// per execution 2× apart within an hour on one machine), so every step records it, taken
/// just before its load starts, when nothing else of the suite runs: figures compare only
/// between steps whose probes agree.
pub fn probe_ms() -> f64 {
    let body = crate::flows::order_body();
    let round = || {
        let started = Instant::now();
        for _ in 0..PROBE_ROUNDS {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            std::hint::black_box(serde_json::to_vec(&value).unwrap_or_default());
        }
        started.elapsed().as_secs_f64() * 1e3
    };
    (0..3).map(|_| round()).fold(f64::INFINITY, f64::min)
}

/// Whole-machine CPU counters (`/proc/stat`), to tell how many cores were busy in a span.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    busy: u64,
    total: u64,
}

impl CpuSample {
    pub fn now() -> CpuSample {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        parse_cpu_line(stat.lines().next().unwrap_or(""))
    }

    /// Cores busy on average between `self` and `later` (0 ..= core count).
    pub fn busy_cores_until(&self, later: &CpuSample, cores: usize) -> f64 {
        let total = later.total.saturating_sub(self.total) as f64;
        if total == 0.0 {
            return 0.0;
        }
        later.busy.saturating_sub(self.busy) as f64 / total * cores as f64
    }
}

fn parse_cpu_line(line: &str) -> CpuSample {
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    // idle and iowait are the 4th and 5th values.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    CpuSample {
        busy: total.saturating_sub(idle),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_work_that_happened() {
        let body: serde_json::Value = serde_json::from_slice(&crate::flows::order_body()).unwrap();
        assert!(body["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty()));
        let ms = probe_ms();
        assert!(ms.is_finite() && ms > 0.0, "{ms}");
    }

    #[test]
    fn busy_cores_from_two_samples() {
        let before = parse_cpu_line("cpu  100 0 100 800 0 0 0 0 0 0");
        let after = parse_cpu_line("cpu  200 0 200 900 0 0 0 0 0 0");
        assert!((before.busy_cores_until(&after, 2) - 4.0 / 3.0).abs() < 1e-9);
    }
}
