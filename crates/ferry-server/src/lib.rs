//! Ferry's HTTP server: the GraphQL API at `/api`, `/healthz`, `/metrics`, and the first-start
//! bootstrap; it runs the engine's scheduler beside it.
//!
//! One recipe, as in the rest of Ferry: [`ServerOptions`] say what to run, [`start`] runs it
//! and gives back a [`Handle`] to learn the bound address, stop it and wait for it.
//!
//! The GraphQL layer ([`graphql`]) turns requests into store calls: it authenticates the
//! caller ([`auth`]), checks the role's permissions, decodes ids and inputs, and writes
//! results in the API's shapes. Tenancy (which rows a caller may see) is the store's.
#![deny(missing_docs)]

pub mod auth;
pub mod bootstrap;
mod error;
pub mod graphql;
mod http;
pub mod metrics;
pub mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::retention::{Pruner, RetentionOptions};
use ferry_engine::signals::Signals;
use ferry_engine::worker::{Dispatch, Worker, WorkerOptions};
use ferry_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::ServerError;

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The address to listen on (`127.0.0.1:8420` by default).
    pub listen: SocketAddr,
    /// Where the embedded store and the bootstrap token live.
    pub data_dir: PathBuf,
    /// The largest request body accepted on `/api`, in bytes.
    pub max_api_body_bytes: usize,
    /// The URL callers reach this server at, for webhook URLs; `http://<bound address>` when
    /// not set.
    pub public_url: Option<String>,
    /// How long a synchronous webhook waits for its execution's result.
    pub sync_timeout: std::time::Duration,
    /// The worker this node runs, if any (`None`: this node only takes requests).
    pub worker: Option<WorkerOptions>,
    /// How this node sandboxes JavaScript (memory limit per step, how many compute at once,
    /// `fetch` limits): its worker's code steps, and its API's custom triggers and components,
    /// whatever its roles.
    pub js: ferry_js::JsOptions,
    /// How long step results and logs are kept (`None`: forever).
    pub retention: Option<RetentionOptions>,
    /// Webhook requests per second allowed per endpoint on this node (`None`: no limit).
    pub webhook_rate_limit: Option<u32>,
    /// Whether this node serves `/api` and `/trigger` (the `api` role); `/healthz` and
    /// `/metrics` are always served.
    pub serve_api: bool,
    /// Whether this node fires schedules (the `scheduler` role).
    pub run_scheduler: bool,
}

impl ServerOptions {
    /// Defaults for everything but the address and data directory.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen,
            data_dir: data_dir.into(),
            max_api_body_bytes: 1024 * 1024,
            public_url: None,
            sync_timeout: webhook::respond::DEFAULT_SYNC_TIMEOUT,
            worker: Some(WorkerOptions::new(node_id())),
            js: ferry_js::JsOptions::default(),
            retention: Some(RetentionOptions::default()),
            webhook_rate_limit: None,
            serve_api: true,
            run_scheduler: true,
        }
    }
}

/// A name for this node in leases: host, process and a random suffix.
pub fn node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ferry".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

/// What every request handler shares: one reference, since axum clones the state for each
/// request (cloning every part, a `Store` and the public URL among them, cost about 1 % of a
/// loaded server's samples).
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) schema: graphql::FerrySchema,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) max_api_body_bytes: usize,
    pub(crate) public_url: String,
    pub(crate) definitions: Arc<ferry_engine::definitions::Definitions>,
    pub(crate) signals: Arc<Signals>,
    /// Where webhooks queue executions (straight to this node's worker when it has room).
    pub(crate) dispatch: Dispatch,
    pub(crate) sync_timeout: std::time::Duration,
    pub(crate) rate_limit: Option<Arc<webhook::limit::RateLimiter>>,
    /// Sandboxes for custom triggers.
    pub(crate) js: Arc<ferry_js::JsRuntime>,
}

