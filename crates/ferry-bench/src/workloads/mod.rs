//! The workloads, and what they share: a `Session` (the running nodes of one store, the API,
//! the published flow), metering of a step's CPU and memory, waiting for the queue to drain,
//! and the count check (every acknowledged request has exactly one succeeded execution).

pub mod code_step;
pub mod scale_out;
pub mod schedules;
pub mod webhook;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::api::{Api, Counts, Deployed};
use crate::flows::Prepared;
use crate::machine::CpuSample;
use crate::postgres::{Database, DatabaseSample};
use crate::server::Node;

/// The running nodes of one store and what the workloads need to drive them.
pub struct Session {
    pub api: Api,
    pub nodes: Vec<Node>,
    pub prepared: Prepared,
    pub body: Bytes,
    pub cores: usize,
    /// The PostgreSQL database the nodes share, if that is the store.
    pub database: Option<Database>,
    instances: AtomicUsize,
}

impl Session {
    pub fn new(api: Api, nodes: Vec<Node>, prepared: Prepared, cores: usize) -> Session {
        Session {
            api,
            nodes,
            prepared,
            body: crate::flows::order_body(),
            cores,
            database: None,
            instances: AtomicUsize::new(0),
        }
    }

    /// A new customer with a deployed instance of the flow, so each step counts only its own
    /// executions.
    pub async fn fresh_instance(&self, label: &str) -> anyhow::Result<Deployed> {
        let n = self.instances.fetch_add(1, Ordering::Relaxed);
        let name = format!("bench-{label}-{n}");
        self.api.deploy(&self.prepared.integration, &name).await
    }

    /// The webhook URL on every node (same path, each node's address).
    pub fn urls_on_every_node(&self, webhook_url: &str) -> Vec<String> {
        let path = webhook_url
            .find("/trigger/")
            .map(|at| &webhook_url[at..])
            .unwrap_or(webhook_url);
        self.nodes
            .iter()
            .map(|node| format!("{}{path}", node.base))
            .collect()
    }
}

/// What the server(s) and the machine spent during a step.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Usage {
    /// CPU time of the `ferry serve` processes over wall time, in cores.
    pub server_cpu_cores: f64,
    /// CPU time of the `ferry serve` processes during the step, seconds.
    pub server_cpu_seconds: f64,
    /// The machine's speed just before the step ([`crate::machine::probe_ms`]).
    pub probe_ms: f64,
    /// Everything running on the machine (server, load generator, database, other work).
    pub machine_busy_cores: f64,
    /// Largest peak RSS of a node during the step, MiB.
    pub peak_rss_mib: f64,
    /// Bytes the `ferry serve` processes wrote to storage during the step
    /// ([`Node::written_bytes`]), if every node's could be read; on PostgreSQL the database's
    /// writes are its own processes'.
    pub server_written_bytes: Option<u64>,
    /// PostgreSQL only: CPU time of the database server's processes during the step, seconds
    /// ([`Database::sample`]); `None` on SQLite, whose work is in the server's own CPU time.
    pub database_cpu_seconds: Option<f64>,
    /// PostgreSQL only: bytes of WAL the database generated during the step.
    pub database_wal_bytes: Option<u64>,
}

/// Starts measuring a step.
pub struct Meter {
    probe_ms: f64,
    cpu: Vec<f64>,
    written: Vec<Option<u64>>,
    database: Option<DatabaseSample>,
    machine: CpuSample,
    started: Instant,
}

impl Meter {
    /// Vacuums a PostgreSQL store ([`Database::vacuum`]), probes the machine's speed, then
    /// starts counting.
    pub fn start(session: &Session) -> Meter {
        if let Some(database) = &session.database {
            if let Err(err) = database.vacuum() {
                eprintln!("warning: VACUUM before the step failed: {err:#}");
            }
        }
        let probe_ms = crate::machine::probe_ms();
        let nodes = &session.nodes;
        for node in nodes {
            node.reset_peak();
        }
        Meter {
            probe_ms,
            cpu: nodes.iter().map(Node::cpu_seconds).collect(),
            written: nodes.iter().map(Node::written_bytes).collect(),
            database: session.database.as_ref().and_then(Database::sample),
            machine: CpuSample::now(),
            started: Instant::now(),
        }
    }

