//! Sending one request and reading its response: the timeout, the size cap, failures for
//! statuses outside 2xx and for transport errors, and the response as a result.

use std::error::Error as _;

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde_json::{json, Map, Value};

use super::{target, Request};
use crate::run::{binary_value, ActionError, Inputs};

/// The largest response accepted (for a paginated request, all pages together).
pub(super) const MAX_RESPONSE_BYTES: usize = 50 * 1024 * 1024;
/// How much of an error response's body its failure message quotes, in characters.
const QUOTED_CHARS: usize = 500;

/// How the response body becomes the result's `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseType {
    /// Parsed JSON; text when it is not JSON; null when empty.
    Json,
    /// Text (invalid UTF-8 replaced).
    Text,
    /// A binary value with the response's content type.
    Binary,
}

impl ResponseType {
    /// The `responseType` input.
    pub(super) fn from_inputs(inputs: &Inputs) -> Result<Self, ActionError> {
        let Some(name) = inputs.opt_text("responseType")? else {
            return Ok(ResponseType::Json);
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(ResponseType::Json),
            "text" => Ok(ResponseType::Text),
            "binary" => Ok(ResponseType::Binary),
            _ => Err(ActionError::input(
                "responseType",
                format!("`{name}` is not one of json, text or binary"),
            )),
        }
    }
}

/// A response with a 2xx status, read whole.
#[derive(Debug)]
pub(super) struct Page {
    /// Its status.
    pub(super) status: StatusCode,
    /// Its headers.
    pub(super) headers: HeaderMap,
    /// Its body.
    pub(super) body: Vec<u8>,
}

impl Page {
    /// `{ statusCode, headers, data }`.
    pub(super) fn into_result(self, response_type: ResponseType) -> Value {
        json!({
            "statusCode": self.status.as_u16(),
            "headers": self.headers_value(),
            "data": self.data(response_type),
        })
    }

    /// The headers as an object from lower-case name to text (repeated ones joined by `, `).
    pub(super) fn headers_value(&self) -> Value {
        let mut map = Map::new();
        for name in self.headers.keys() {
            let values: Vec<String> = self
                .headers
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .collect();
            map.insert(name.as_str().to_string(), Value::String(values.join(", ")));
        }
        Value::Object(map)
    }

    /// The body as `response_type` says.
    pub(super) fn data(&self, response_type: ResponseType) -> Value {
        match response_type {
            ResponseType::Json => self.json().unwrap_or_else(|| self.text()),
            ResponseType::Text => self.text(),
            ResponseType::Binary => binary_value(&self.body, &self.content_type()),
        }
    }

    /// The body as JSON (null when empty), if it is JSON.
    pub(super) fn json(&self) -> Option<Value> {
        if self.body.trim_ascii().is_empty() {
            return Some(Value::Null);
        }
        serde_json::from_slice(&self.body).ok()
    }

    fn text(&self) -> Value {
        Value::String(String::from_utf8_lossy(&self.body).into_owned())
    }

    fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string()
    }
}

/// Sends `request` to `url` and reads a response of at most `limit` bytes; fails on a status
/// outside 2xx, a transport error, or when `request.timeout` passes first.
pub(super) async fn send(
    client: &reqwest::Client,
    request: &Request,
    url: &Url,
    limit: usize,
) -> Result<Page, ActionError> {
    let exchange = async {
        let builder = client.request(request.method.clone(), url.clone());
        let builder = request.body.attach(builder, &request.headers)?;
        let response = builder
            .send()
            .await
            .map_err(|error| transport_error(request, url, error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response, request, url, limit).await?;
        Ok(Page {
            status,
            headers,
            body,
        })
    };
    let page = tokio::time::timeout(request.timeout, exchange)
        .await
        .map_err(|_| ActionError::TimedOut(request.timeout))??;
    if !page.status.is_success() {
        return Err(status_error(request, url, &page));
    }
    Ok(page)
}

async fn read_body(
    mut response: reqwest::Response,
    request: &Request,
    url: &Url,
    limit: usize,
) -> Result<Vec<u8>, ActionError> {
    let too_large = || {
        ActionError::Failed(format!(
            "{} {}: the response is larger than the {} MB limit{}",
            request.method,
            target::shown(url),
            MAX_RESPONSE_BYTES / (1024 * 1024),
            if limit < MAX_RESPONSE_BYTES {
                " for all pages together"
            } else {
                ""
            },
        ))
    };
    let announced = response.content_length().unwrap_or(0);
    if usize::try_from(announced).map_or(true, |length| length > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(request, url, error))?
    {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The failure for a status outside 2xx, quoting the start of the body.
fn status_error(request: &Request, url: &Url, page: &Page) -> ActionError {
    let body = String::from_utf8_lossy(&page.body);
    let body = body.trim();
    let mut quoted: String = body.chars().take(QUOTED_CHARS).collect();
    if quoted.len() < body.len() {
        quoted.push('…');
    }
    if quoted.is_empty() {
        quoted = "(empty body)".to_string();
    }
    ActionError::Failed(format!(
        "{} {} answered {}: {quoted}",
        request.method,
        target::shown(url),
        page.status
    ))
}

/// The failure for an error from the HTTP client, with its causes but not the URL's query.
fn transport_error(request: &Request, url: &Url, error: reqwest::Error) -> ActionError {
    if error.is_timeout() {
        return ActionError::TimedOut(request.timeout);
    }
    let what = if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "could not follow a redirect"
    } else if error.is_body() || error.is_decode() {
        "could not read the response"
    } else {
        "the request failed"
    };
    let error = error.without_url();
    let mut causes = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.contains(&text) {
            causes.push_str(": ");
            causes.push_str(&text);
        }
        source = cause.source();
    }
    ActionError::Failed(format!(
        "{} {}: {what} ({causes})",
        request.method,
        target::shown(url)
    ))
}
