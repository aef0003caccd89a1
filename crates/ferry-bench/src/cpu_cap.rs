//! A cap on one node's CPU: a Linux control group of its own with a CFS quota, so that several
//! nodes and their database fit on a small machine and `scale-out` measures how the nodes share
//! the work rather than how many cores the machine has.
//!
//! Both layouts are handled: cgroup v2 (`cpu.max` in a group under `/sys/fs/cgroup`) and v1's
//! `cpu` hierarchy (`cpu.cfs_period_us` and `cpu.cfs_quota_us` under `/sys/fs/cgroup/cpu`).
//! Creating a group needs the right to write there (root, or a delegated hierarchy); where that
//! is missing the cap fails with an error naming the path, and the suite reports it, rather
//! than running uncapped under a capped heading. No crate wraps these few files for both
//! layouts without pulling in a systemd binding, so they are written here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Where cgroups are mounted.
const ROOT: &str = "/sys/fs/cgroup";

/// The quota's period: short, so that a capped node is held back in slices of a few
/// milliseconds rather than stalled for most of a default 100 ms period.
pub const PERIOD_US: u64 = 10_000;

/// The smallest quota the kernel takes.
const MIN_QUOTA_US: u64 = 1_000;

/// A group holding one process; removed when dropped (once its process has exited).
#[derive(Debug)]
pub struct CpuCap {
    dir: PathBuf,
}

impl CpuCap {
    /// Moves process `pid` (every thread of it) into a new group `name` that may use `cores`
    /// cores at most.
    pub fn apply(pid: u32, name: &str, cores: f64) -> anyhow::Result<CpuCap> {
        let quota = quota_us(cores)?;
        let root = Path::new(ROOT);
        let (dir, files) = match layout(root) {
            Some(Layout::V2) => {
                // The controller must be on for the root's children; saying so again is harmless.
                let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu");
                let dir = root.join(name);
                let files = vec![("cpu.max", format!("{quota} {PERIOD_US}"))];
                (dir, files)
            }
            Some(Layout::V1) => {
                let dir = root.join("cpu").join(name);
                let files = vec![
                    ("cpu.cfs_period_us", PERIOD_US.to_string()),
                    ("cpu.cfs_quota_us", quota.to_string()),
                ];
                (dir, files)
            }
            None => bail!(
                "no cgroup CPU controller under {ROOT} (neither cgroup.controllers listing cpu \
                 nor a cpu hierarchy); pass --node-cpu 0 to run scale-out uncapped only"
            ),
        };
        std::fs::create_dir(&dir).with_context(|| {
            format!(
                "creating the control group {} (needs root or a delegated cgroup); \
                 pass --node-cpu 0 to run scale-out uncapped only",
                dir.display()
            )
        })?;
        let cap = CpuCap { dir };
        for (file, value) in files {
            cap.write(file, &value)?;
        }
        cap.write("cgroup.procs", &pid.to_string())?;
        Ok(cap)
    }

    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, value)
            .with_context(|| format!("writing {value} to {}", path.display()))
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // Fails while the process lives; the node stops it before its cap drops.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Which cgroup layout holds the CPU controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    V2,
    V1,
}

fn layout(root: &Path) -> Option<Layout> {
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).ok();
    if controllers.is_some_and(|c| c.split_whitespace().any(|name| name == "cpu")) {
        return Some(Layout::V2);
    }
    root.join("cpu")
        .join("cpu.cfs_quota_us")
        .is_file()
        .then_some(Layout::V1)
}

/// The quota per [`PERIOD_US`] for `cores` cores.
fn quota_us(cores: f64) -> anyhow::Result<u64> {
    if !cores.is_finite() || cores <= 0.0 {
        bail!("a node's CPU cap must be a positive number of cores, not {cores}");
    }
    let quota = (cores * PERIOD_US as f64).round() as u64;
    if quota < MIN_QUOTA_US {
        bail!(
            "a node's CPU cap of {cores} cores is below the kernel's smallest quota ({} cores)",
            MIN_QUOTA_US as f64 / PERIOD_US as f64
        );
    }
    Ok(quota)
}

/// `--node-cpu`: 0 (no capped run) or a cap the kernel takes, refused when parsed rather than
/// after the uncapped run.
pub fn parse_cores(text: &str) -> Result<f64, String> {
    let cores: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of cores"))?;
    if cores == 0.0 {
        return Ok(0.0);
    }
    quota_us(cores).map(|_| cores).map_err(|e| e.to_string())
}

/// The default cap: a third of each node's even share of the machine at the largest node
/// count (the rest is the database's and the load generator's), in steps of 0.05 cores, at
/// least 0.1.
pub fn default_cores(machine_cores: usize, most_nodes: usize) -> f64 {
    let share = machine_cores as f64 / (3.0 * most_nodes.max(1) as f64);
    ((share * 20.0).floor() / 20.0).max(0.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_is_a_quota_per_ten_milliseconds() {
        assert_eq!(quota_us(0.2).unwrap(), 2_000);
        assert_eq!(quota_us(1.5).unwrap(), 15_000);
    }

    #[test]
    fn a_cap_too_small_or_not_positive_is_refused_with_the_reason() {
        let small = quota_us(0.05).unwrap_err().to_string();
        assert!(small.contains("smallest quota"), "{small}");
        for bad in [0.0, -1.0, f64::NAN] {
            let error = quota_us(bad).unwrap_err().to_string();
            assert!(error.contains("positive number of cores"), "{error}");
        }
    }

    #[test]
    fn the_option_takes_zero_or_a_usable_cap_and_names_what_is_wrong() {
        assert_eq!(parse_cores("0"), Ok(0.0));
        assert_eq!(parse_cores("0.25"), Ok(0.25));
        assert!(parse_cores("half").unwrap_err().contains("not a number"));
        assert!(parse_cores("0.01").unwrap_err().contains("smallest quota"));
        assert!(parse_cores("-1").unwrap_err().contains("positive"));
    }

    #[test]
    fn the_default_leaves_two_thirds_of_the_machine_to_the_database_and_the_load() {
        assert_eq!(default_cores(2, 3), 0.2);
        assert_eq!(default_cores(8, 3), 0.85);
        assert_eq!(default_cores(1, 8), 0.1);
    }

    #[test]
    fn a_layout_is_found_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(layout(dir.path()), None);
        std::fs::create_dir(dir.path().join("cpu")).unwrap();
        std::fs::write(dir.path().join("cpu/cpu.cfs_quota_us"), "-1").unwrap();
        assert_eq!(layout(dir.path()), Some(Layout::V1));
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory",
        )
        .unwrap();
        assert_eq!(layout(dir.path()), Some(Layout::V2));
        std::fs::write(dir.path().join("cgroup.controllers"), "cpuset io memory").unwrap();
        assert_eq!(
            layout(dir.path()),
            Some(Layout::V1),
            "v2 without its cpu controller"
        );
    }
}
