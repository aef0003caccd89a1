//! `fetch` as the caller's side does it: one shared HTTP client, http and https only, the
//! response body read up to the size limit, and a timeout that is the shortest of the code's
//! own, the configured one and what is left before the step's deadline. Failures become the
//! message the code's promise is rejected with (`TypeError: fetch failed: …` in JavaScript).

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::channel::{FetchRequest, FetchResponse};
use crate::JsOptions;

/// Makes the HTTP requests of every step of one runtime.
pub(crate) struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(options: &JsOptions) -> Self {
        Fetcher {
            client: reqwest::Client::new(),
            timeout: options.fetch_timeout,
            max_bytes: options.max_fetch_bytes,
        }
    }

    /// Sends `request` and reads its response, or says why not.
    pub(crate) async fn fetch(
        &self,
        request: FetchRequest,
        deadline: Instant,
    ) -> Result<FetchResponse, String> {
        let what = format!("{} {}", request.method, request.url);
        let timeout = self.timeout_for(&request, deadline);
        let sent = self.send(request, timeout).await;
        let response = sent.map_err(|e| failure(&what, &e, timeout))?;
        self.read(response)
            .await
            .map_err(|e| format!("fetch {what}: {e}"))
    }

    fn timeout_for(&self, request: &FetchRequest, deadline: Instant) -> Duration {
        let left = deadline.saturating_duration_since(Instant::now());
        let own = request
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.timeout);
        own.min(self.timeout).min(left)
    }

    async fn send(
        &self,
        request: FetchRequest,
        timeout: Duration,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self
            .client
            .request(method, &request.url)
            .headers(header_map(&request.headers))
            .timeout(timeout);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        builder.send().await
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<FetchResponse, String> {
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(self.too_large());
        }
        let status = response.status();
        let url = response.url().to_string();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), text)
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| chain(&e))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_string(),
            url,
            headers,
            body,
        })
    }

    fn too_large(&self) -> String {
        format!(
            "the response body is over the limit of {} MiB",
            self.max_bytes / (1024 * 1024)
        )
    }
}

/// The headers the sandbox checked (names and values it could not make valid are dropped).
fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    map
}

fn failure(what: &str, error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("fetch {what} timed out after {} ms", timeout.as_millis());
    }
    format!("fetch {what} failed: {}", chain(error))
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
