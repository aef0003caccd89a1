//! `ferry serve`: settings, logging, the store, the first-start bootstrap, the server, and a
//! clean stop on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ferry_server::bootstrap::{self, BootstrapOptions};
use ferry_server::ServerOptions;
use ferry_store::{Store, StoreOptions};

/// Settings of `ferry serve`; each flag also reads its environment variable.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FERRY_LISTEN", default_value = "127.0.0.1:8420")]
    listen: SocketAddr,
    /// Directory for the embedded database, keys and the bootstrap token.
    #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
    data_dir: PathBuf,
    /// Database: `sqlite://PATH` or `postgres://USER@HOST/DB`; SQLite in the data directory by default.
    #[arg(long, env = "FERRY_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Largest connection pool to the database.
    #[arg(long, env = "FERRY_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    database_max_connections: u32,
    /// The URL callers reach this server at, used in webhook URLs [default: http://<listen>].
    #[arg(long, env = "FERRY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Name of the organization created on first start.
    #[arg(
        long,
        env = "FERRY_ORGANIZATION_NAME",
        default_value = "My Organization"
    )]
    organization_name: String,
    /// Email of the owner created on first start.
    #[arg(long, env = "FERRY_OWNER_EMAIL", default_value = "owner@localhost")]
    owner_email: String,
    /// The master key that seals secrets (base64 of 32 bytes); by default a key file created in
    /// the data directory. Nodes sharing one PostgreSQL database need the same key.
    #[arg(long, env = "FERRY_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Log format.
    #[arg(long, env = "FERRY_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// How many executions this node runs at once; 0 runs no worker (the node only takes
    /// requests).
    #[arg(long, env = "FERRY_WORKER_CONCURRENCY", default_value_t = 32)]
    worker_concurrency: usize,
    /// Seconds a worker's claim on an execution lasts without renewal (renewed every third of
    /// it): how soon another node takes over the executions of a node that died.
    #[arg(long, env = "FERRY_WORKER_LEASE", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    worker_lease: u64,
    /// Longest an execution may run, in seconds.
    #[arg(long, env = "FERRY_EXECUTION_TIME_LIMIT", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    execution_time_limit: u64,
    /// Most memory one JavaScript step may allocate, in MiB: code steps, and custom triggers
    /// and components, whatever the node's roles.
    #[arg(long, env = "FERRY_JS_MEMORY_LIMIT", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(16..=65_536))]
    js_memory_limit: u64,
    /// How many JavaScript steps compute at once on this node, for its worker and, apart, for
    /// its API [default: the machine's cores]. Fewer leaves cores to acknowledging webhooks
    /// under load, at the cost of code steps' throughput (a step waiting for `fetch` or a
    /// timer does not count).
    #[arg(long, env = "FERRY_JS_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..=256))]
    js_concurrency: Option<u16>,
    /// How many code steps each JavaScript thread keeps warm between executions (0: a fresh
    /// context for every step). A step whose instance and code ran before on the thread runs
    /// in that step's context, calling its exported function again, so what the code keeps at
    /// its module's top level lasts from one execution of the instance to the next; nothing
    /// crosses instances.
    #[arg(long, env = "FERRY_JS_KEEP_WARM", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=64))]
    js_keep_warm: u16,
    /// Longest a synchronous webhook waits for its execution's result, in seconds, before
    /// answering 202 with the execution to poll.
    #[arg(long, env = "FERRY_SYNC_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=900))]
    sync_timeout: u64,
    /// Webhook requests per second each endpoint takes on this node (429 with Retry-After
    /// beyond); 0 means no limit.
    #[arg(long, env = "FERRY_WEBHOOK_RATE_LIMIT", default_value_t = 0)]
    webhook_rate_limit: u32,
    /// What this node does, comma-separated: `api` (GraphQL and webhooks), `worker` (runs
    /// executions), `scheduler` (fires schedules). Several nodes on one PostgreSQL database can
    /// split them; every role can run on any number of nodes.
    #[arg(
        long,
        env = "FERRY_ROLE",
        value_enum,
        value_delimiter = ',',
        default_value = "api,worker,scheduler"
    )]
    role: Vec<Role>,
    /// Executions of one organization that run at once, across every node on the store (the
    /// excess stays queued and runs as others end); 0 means no limit.
    #[arg(long, env = "FERRY_ORGANIZATION_CONCURRENCY", default_value_t = 0)]
    organization_concurrency: u32,
    /// Executions of one instance that run at once, across every node on the store (the
    /// excess stays queued and runs as others end); 0 means no limit.
    #[arg(long, env = "FERRY_INSTANCE_CONCURRENCY", default_value_t = 0)]
    instance_concurrency: u32,
    /// Days step results and logs are kept; 0 keeps them forever. An organization's
    /// `retentionDays` overrides it.
    #[arg(long, env = "FERRY_RETENTION_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u64).range(0..=3650))]
    retention_days: u64,
}

impl ServeArgs {
    fn concurrency_limits(&self) -> ferry_store::ConcurrencyLimits {
        ferry_store::ConcurrencyLimits {
            per_organization: (self.organization_concurrency > 0)
                .then_some(self.organization_concurrency),
            per_instance: (self.instance_concurrency > 0).then_some(self.instance_concurrency),
        }
    }