    pub fn finish(&self, session: &Session) -> Usage {
        let (nodes, cores) = (&session.nodes, session.cores);
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let cpu: f64 = nodes
            .iter()
            .zip(&self.cpu)
            .map(|(node, before)| node.cpu_seconds() - before)
            .sum();
        let written = nodes
            .iter()
            .zip(&self.written)
            .map(|(node, before)| Some(node.written_bytes()?.saturating_sub((*before)?)))
            .sum();
        let peak = nodes
            .iter()
            .map(|node| node.memory_kib().peak_kib)
            .max()
            .unwrap_or(0);
        let database = session.database.as_ref().and_then(Database::sample);
        let spent = database
            .zip(self.database)
            .map(|(now, then)| now.since(&then));
        let database_cpu_seconds = spent.and_then(|(cpu, _)| cpu);
        let database_wal_bytes = spent.map(|(_, wal)| wal);
        Usage {
            server_cpu_cores: cpu / wall,
            server_cpu_seconds: cpu,
            probe_ms: self.probe_ms,
            machine_busy_cores: self.machine.busy_cores_until(&CpuSample::now(), cores),
            peak_rss_mib: mib(peak),
            server_written_bytes: written,
            database_cpu_seconds,
            database_wal_bytes,
        }
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The queue after a step: the counts when nothing was left queued or running, and how long
/// that took after the load stopped.
pub struct Drain {
    pub counts: Counts,
    pub seconds: f64,
    pub drained: bool,
}

/// Polls the instance's queued and running counts until both are zero and at least
/// `expected` executions exist, or `timeout` passes; then counts them all by status.
pub async fn drain(
    api: &Api,
    instance: &str,
    expected: u64,
    timeout: Duration,
) -> anyhow::Result<Drain> {
    let started = Instant::now();
    loop {
        let pending = api.pending(Some(instance)).await?;
        // The drain time ends when the queue was seen empty, not after the full count.
        let seconds = started.elapsed().as_secs_f64();
        let counts = match pending {
            0 => Some(api.counts(Some(instance)).await?),
            _ => None,
        };
        let drained = counts
            .as_ref()
            .is_some_and(|c| c.pending() == 0 && c.total >= expected);
        if drained || started.elapsed() >= timeout {
            let counts = match counts {
                Some(counts) => counts,
                None => api.counts(Some(instance)).await?,
            };
            return Ok(Drain {
                counts,
                seconds,
                drained,
            });
        }
        tokio::time::sleep(poll_after(pending)).await;
    }
}

/// How long to wait before counting again with `pending` executions left: 100 ms near the end
/// (the drain time's resolution), up to a second while the queue is deep. Each count is a
/// query on the server's database, and while tens of thousands were queued, counting every
/// 100 ms took a fifth of PostgreSQL's CPU away from the drain being measured.
fn poll_after(pending: u64) -> Duration {
    Duration::from_millis((pending / 10).clamp(100, 1_000))
}

/// Every acknowledged request has exactly one succeeded execution, and there is nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct CountCheck {
    pub acknowledged: u64,
    /// Distinct execution ids among the acknowledgements (asynchronous calls).
    pub distinct_ids: Option<u64>,
    pub executions: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub not_ended: u64,
    /// Whether nothing was queued or running when the suite stopped waiting.
    pub drained: bool,
    pub passed: bool,
}

impl CountCheck {
    pub fn new(acknowledged: u64, distinct_ids: Option<u64>, drain: &Drain) -> CountCheck {
        let counts = drain.counts;
        let passed = drain.drained
            && distinct_ids.is_none_or(|ids| ids == acknowledged)
            && counts.succeeded == acknowledged
            && counts.total == acknowledged
            && counts.failed == 0;
        CountCheck {
            acknowledged,
            distinct_ids,
            executions: counts.total,
            succeeded: counts.succeeded,
            failed: counts.failed,
            not_ended: counts.pending(),
            drained: drain.drained,
            passed,
        }
    }

    /// The numbers, for the table and for a loud failure.
    pub fn describe(&self) -> String {
        let ids = self
            .distinct_ids
            .map(|ids| format!(", {ids} distinct ids"))
            .unwrap_or_default();
        let drained = if self.drained {
            ""
        } else {
            " (the queue had not drained when the wait ended: see --drain-timeout)"
        };
        format!(
            "{} acknowledged{ids}; {} executions: {} succeeded, {} failed, {} not ended{drained}",
            self.acknowledged, self.executions, self.succeeded, self.failed, self.not_ended
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_queue_is_counted_less_often_than_its_last_executions() {
        assert_eq!(poll_after(0), Duration::from_millis(100));
        assert_eq!(poll_after(900), Duration::from_millis(100));
        assert_eq!(poll_after(5_000), Duration::from_millis(500));
        assert_eq!(poll_after(60_000), Duration::from_secs(1));
    }
}
