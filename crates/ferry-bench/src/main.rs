//! `ferry-bench`: Ferry's benchmark suite (`DESIGN.md` section 5). It builds nothing: it runs
//! an already built `target/release/ferry serve` as a child process on loopback, loads the
//! workloads over the GraphQL API, drives the webhooks with a closed-loop load generator, and
//! prints the figures as Markdown tables (and JSON with `--json`). `bench/run.sh` builds both
//! binaries in release mode and runs it.

mod api;
mod cpu_cap;
mod flows;
mod load;
mod machine;
mod peer;
mod postgres;
mod report;
mod report_targets;
mod server;
mod suite;
mod workloads;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Ferry's benchmark suite: starts `ferry serve`, drives it on 127.0.0.1, prints the figures.
#[derive(Parser, Debug)]
#[command(name = "ferry-bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub options: Options,
}

/// What to run.
#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Every workload, on SQLite and then on PostgreSQL (when reachable).
    All,
    /// Webhooks answered once committed; executions run behind: ack rate, latency, completions.
    WebhookAsync,
    /// The same flow called with `ferry-synchronous: true`: requests/s and latency.
    WebhookSync,
    /// How long the flow's JavaScript step takes, from its step results.
    CodeStep,
    /// Idle RSS after start, peak RSS under webhook load.
    Memory,
    /// 1, 2 and 3 `ferry serve` processes sharing one PostgreSQL database: executions/s.
    ScaleOut,
    /// Many instances with one-minute schedules: firing lag, CPU, RSS.
    Schedules,
}

/// Which store(s) to run on.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    Sqlite,
    Postgres,
    Both,
}

/// Settings shared by every subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Seconds of load per step (per concurrency level, per node count).
    #[arg(long, global = true, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent clients, one step per value.
    #[arg(long, global = true, value_delimiter = ',', default_value = "8,32,128")]
    pub clients: Vec<usize>,
    /// Node counts for scale-out.
    #[arg(long, global = true, value_delimiter = ',', default_value = "1,2,3")]
    pub nodes: Vec<usize>,
    /// Store to run on; `all` defaults to both, the others to SQLite (scale-out: PostgreSQL).
    #[arg(long, global = true, value_enum)]
    pub store: Option<StoreChoice>,
    /// The PostgreSQL database the suite may drop and re-create at will.
    #[arg(
        long,
        global = true,
        env = "FERRY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/ferry_bench"
    )]
    pub database_url: String,
    /// The `ferry` binary [default: `ferry` beside this binary].
    #[arg(long, global = true)]
    pub ferry: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Run a peer beside Ferry for a ratio (webhook-async and webhook-sync).
    #[arg(long, global = true, value_enum)]
    pub peer: Option<Peer>,
    /// Where the peer's script lives.
    #[arg(long, global = true, default_value = "../shared/peers/n8n")]
    pub peer_dir: PathBuf,
    /// Threads of the load generator (the rest of the machine is the server's).
    #[arg(long, global = true, default_value_t = 1)]
    pub load_threads: usize,
    /// Instances with a one-minute schedule in `schedules`.
    #[arg(long, global = true, default_value_t = 10_000)]
    pub schedules: usize,
    /// Whole minutes `schedules` watches (on each store).
    #[arg(long, global = true, default_value_t = 2)]
    pub schedule_minutes: u32,
    /// Where nodes' data directories (and SQLite files) go [default: the system temp dir].
    /// A tmpfs such as /dev/shm takes the disk's fsync out of the figures: a diagnostic only,
    /// not durable, and the report says so.
    #[arg(long, global = true)]
    pub data_root: Option<PathBuf>,
    /// Executions one node runs at once (`FERRY_WORKER_CONCURRENCY`).
    #[arg(long, global = true, default_value_t = 32)]
    pub worker_concurrency: usize,
    /// Code-step contexts each JavaScript thread keeps warm between executions
    /// (`FERRY_JS_KEEP_WARM`; 0, the server's default, gives every step a fresh context).
    #[arg(long, global = true, default_value_t = 0)]
    pub js_keep_warm: u16,
    /// Scale-out runs a second time with each node capped at this many cores (a Linux
    /// control group, which needs root), so that every node and the database fit on the
    /// machine and the run shows how nodes share the work, not how many cores there are;
    /// 0 runs it uncapped only [default: the machine's cores / (3 × the most nodes), in steps
    /// of 0.05: 0.2 on 2 cores with 3 nodes].
    #[arg(long, global = true, value_parser = cpu_cap::parse_cores)]
    pub node_cpu: Option<f64>,
    /// Longest wait for queued executions to drain after a step, in seconds.
    #[arg(long, global = true, default_value_t = 120)]
    pub drain_timeout: u64,
}

impl Options {
    pub fn step(&self) -> Duration {
        Duration::from_secs(self.duration.max(1))
    }
}

/// A peer platform measured beside Ferry.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    N8n,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.options.load_threads.max(1))
        .enable_all()
        .build()?;
    let report = runtime.block_on(suite::run(&cli))?;
    print!("{}", report::markdown(&report));
    if let Some(path) = &cli.options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("figures written to {}", path.display());
    }
    let failures = report.failures();
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        eprintln!("{} check(s) failed", failures.len());
        std::process::exit(1);
    }
    Ok(())
}
