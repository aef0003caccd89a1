//! Prometheus metrics, served at `/metrics`: HTTP requests by route and status, request
//! latency by route, store failures, and executions ended by status with their durations.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    store_errors: Counter,
    executions: Family<StatusLabels, Counter>,
    execution_duration: Histogram,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let store_errors = Counter::default();
        let executions = Family::<StatusLabels, Counter>::default();
        // 1 ms to about 70 minutes.
        let execution_duration = Histogram::new(exponential_buckets(0.001, 4.0, 12));
        registry.register(
            "ferry_executions",
            "Executions ended, by status",
            executions.clone(),
        );
        registry.register(
            "ferry_execution_duration_seconds",
            "Time from an execution's start to its end",
            execution_duration.clone(),
        );
        registry.register(
            "ferry_http_requests",
            "HTTP requests answered",
            requests.clone(),
        );
        registry.register(
            "ferry_http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "ferry_store_errors",
            "Store operations that failed in the database",
            store_errors.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            store_errors,
            executions,
            execution_duration,
        }
    }

    /// Records one answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let route = route.to_string();
        let method = method.to_string();
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// Records a store failure.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl ferry_engine::worker::Observer for Metrics {
    fn execution_ended(&self, status: ferry_core::execution::ExecutionStatus, took: Duration) {
        let status = status.as_str().to_string();
        self.executions
            .get_or_create(&StatusLabels { status })
            .inc();
        self.execution_duration.observe(took.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
