//! The order of a run: which stores and workloads a subcommand means, starting a session (a
//! node on a fresh store, its idle memory, the published flow), running each workload, and
//! collecting everything into the `Report`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::api::Api;
use crate::cpu_cap;
use crate::machine::{self, Machine};
use crate::postgres::{self, Database};
use crate::report::{Report, ScaleReport, StoreReport};
use crate::server::{Node, NodeSpec};
use crate::workloads::webhook::{self, Step};
use crate::workloads::{code_step, mib, scale_out, schedules, Session};
use crate::{peer, Cli, Command, Options, Peer, StoreChoice};

/// Seconds a fresh node idles before its idle RSS is read.
const IDLE_WAIT: Duration = Duration::from_secs(3);

/// Clients of each scale-out step, spread over the nodes.
const SCALE_CLIENTS: usize = 64;

/// The store a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        }
    }
}

pub async fn run(cli: &Cli) -> anyhow::Result<Report> {
    let options = &cli.options;
    let machine = Machine::read();
    let binary = ferry_binary(options)?;
    let mut report = Report::new(machine.clone(), cli);
    for store in stores(cli) {
        let explicit = options.store.is_some();
        let run = Run {
            command: cli.command,
            options,
        };
        report
            .stores
            .push(run_store(&run, &binary, store, explicit).await);
    }
    if matches!(cli.command, Command::All | Command::ScaleOut) {
        let uncapped = run_scale_out(options, &binary, None).await;
        let ran = uncapped.skipped.is_none();
        report.scale_out = Some(uncapped);
        if let Some(cores) = node_cpu(options, &machine).filter(|_| ran) {
            eprintln!("scale-out again, each node capped at {cores:.2} cores");
            report.scale_out_capped = Some(run_scale_out(options, &binary, Some(cores)).await);
        }
    }
    if options.peer == Some(Peer::N8n) {
        let options = options.clone();
        let peer = tokio::task::spawn_blocking(move || peer::run_n8n(&options)).await?;
        report.peer = Some(peer);
    }
    report.load_average_at_end = machine::load_average();
    Ok(report)
}

/// `target/release/ferry` beside this binary, unless `--ferry` names one.
fn ferry_binary(options: &Options) -> anyhow::Result<PathBuf> {
    let path = match &options.ferry {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this binary's folder")?
            .join("ferry"),
    };
    anyhow::ensure!(
        path.is_file(),
        "no ferry binary at {} (bench/run.sh builds it: cargo build --release -p ferry-cli -p ferry-bench)",
        path.display()
    );
    Ok(path)
}

/// The stores the command runs on, in order.
fn stores(cli: &Cli) -> Vec<Store> {
    let default = match cli.command {
        Command::All => StoreChoice::Both,
        Command::ScaleOut => return Vec::new(),
        _ => StoreChoice::Sqlite,
    };
    match cli.options.store.unwrap_or(default) {
        StoreChoice::Sqlite => vec![Store::Sqlite],
        StoreChoice::Postgres => vec![Store::Postgres],
        StoreChoice::Both => vec![Store::Sqlite, Store::Postgres],
    }
}

/// What one store's session runs.
struct Run<'a> {
    command: Command,
    options: &'a Options,
}

async fn run_store(
    run: &Run<'_>,
    binary: &std::path::Path,
    store: Store,
    explicit: bool,
) -> StoreReport {
    let options = run.options;
    let mut report = StoreReport::new(store.name());
    let spec = match node_spec(options, binary, store) {
        Ok(spec) => spec,
        Err(reason) if store == Store::Postgres && !explicit => {
            report.skipped = Some(reason);
            return report;
        }
        Err(reason) => {
            report.error = Some(reason);
            return report;
        }
    };
    if let Err(err) = run_workloads(run, &spec, &mut report).await {
        report.error = Some(format!("{err:#}"));
    }
    report.peak_rss_mib = report.peak_of_rows();
    report
}

/// How to start a node on `store`; for PostgreSQL, after re-creating the database. The reason
/// when the store is not available.
fn node_spec(
    options: &Options,
    binary: &std::path::Path,
    store: Store,
) -> Result<NodeSpec, String> {
    let mut spec = NodeSpec {
        binary: binary.to_path_buf(),
        database_url: None,
        master_key: None,
        worker_concurrency: options.worker_concurrency,
        js_keep_warm: options.js_keep_warm,
        data_root: options.data_root.clone(),
        cpu_cap: None,
    };
    if store == Store::Postgres {
        let database = Database::parse(&options.database_url).map_err(|err| format!("{err:#}"))?;
        database
            .check()
            .map_err(|reason| format!("PostgreSQL not reachable: {reason}"))?;
        database.reset().map_err(|err| format!("{err:#}"))?;
        spec.database_url = Some(database.url().to_string());
        spec.master_key = Some(postgres::master_key());
    }
    Ok(spec)
}

