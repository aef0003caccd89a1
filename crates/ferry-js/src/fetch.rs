//! `fetch` as the caller's side does it: one shared HTTP client, http and https only (checked
//! by the sandbox), the response body read up to the size limit, and a timeout that is the
//! shorter of the code's own and the configured one. The step's deadline needs no timeout
//! here: the sandbox ends the step then, and the caller drops the request. Failures become the
//! message the code's promise is rejected with (`TypeError: fetch GET … failed: …`).

use std::time::Duration;

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
    pub(crate) async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, String> {
        let what = format!("{} {}", request.method, request.url);
        let asked = request.url.clone();
        let timeout = self.timeout_for(&request);
        let sent = self.send(request, timeout).await;
        let response = sent.map_err(|e| failure(&what, &e, timeout))?;
        let mut read = self
            .read(response)
            .await
            .map_err(|e| format!("fetch {what}: {e}"))?;
        read.redirected = read.url != asked;
        Ok(read)
    }

    fn timeout_for(&self, request: &FetchRequest) -> Duration {
        let own = request
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.timeout);
        own.min(self.timeout)
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
            redirected: false,
            headers,
            body,
        })
    }

    fn too_large(&self) -> String {
        format!(
            "the response body is over the limit of {}",
            size_text(self.max_bytes)
        )
    }
}

/// A size in the largest unit that keeps it whole: `50 MiB`, `1 KiB`, `100 bytes`.
pub(crate) fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
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
