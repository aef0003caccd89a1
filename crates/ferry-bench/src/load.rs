//! The closed-loop load generator: N client tasks, each posting the body back to back over a
//! shared keep-alive client until the step's time is up, recording every answer's latency in
//! an HDR histogram and, for asynchronous webhooks, the execution id it acknowledged.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Serialize;

/// What to send.
#[derive(Clone)]
pub struct Target {
    /// Client `i` posts to `urls[i % urls.len()]` (one per node in scale-out).
    pub urls: Vec<String>,
    pub body: Bytes,
    /// Sends `ferry-synchronous: true`.
    pub synchronous: bool,
}

/// One step's outcome.
pub struct Outcome {
    pub acknowledged: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of acknowledged requests, microseconds.
    pub latency: Histogram<u64>,
    pub elapsed: Duration,
    /// Distinct execution ids acknowledged (asynchronous only).
    pub distinct_ids: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentiles(&self) -> Percentiles {
        percentiles(&self.latency)
    }
}

pub fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    let ms = |micros: u64| micros as f64 / 1000.0;
    Percentiles {
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    }
}

/// A histogram of microseconds from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// A keep-alive client for the load: no proxy, no timeout shorter than a sync wait.
pub fn client(clients: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(clients.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the load client")
}

/// Drives `target` with `clients` closed-loop clients for `duration`.
pub async fn drive(target: &Target, clients: usize, duration: Duration) -> anyhow::Result<Outcome> {
    let http = client(clients)?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let url = target.urls[i % target.urls.len()].clone();
        let task = ClientTask {
            http: http.clone(),
            url,
            body: target.body.clone(),
            synchronous: target.synchronous,
        };
        tasks.push(tokio::spawn(task.run(deadline)));
    }
    let mut outcome = Outcome {
        acknowledged: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
        elapsed: Duration::ZERO,
        distinct_ids: 0,
    };
    let mut ids = HashSet::new();
    for task in tasks {
        let tally = task.await.context("a load client panicked")?;
        outcome.acknowledged += tally.acknowledged;
        outcome.errors += tally.errors;
        outcome.first_error = outcome.first_error.or(tally.first_error);
        outcome.latency.add(&tally.latency)?;
        ids.extend(tally.ids);
    }
    outcome.elapsed = started.elapsed();
    outcome.distinct_ids = ids.len() as u64;
    Ok(outcome)
}

struct ClientTask {
    http: reqwest::Client,
    url: String,
    body: Bytes,
    synchronous: bool,
}

struct Tally {
    acknowledged: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
    ids: Vec<String>,
}

impl ClientTask {
    async fn run(self, deadline: Instant) -> Tally {
        let mut tally = Tally {
            acknowledged: 0,
            errors: 0,
            first_error: None,
            latency: histogram(),
            ids: Vec::new(),
        };
        while Instant::now() < deadline {
            let sent = Instant::now();
            match self.send().await {
                Ok(id) => {
                    let micros = sent.elapsed().as_micros() as u64;
                    tally.latency.saturating_record(micros.max(1));
                    tally.acknowledged += 1;
                    tally.ids.extend(id);
                }
                Err(err) => {
                    tally.errors += 1;
                    tally.first_error.get_or_insert_with(|| format!("{err:#}"));
                }
            }
        }
        tally
    }

    /// One request; gives the acknowledged execution id (asynchronous calls).
    async fn send(&self) -> anyhow::Result<Option<String>> {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone());
        if self.synchronous {
            request = request.header("ferry-synchronous", "true");
        }
        let response = request.send().await?;
        let status = response.status();
        let id = response
            .headers()
            .get("ferry-executionid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await?;
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&body);
            anyhow::bail!(
                "HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            );
        }
        if self.synchronous {
            return Ok(None);
        }
        id.map(Some)
            .context("acknowledged without a ferry-executionid header")
    }
}