async fn run_workloads(
    run: &Run<'_>,
    spec: &NodeSpec,
    report: &mut StoreReport,
) -> anyhow::Result<()> {
    let (command, options) = (run.command, run.options);
    let http = crate::load::client(4)?;
    let (session, idle_kib) = start_session(spec, &http).await?;
    report.idle_rss_mib = Some(mib(idle_kib));
    report.transform = Some(session.prepared.transform);
    report.autovacuum = session.database.as_ref().and_then(Database::autovacuum);
    let step = |clients| Step {
        clients,
        duration: options.step(),
        drain_timeout: Duration::from_secs(options.drain_timeout),
    };
    let all = command == Command::All;
    if all || command == Command::WebhookAsync {
        for &clients in &options.clients {
            eprintln!("{}: webhook-async, {clients} clients", report.store);
            report
                .webhook_async
                .push(webhook::run_async(&session, &step(clients)).await?);
        }
    }
    if command == Command::Memory {
        let clients = options.clients.iter().copied().max().unwrap_or(32);
        eprintln!(
            "{}: memory under webhook-async, {clients} clients",
            report.store
        );
        report
            .webhook_async
            .push(webhook::run_async(&session, &step(clients)).await?);
    }
    if all || command == Command::WebhookSync {
        for &clients in &options.clients {
            eprintln!("{}: webhook-sync, {clients} clients", report.store);
            report
                .webhook_sync
                .push(webhook::run_sync(&session, &step(clients)).await?);
        }
    }
    if all || command == Command::CodeStep {
        eprintln!("{}: code-step", report.store);
        report.code_step = Some(code_step::run(&session, options.step()).await?);
    }
    // Last on a store, as its schedules keep firing until the node stops.
    if all || command == Command::Schedules {
        eprintln!(
            "{}: schedules, {} instances",
            report.store, options.schedules
        );
        let plan = schedules::Plan {
            instances: options.schedules,
            minutes: options.schedule_minutes.max(1),
            drain_timeout: Duration::from_secs(options.drain_timeout),
        };
        report.schedules = Some(schedules::run(&session, &plan).await?);
    }
    Ok(())
}

/// Starts a node, lets it idle, reads its idle RSS (KiB), then publishes the bench flow.
async fn start_session(spec: &NodeSpec, http: &reqwest::Client) -> anyhow::Result<(Session, u64)> {
    let node = Node::start(spec, http).await?;
    tokio::time::sleep(IDLE_WAIT).await;
    let idle = node.memory_kib().rss_kib;
    let api = Api::new(http.clone(), &node.base, &node.owner_token()?);
    let prepared = crate::flows::prepare(&api, http)
        .await
        .with_context(|| node.tail_log())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut session = Session::new(api, vec![node], prepared, cores);
    session.database = spec
        .database_url
        .as_deref()
        .and_then(|url| Database::parse(url).ok());
    Ok((session, idle))
}

/// Each node's cap for the capped scale-out, if it runs.
fn node_cpu(options: &Options, machine: &Machine) -> Option<f64> {
    let most_nodes = options.nodes.iter().copied().max().unwrap_or(1);
    match options.node_cpu {
        None => Some(cpu_cap::default_cores(machine.cores, most_nodes)),
        Some(0.0) => None,
        Some(cores) => Some(cores),
    }
}

async fn run_scale_out(
    options: &Options,
    binary: &std::path::Path,
    node_cpu: Option<f64>,
) -> ScaleReport {
    let mut report = ScaleReport {
        clients: SCALE_CLIENTS,
        node_cpu,
        ..ScaleReport::default()
    };
    if options.store == Some(StoreChoice::Sqlite) {
        report.skipped = Some("scale-out runs on PostgreSQL only".into());
        return report;
    }
    let spec = match node_spec(options, binary, Store::Postgres) {
        Ok(spec) => NodeSpec {
            cpu_cap: node_cpu,
            ..spec
        },
        Err(reason) => {
            report.skipped = Some(reason);
            return report;
        }
    };
    if let Err(err) = scale_out_rows(options, &spec, &mut report).await {
        report.error = Some(format!("{err:#}"));
    }
    report
}

async fn scale_out_rows(
    options: &Options,
    spec: &NodeSpec,
    report: &mut ScaleReport,
) -> anyhow::Result<()> {
    let http = crate::load::client(4)?;
    let (mut session, _) = start_session(spec, &http).await?;
    report.transform = Some(session.prepared.transform);
    report.autovacuum = session.database.as_ref().and_then(Database::autovacuum);
    let step = Step {
        clients: SCALE_CLIENTS,
        duration: options.step(),
        drain_timeout: Duration::from_secs(options.drain_timeout),
    };
    scale_out::run(
        &mut session,
        spec,
        &http,
        &options.nodes,
        &step,
        &mut report.rows,
    )
    .await
}