    fn server_options(&self) -> ServerOptions {
        let mut options = ServerOptions {
            public_url: self.public_url.clone(),
            sync_timeout: Duration::from_secs(self.sync_timeout),
            ..ServerOptions::new(self.listen, &self.data_dir)
        };
        options.serve_api = self.role.contains(&Role::Api);
        options.run_scheduler = self.role.contains(&Role::Scheduler);
        if !self.role.contains(&Role::Worker) {
            options.worker = None;
        }
        options.webhook_rate_limit =
            (self.webhook_rate_limit > 0).then_some(self.webhook_rate_limit);
        if let Some(retention) = options.retention.as_mut() {
            retention.keep = (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days * 24 * 3600));
        }
        match options.worker.as_mut() {
            Some(_) if self.worker_concurrency == 0 => options.worker = None,
            Some(worker) => {
                worker.concurrency = self.worker_concurrency;
                worker.lease = Duration::from_secs(self.worker_lease);
                worker.limits.time = Duration::from_secs(self.execution_time_limit);
            }
            None => {}
        }
        options.js.memory_limit_bytes = (self.js_memory_limit as usize) << 20;
        if let Some(cores) = self.js_concurrency {
            options.js.cores = usize::from(cores);
        }
        options.js.keep_warm = usize::from(self.js_keep_warm);
        options
    }
}

/// A node's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// Serves the GraphQL API and webhooks.
    Api,
    /// Runs queued executions.
    Worker,
    /// Fires schedules.
    Scheduler,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let stop_requested = shutdown_signal();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("ferry.db").display()));
    let options = StoreOptions {
        url: url.clone(),
        max_connections: args.database_max_connections,
    };
    let store = Store::open(&options)
        .await
        .with_context(|| format!("cannot open the store at {}", ferry_store::redact(&url)))?;
    tracing::info!(store = store.kind(), url = %ferry_store::redact(&url), "store ready, migrations applied");
    let master_key = bootstrap::master_key(&args.data_dir, args.master_key.as_deref())?;
    if store.kind() == "postgres" && args.master_key.is_none() {
        tracing::warn!("FERRY_MASTER_KEY is not set: every node sharing this database must run with the same key");
    }
    tracing::info!(key = %master_key.id(), "master key loaded");
    let store = store
        .with_sealer(ferry_store::secrets::Sealer::new(&master_key))
        .with_concurrency_limits(args.concurrency_limits());
    let boot = BootstrapOptions {
        organization: args.organization_name.clone(),
        owner_email: args.owner_email.clone(),
    };
    bootstrap::run(&store, &args.data_dir, &boot).await?;
    let server_options = args.server_options();
    match &server_options.worker {
        Some(worker) => {
            tracing::info!(node = %worker.node_id, concurrency = worker.concurrency, "worker runs executions")
        }
        None => tracing::info!("no worker on this node: executions run on other nodes"),
    }
    let handle = ferry_server::start(&server_options, store.clone()).await?;
    let stop = handle.stopper();
    tokio::spawn(async move {
        stop_requested.await;
        tracing::info!("shutting down: finishing in-flight requests");
        stop();
    });
    handle.wait().await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT. The handlers are registered when this is called, not when the
/// future is first polled, so a signal that arrives while the server starts is not lost (nor
/// does it kill the process outright).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (terminate, interrupt) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let line = std::iter::once("serve").chain(args.iter().copied());
        Serve::try_parse_from(line).map(|serve| serve.args)
    }

    fn js_cores(args: &[&str]) -> Option<usize> {
        let options = parse(args).ok()?.server_options();
        Some(options.js.cores)
    }

    #[test]
    fn code_steps_compute_on_every_core_unless_told_otherwise() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(js_cores(&[]), Some(cores));
        assert_eq!(js_cores(&["--js-concurrency", "1"]), Some(1));
    }

    #[test]
    fn a_node_without_the_worker_role_keeps_its_javascript_settings() {
        let args = [
            "--role",
            "api",
            "--js-concurrency",
            "3",
            "--js-memory-limit",
            "64",
        ];
        let options = parse(&args).map(|args| args.server_options());
        let options = options.unwrap_or_else(|e| panic!("{e}"));
        assert!(options.worker.is_none());
        assert_eq!(options.js.cores, 3);
        assert_eq!(options.js.memory_limit_bytes, 64 << 20);
    }

    #[test]
    fn code_steps_given_no_core_are_refused_naming_the_setting() {
        for bad in ["0", "-1", "many"] {
            let flag = format!("--js-concurrency={bad}");
            let error = parse(&[&flag]).err().map(|e| e.to_string());
            let error = error.unwrap_or_default();
            assert!(error.contains("--js-concurrency"), "{bad}: {error}");
        }
    }

    #[test]
    fn contexts_are_kept_warm_only_when_asked_and_within_bounds() {
        let default = parse(&[]).map(|args| args.server_options().js.keep_warm);
        assert_eq!(default.ok(), Some(0));
        let asked = parse(&["--js-keep-warm", "8"]).map(|args| args.server_options().js.keep_warm);
        assert_eq!(asked.ok(), Some(8));
        for bad in ["65", "-1", "many"] {
            let flag = format!("--js-keep-warm={bad}");
            let error = parse(&[&flag]).err().map(|e| e.to_string());
            let error = error.unwrap_or_default();
            assert!(error.contains("--js-keep-warm"), "{bad}: {error}");
        }
    }
}