/// A running server.
pub struct Handle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Handle {
    /// The address the server is bound to (useful when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, lets in-flight ones finish, and waits for the server to end.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server ends (after [`Handle::shutdown`] or a failure).
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .map_err(|e| ServerError::Task(e.to_string()))?
    }

    /// A function that asks the server to stop, for signal handlers.
    pub fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let stop = self.stop.clone();
        move || {
            let _ = stop.send(true);
        }
    }
}

/// The sandboxes this node uses outside executions (custom components' manifests, triggers and
/// hooks): the node's limits, with fewer threads.
fn api_js_options(options: &ServerOptions) -> ferry_js::JsOptions {
    let mut js = options.js.clone();
    js.max_runtimes = js.max_runtimes.clamp(1, 4);
    js
}

fn public_url(options: &ServerOptions, addr: SocketAddr) -> String {
    match &options.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    }
}

/// Binds `options.listen` and serves `store` until stopped, firing due schedules meanwhile.
pub async fn start(options: &ServerOptions, store: Store) -> Result<Handle, ServerError> {
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: options.listen,
        source,
    })?;
    let metrics = Arc::new(metrics::Metrics::new());
    let signals = Arc::new(Signals::default());
    let definitions = Arc::new(ferry_engine::definitions::Definitions::default());
    let js = Arc::new(ferry_js::JsRuntime::new(api_js_options(options)));
    let api = graphql::Api {
        js: js.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        public_url: public_url(options, addr),
        definitions: definitions.clone(),
        signals: signals.clone(),
    };
    let (stop, mut stopped) = watch::channel(false);
    let mut dispatch = Dispatch::queue_only(store.clone(), signals.clone());
    let worker = options.worker.clone().map(|worker_options| {
        let worker = Worker::new(
            store.clone(),
            definitions.clone(),
            signals.clone(),
            worker_options,
        )
        .with_js(options.js.clone())
        .with_observer(metrics.clone());
        dispatch = worker.dispatch();
        tokio::spawn(worker.run(stop.subscribe()))
    });
    let state = AppState(Arc::new(Shared {
        js,
        schema: graphql::schema(api),
        public_url: public_url(options, addr),
        store,
        metrics,
        definitions,
        signals,
        dispatch,
        sync_timeout: options.sync_timeout,
        rate_limit: options
            .webhook_rate_limit
            .map(|rate| Arc::new(webhook::limit::RateLimiter::new(rate))),
        max_api_body_bytes: options.max_api_body_bytes,
    }));
    let scheduler = options.run_scheduler.then(|| {
        let scheduler = ferry_engine::scheduler::Scheduler::new(state.store.clone());
        tokio::spawn(scheduler.run(stop.subscribe()))
    });
    let pruner = options.retention.clone().map(|retention| {
        tokio::spawn(Pruner::new(state.store.clone(), retention).run(stop.subscribe()))
    });
    let router = http::router(state, options.serve_api);
    let stop_all = stop.clone();
    let task = tokio::spawn(async move {
        let until_stopped = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(until_stopped)
            .await
            .map_err(ServerError::Serve);
        if served.is_err() {
            let _ = stop_all.send(true); // Stop the worker and the scheduler too.
        }
        // Both end on the stop signal, after the work under way.
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(scheduler) = scheduler {
            let _ = scheduler.await;
        }
        if let Some(pruner) = pruner {
            let _ = pruner.await;
        }
        served
    });
    tracing::info!(%addr, "listening");
    Ok(Handle { addr, stop, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_sandboxes_follow_the_node_settings_with_or_without_a_worker() {
        let mut options = ServerOptions::new(([127, 0, 0, 1], 0).into(), "unused");
        options.js.memory_limit_bytes = 64 << 20;
        options.js.cores = 3;
        options.js.max_runtimes = 32;
        for worker in [true, false] {
            if !worker {
                options.worker = None;
            }
            let api = api_js_options(&options);
            assert_eq!(api.memory_limit_bytes, 64 << 20, "worker: {worker}");
            assert_eq!(api.cores, 3, "worker: {worker}");
            assert_eq!(api.max_runtimes, 4, "fewer threads outside executions");
        }
    }
}
